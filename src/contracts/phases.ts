/**
 * Phases of a release, in the order a healthy release passes them. The
 * orchestration writes the current phase into its custom status; the release
 * API and the CLI read it from there.
 */
export type ReleasePhase =
  /** Accepted and waiting for the endpoint's running release to finish. */
  | 'Queued'
  /** Reading the model version and checking the target cluster. */
  | 'Validating'
  /** Building the serving image in ACR, or verifying a pushed image. */
  | 'Building'
  /** Creating the canary Deployment and waiting until it is ready. */
  | 'Deploying'
  /** Moving traffic to the canary step by step, baking and analysing after each. */
  | 'Progressing'
  /** Waiting for a person: approval gate, or an inconclusive analysis the policy pauses on. */
  | 'AwaitingApproval'
  /** Moving the new image to stable and traffic back to 100 % stable. */
  | 'Promoting'
  /** Moving traffic back to stable and removing the canary. */
  | 'RollingBack'
  /** Terminal: stable runs the new image. */
  | 'Succeeded'
  /** Terminal: the canary was removed and stable kept the old image. */
  | 'RolledBack'
  /** Terminal: validation refused the release before anything was deployed. */
  | 'Rejected'
  /** Terminal: an unrecoverable error. The reason names what a person must check. */
  | 'Failed'
  /** Terminal: a newer request for the same endpoint replaced this queued one. */
  | 'Superseded';

export const terminalPhases: readonly ReleasePhase[] = ['Succeeded', 'RolledBack', 'Rejected', 'Failed', 'Superseded'];

/** Manual actions on a running release; each is raised as an external event of the same name. */
export type ReleaseAction = 'approve' | 'reject' | 'promote' | 'rollback' | 'abort';
export const releaseActions: readonly ReleaseAction[] = ['approve', 'reject', 'promote', 'rollback', 'abort'];

/** Payload of every manual-action external event. */
export interface ReleaseActionEvent {
  action: ReleaseAction;
  actor: import('./release').Actor;
  reason?: string;
  /** ISO time at which the API accepted the action. */
  requestedAt: string;
}

/** Phases in which each action is allowed; in any other phase the API returns 409 with the reason. */
export const actionPhases: Record<ReleaseAction, readonly ReleasePhase[]> = {
  approve: ['AwaitingApproval'],
  reject: ['AwaitingApproval'],
  promote: ['Deploying', 'Progressing', 'AwaitingApproval'],
  rollback: ['Deploying', 'Progressing', 'AwaitingApproval'],
  abort: ['Queued', 'Validating', 'Building', 'Deploying', 'Progressing', 'AwaitingApproval'],
};

/** Returns undefined when the action is allowed in the phase, or the reason it is not. */
export function actionRefusal(action: ReleaseAction, phase: ReleasePhase): string | undefined {
  if (actionPhases[action].includes(phase)) return undefined;
  return `cannot ${action} a release in phase ${phase}: ${action} is allowed only in ${actionPhases[action].join(', ')}`;
}

/** Verdict of one canary analysis. */
export interface AnalysisSummary {
  step: number;
  weight: number;
  verdict: 'pass' | 'fail' | 'inconclusive';
  /** One entry per check, with the measured value and its threshold. */
  checks: { name: string; outcome: 'pass' | 'fail' | 'no-data' | 'query-failed'; value?: number; threshold: string; detail?: string }[];
  at: string;
}

/** Custom status of a release orchestration; always complete, so readers derive nothing. */
export interface ReleaseStatus {
  releaseId: string;
  releaseKey: string;
  endpoint: string;
  phase: ReleasePhase;
  /** Percent of traffic on the canary now. */
  canaryWeight: number;
  /** Index into the policy's traffic steps (0-based), -1 before the first step. */
  step: number;
  totalSteps: number;
  failedChecks: number;
  lastAnalysis?: AnalysisSummary;
  /** Image by digest that this release rolls out, once known. */
  image?: string;
  /** Origin of the endpoint's stable Deployment on its first release. */
  stableOrigin?: 'existing' | 'adopted' | 'deployed';
  reason?: string;
  updatedAt: string;
}
