import type { AnalysisSummary } from '../contracts/phases';
import type { CheckQuery } from './queries';

/** What a query returned: sample values (possibly none), or why it could not run. */
export type QueryResult = { kind: 'values'; values: number[] } | { kind: 'query-failed'; error: string };

export type CheckOutcome = AnalysisSummary['checks'][number];

/**
 * Judges one check. An empty result or NaN (for example 0/0 when the canary
 * served nothing) is "no data", a failed query is "query-failed"; only a
 * measured value outside its limits is "fail". With several series the worst
 * one decides.
 */
export function evaluateCheck(check: CheckQuery, result: QueryResult): CheckOutcome {
  const base = { name: check.name, threshold: check.threshold };
  if (result.kind === 'query-failed') return { ...base, outcome: 'query-failed', detail: result.error };

  const values = result.values.filter((v) => !Number.isNaN(v));
  if (values.length === 0) {
    const detail = result.values.length === 0 ? 'the query returned no series' : 'the query returned NaN';
    return { ...base, outcome: 'no-data', detail };
  }

  const failing = values.find((v) => outside(v, check));
  if (failing !== undefined) return { ...base, outcome: 'fail', value: failing };
  const worst = check.max !== undefined ? Math.max(...values) : Math.min(...values);
  return { ...base, outcome: 'pass', value: worst };
}

function outside(value: number, check: CheckQuery): boolean {
  if (check.min !== undefined && value < check.min) return true;
  if (check.max !== undefined && value > check.max) return true;
  return false;
}

/** Overall verdict: any failed check fails; otherwise any check without an answer is inconclusive. */
export function verdictOf(checks: readonly CheckOutcome[]): AnalysisSummary['verdict'] {
  if (checks.some((c) => c.outcome === 'fail')) return 'fail';
  if (checks.some((c) => c.outcome === 'no-data' || c.outcome === 'query-failed')) return 'inconclusive';
  return 'pass';
}

/** Builds the analysis summary of one step from its check outcomes. */
export function summarise(input: { step: number; weight: number; at: string; checks: CheckOutcome[] }): AnalysisSummary {
  return { step: input.step, weight: input.weight, verdict: verdictOf(input.checks), checks: input.checks, at: input.at };
}
