import type { InputProblem } from '../errors';

/**
 * What intake did with one event for one endpoint. Every trigger reports
 * these, so logs, webhook answers and tests speak the same words.
 */
export type IntakeOutcome =
  /** A new release orchestration was started. */
  | { outcome: 'started'; endpoint: string; releaseId: string; releaseKey: string }
  /** The release already exists (running or finished); nothing was started. */
  | { outcome: 'duplicate'; endpoint: string; releaseId: string; releaseKey: string; runtimeStatus: string; phase?: string }
  /** A registry push of an image that a release built; recorded on that release. */
  | { outcome: 'recorded'; endpoint: string; releaseId: string; digest: string }
  /** Valid input that starts nothing, with the reason. */
  | { outcome: 'ignored'; reason: string; endpoint?: string }
  /** Invalid input; the problems say which field was wrong and what to send. */
  | { outcome: 'rejected'; reason: string; problems: InputProblem[] };

export type StartedOrDuplicate = Extract<IntakeOutcome, { outcome: 'started' | 'duplicate' }>;

export function ignored(reason: string, endpoint?: string): IntakeOutcome {
  return endpoint === undefined ? { outcome: 'ignored', reason } : { outcome: 'ignored', reason, endpoint };
}

export function rejected(reason: string, problems: InputProblem[] = []): IntakeOutcome {
  return { outcome: 'rejected', reason, problems };
}

/** Builds a rejection for one field. */
export function rejectedField(field: string, problem: string, expected: string): IntakeOutcome {
  return { outcome: 'rejected', reason: `${field}: ${problem}`, problems: [{ field, problem, expected }] };
}
