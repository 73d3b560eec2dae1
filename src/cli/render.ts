import type { AnalysisSummary, ReleaseStatus } from '../contracts/phases';

/** Draws the traffic steps as a bar: filled up to the current canary weight, with the step count. */
export function progressBar(status: Pick<ReleaseStatus, 'step' | 'totalSteps' | 'canaryWeight'>, width = 30): string {
  const filled = Math.round((Math.min(100, Math.max(0, status.canaryWeight)) / 100) * width);
  const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
  const step = status.step < 0 ? 0 : status.step + 1;
  return `[${bar}] ${String(status.canaryWeight).padStart(3)} % canary, step ${step}/${status.totalSteps}`;
}

function number(value: number | undefined): string {
  if (value === undefined) return 'n/a';
  if (!Number.isFinite(value)) return String(value);
  return Number.isInteger(value) ? String(value) : value.toPrecision(4);
}

/** Formats one analysis as a line: step, weight, verdict, then each check with its value and limit. */
export function analysisLine(analysis: AnalysisSummary): string {
  const checks = analysis.checks.map((c) => `${c.name} ${number(c.value)} (${c.threshold}) ${c.outcome}${c.detail && c.outcome !== 'pass' ? `: ${c.detail}` : ''}`);
  return `analysis step ${analysis.step + 1} at ${analysis.weight} %: ${analysis.verdict.toUpperCase()} - ${checks.join('; ')}`;
}

/** Formats the closing summary of a finished release. */
export function summary(status: ReleaseStatus, startedAt?: string): string[] {
  const lines = [`release ${status.releaseId} ended ${status.phase}`, `  endpoint: ${status.endpoint}`];
  if (status.image) lines.push(`  image: ${status.image}`);
  if (status.stableOrigin) lines.push(`  stable: ${status.stableOrigin}`);
  lines.push(`  steps: ${status.step + 1}/${status.totalSteps}, failed checks: ${status.failedChecks}`);
  if (status.lastAnalysis) lines.push(`  last ${analysisLine(status.lastAnalysis)}`);
  if (status.reason) lines.push(`  reason: ${status.reason}`);
  if (startedAt) {
    const seconds = (Date.parse(status.updatedAt) - Date.parse(startedAt)) / 1000;
    if (Number.isFinite(seconds) && seconds >= 0) lines.push(`  duration: ${seconds.toFixed(0)} s`);
  }
  return lines;
}

/**
 * Tracks what `watch` has printed and returns only the new lines for a
 * status: a phase change, a new weight, a new analysis.
 */
export class WatchRenderer {
  private phase: string | undefined;
  private weight: number | undefined;
  private analysisAt: string | undefined;
  private reason: string | undefined;

  update(status: ReleaseStatus): string[] {
    const lines: string[] = [];
    // An analysis comes before the phase change or weight change that it caused.
    if (status.lastAnalysis && status.lastAnalysis.at !== this.analysisAt) {
      lines.push(analysisLine(status.lastAnalysis));
      this.analysisAt = status.lastAnalysis.at;
    }
    if (status.phase !== this.phase) {
      lines.push(`phase ${status.phase}${status.reason ? ` - ${status.reason}` : ''}`);
      this.phase = status.phase;
      this.reason = status.reason;
    } else if (status.reason && status.reason !== this.reason) {
      lines.push(`  ${status.reason}`);
      this.reason = status.reason;
    }
    if (status.canaryWeight !== this.weight && (status.step >= 0 || this.weight !== undefined)) {
      lines.push(progressBar(status));
      this.weight = status.canaryWeight;
    }
    return lines;
  }
}
