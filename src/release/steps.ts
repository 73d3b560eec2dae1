import type { AnalysisSummary } from '../contracts/phases';

/** What the orchestrator does after an analysis. */
export type StepDecision =
  | { kind: 'next-step'; step: number; weight: number }
  | { kind: 'gate' }
  | { kind: 'promote' }
  | { kind: 'pause'; reason: string }
  | { kind: 'rollback'; reason: string };

export interface StepContext {
  /** Index of the step just analysed (0-based). */
  step: number;
  steps: readonly number[];
  /** Failed checks so far, this analysis included. */
  failedChecks: number;
  maxFailedChecks: number;
  onInconclusive: 'pause' | 'rollback' | 'continue';
  approvalRequired: boolean;
}

/** Counts the checks of an analysis whose outcome is `fail`; no data and failed queries are not failed checks. */
export function failedCheckCount(analysis: AnalysisSummary): number {
  return analysis.checks.filter((c) => c.outcome === 'fail').length;
}

/** Describes every failed check with its value and limit, for the rollback reason. */
export function failureReason(analysis: AnalysisSummary): string {
  const failed = analysis.checks.filter((c) => c.outcome === 'fail');
  const parts = failed.map((c) => `${c.name} ${formatValue(c.value)} outside ${c.threshold}${c.detail ? ` (${c.detail})` : ''}`);
  return `canary analysis failed at step ${analysis.step + 1} (${analysis.weight} % traffic): ${parts.join('; ')}`;
}

/** Describes the checks that gave no answer. */
export function inconclusiveReason(analysis: AnalysisSummary): string {
  const open = analysis.checks.filter((c) => c.outcome === 'no-data' || c.outcome === 'query-failed');
  const parts = open.map((c) => `${c.name}: ${c.outcome}${c.detail ? ` (${c.detail})` : ''}`);
  return `canary analysis inconclusive at step ${analysis.step + 1} (${analysis.weight} % traffic): ${parts.join('; ')}`;
}

function formatValue(value: number | undefined): string {
  if (value === undefined) return 'n/a';
  return Number.isInteger(value) ? String(value) : value.toPrecision(4);
}

/**
 * Decides what follows an analysis: roll back once failed checks reach the
 * threshold, handle an inconclusive result as policy says, otherwise move to
 * the next step, and after the last step go to the gate or promote.
 */
export function decideAfterAnalysis(analysis: AnalysisSummary, ctx: StepContext): StepDecision {
  if (ctx.failedChecks >= ctx.maxFailedChecks) {
    return { kind: 'rollback', reason: `${failureReason(analysis)}; ${ctx.failedChecks} failed check(s) reached the limit of ${ctx.maxFailedChecks}` };
  }
  if (analysis.verdict === 'inconclusive') {
    if (ctx.onInconclusive === 'rollback') return { kind: 'rollback', reason: inconclusiveReason(analysis) };
    if (ctx.onInconclusive === 'pause') return { kind: 'pause', reason: inconclusiveReason(analysis) };
  }
  return afterPassedStep(ctx);
}

/** Next step, gate or promote once the step at `ctx.step` passed. */
export function afterPassedStep(ctx: Pick<StepContext, 'step' | 'steps' | 'approvalRequired'>): StepDecision {
  const next = ctx.step + 1;
  const weight = ctx.steps[next];
  if (weight !== undefined) return { kind: 'next-step', step: next, weight };
  return ctx.approvalRequired ? { kind: 'gate' } : { kind: 'promote' };
}

/** Seconds to wait after a weight change before analysing: at least the query window, so it holds only traffic at the new weight. */
export function bakeSeconds(bake: number, windowSeconds: number): number {
  return Math.max(bake, windowSeconds);
}
