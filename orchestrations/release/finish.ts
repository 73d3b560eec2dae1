import { clusterActivities } from '../../activities/clusterContract';
import type { ModelVersionState } from '../../activities/releaseContract';
import { releaseActivities } from '../../activities/releaseContract';
import { ledgerOperations } from '../../src/contracts/ledger';
import type { UpdateResult } from '../../src/entities/ledgerState';
import type { ReleasePlan } from '../../src/release/plan';
import type { Step } from './call';
import { callActivity } from './call';
import { waitUntilReady } from './canary';
import type { ReleaseRun } from './run';

function* tagModel(run: ReleaseRun, plan: ReleasePlan, state: ModelVersionState, reason?: string): Step<void> {
  const model = run.request.model;
  if (!model) return;
  yield* callActivity(run.context, releaseActivities.tagModelVersion, { releaseId: plan.releaseId, model, state, ...(reason ? { reason } : {}) });
}

/**
 * Moves stable to the new image, waits until it is ready, then returns all
 * traffic to stable and removes the canary. Stable that does not become ready
 * ends the release Failed with the canary left serving, because sending all
 * traffic to an unready stable would drop requests.
 */
export function* promoteRelease(run: ReleaseRun, plan: ReleasePlan, image: string, why: string): Step<void> {
  yield* run.signal('promote', why);

  yield* callActivity(run.context, clusterActivities.promoteStable, { target: plan.target, image });
  const ready = yield* waitUntilReady(run, plan, 'stable', plan.canary.progressDeadlineSeconds);
  if (!ready.ready) {
    const detail = 'reason' in ready ? ready.reason : 'interrupted';
    yield* run.signal('failed', `promotion stopped: ${detail}; traffic stays split at ${run.status.canaryWeight} % canary: fix stable, then promote or roll back by hand`);
    return;
  }

  yield* callActivity(run.context, clusterActivities.removeCanary, { target: plan.target });
  run.setStatus({ canaryWeight: 0 });
  yield* tagModel(run, plan, 'released');
  yield* run.publish('promoted');
  yield* run.signal('promoted', why);
}

/**
 * Makes stable ready and sized, then moves traffic back to it and removes the
 * canary. With `failed`, the release ends Failed after the rollback, because
 * an error and not a verdict caused it.
 */
export function* rollBackRelease(run: ReleaseRun, plan: ReleasePlan, reason: string, options: { failed?: boolean } = {}): Step<void> {
  if (run.phase !== 'RollingBack') yield* run.signal('rollback', reason);

  yield* callActivity(run.context, clusterActivities.restoreStable, { target: plan.target });
  const ready = yield* waitUntilReady(run, plan, 'stable', plan.canary.progressDeadlineSeconds);
  if (!ready.ready) {
    const detail = 'reason' in ready ? ready.reason : 'interrupted';
    yield* run.signal('failed', `rollback stopped before moving traffic: ${detail}; ${run.status.canaryWeight} % of traffic still reaches the canary (${reason})`);
    return;
  }

  yield* callActivity(run.context, clusterActivities.removeCanary, { target: plan.target });
  run.setStatus({ canaryWeight: 0 });
  yield* tagModel(run, plan, 'rolled-back', reason);
  yield* run.publish('rolledBack');
  yield* run.signal(options.failed ? 'failed' : 'rolledBack', reason);
}

/** Phases in which the cluster may hold canary objects, so an error there needs a rollback. */
const deployedPhases = ['Deploying', 'Progressing', 'AwaitingApproval', 'Promoting'];

/**
 * Ends a release after an error that retries did not cure: roll back when
 * something was deployed, otherwise end Failed at once. An error during the
 * rollback itself ends Failed with both errors in the reason.
 */
export function* failRelease(run: ReleaseRun, error: unknown): Step<void> {
  const message = shortError(error);
  run.log.error('release step failed', { phase: run.phase, error: message });
  const plan = run.plan;

  if (plan && deployedPhases.includes(run.phase)) {
    const reason = `error in phase ${run.phase}: ${message}`;
    try {
      yield* rollBackRelease(run, plan, reason, { failed: true });
      return;
    } catch (rollbackError) {
      yield* run.signal('failed', `${reason}; the rollback failed too: ${shortError(rollbackError)}; check the canary and traffic of endpoint ${plan.endpoint} by hand`);
      return;
    }
  }
  const where = run.phase === 'RollingBack' ? 'rollback failed' : `error in phase ${run.phase}`;
  yield* run.signal('failed', `${where}: ${message}`);
}

/** First line of an error message, at most 500 characters, so that status and history stay small. */
export function shortError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const line = text.split('\n').find((l) => l.trim() !== '') ?? text;
  return line.length > 500 ? `${line.slice(0, 497)}...` : line;
}

/**
 * Frees the endpoint in the ledger, tells the release that gets it next, and
 * publishes the final event.
 */
export function* finishRelease(run: ReleaseRun): Step<void> {
  const reply: unknown = yield run.context.df.callEntity(run.ledger, ledgerOperations.update, {
    releaseId: run.request.instanceId,
    phase: run.phase,
    ...(run.status.reason ? { reason: run.status.reason } : {}),
  });
  const next = (reply as UpdateResult | null)?.next;
  if (next) {
    try {
      yield* callActivity(run.context, releaseActivities.notifyNextRelease, { releaseId: next.releaseId, from: run.request.instanceId });
    } catch (error) {
      // The next release also polls the ledger, so it starts later instead of never.
      run.log.warn('next release not notified', { error: shortError(error), instanceId: next.releaseId });
    }
  }
  yield* run.publish('finished');
}
