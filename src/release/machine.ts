import type { ReleasePhase } from '../contracts/phases';
import { terminalPhases } from '../contracts/phases';

/**
 * What happened to a release. The orchestrator reports each signal and
 * `transition` decides the next phase, so the whole state machine is one table.
 */
export type ReleaseSignal =
  /** The ledger gave this release the endpoint. */
  | 'granted'
  /** A newer request for the endpoint replaced this queued one. */
  | 'superseded'
  /** The model version and the target passed validation. */
  | 'validated'
  /** Validation or planning refused the release. */
  | 'invalid'
  /** The image by digest is known. */
  | 'imageReady'
  /** The canary Deployment is ready. */
  | 'canaryReady'
  /** The release waits for a person: approval gate or a paused inconclusive analysis. */
  | 'awaitPerson'
  /** A person let a paused analysis continue. */
  | 'resume'
  /** Every step passed without a gate, approval given, a manual promote, or an approval timeout whose policy promotes. */
  | 'promote'
  /** Failed analysis, rejection, timeout, manual rollback, deadline or an error after deployment. */
  | 'rollback'
  /** Abort before anything was deployed. */
  | 'abort'
  /** Stable runs the new image and takes all traffic. */
  | 'promoted'
  /** Traffic is back on stable and the canary is gone. */
  | 'rolledBack'
  /** An unrecoverable error; from RollingBack it records that the release failed after its rollback. */
  | 'failed';

/** Phases that a signal may leave, and where it leads. */
const table: Record<ReleaseSignal, { from: readonly ReleasePhase[]; to: ReleasePhase }> = {
  granted: { from: ['Queued'], to: 'Validating' },
  superseded: { from: ['Queued'], to: 'Superseded' },
  validated: { from: ['Validating'], to: 'Building' },
  invalid: { from: ['Queued', 'Validating', 'Building'], to: 'Rejected' },
  imageReady: { from: ['Building'], to: 'Deploying' },
  canaryReady: { from: ['Deploying'], to: 'Progressing' },
  awaitPerson: { from: ['Progressing'], to: 'AwaitingApproval' },
  resume: { from: ['AwaitingApproval'], to: 'Progressing' },
  promote: { from: ['Deploying', 'Progressing', 'AwaitingApproval'], to: 'Promoting' },
  rollback: { from: ['Deploying', 'Progressing', 'AwaitingApproval', 'Promoting'], to: 'RollingBack' },
  abort: { from: ['Queued', 'Validating', 'Building'], to: 'RolledBack' },
  promoted: { from: ['Promoting'], to: 'Succeeded' },
  rolledBack: { from: ['RollingBack'], to: 'RolledBack' },
  failed: { from: ['Queued', 'Validating', 'Building', 'Deploying', 'Progressing', 'AwaitingApproval', 'Promoting', 'RollingBack'], to: 'Failed' },
};

export type TransitionResult = { ok: true; phase: ReleasePhase } | { ok: false; reason: string };

/** Returns the phase that follows `phase` on `signal`, or why the signal is not allowed there. */
export function transition(phase: ReleasePhase, signal: ReleaseSignal): TransitionResult {
  const rule = table[signal];
  if (rule.from.includes(phase)) return { ok: true, phase: rule.to };
  return { ok: false, reason: `signal ${signal} is not allowed in phase ${phase}: it applies only in ${rule.from.join(', ')}` };
}

/** True for phases that end a release. */
export function isTerminal(phase: ReleasePhase): boolean {
  return terminalPhases.includes(phase);
}

/** Signals the state machine knows, for table tests. */
export const releaseSignals = Object.keys(table) as ReleaseSignal[];
