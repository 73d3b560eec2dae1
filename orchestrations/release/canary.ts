import type { RolloutState } from '../../activities/clusterContract';
import { clusterActivities } from '../../activities/clusterContract';
import { releaseActivities } from '../../activities/releaseContract';
import type { ReleaseActionEvent } from '../../src/contracts/phases';
import type { ReleasePlan } from '../../src/release/plan';
import type { StepDecision } from '../../src/release/steps';
import { afterPassedStep, bakeSeconds, decideAfterAnalysis, failedCheckCount } from '../../src/release/steps';
import type { Step } from './call';
import { callActivity } from './call';
import type { CanaryOutcome } from './outcome';
import { outcomeOfAction } from './outcome';
import type { ReleaseRun } from './run';

export type ReadyResult = { ready: true } | { ready: false; reason: string } | { ready: false; action: ReleaseActionEvent };

/**
 * Polls a Deployment with checkRollout until it is ready or the deadline
 * passes. An unschedulable pod does not end the wait early, because the
 * cluster autoscaler may still add the node it needs.
 */
export function* waitUntilReady(run: ReleaseRun, plan: ReleasePlan, track: 'canary' | 'stable', deadlineSeconds: number): Step<ReadyResult> {
  const deadline = run.context.df.currentUtcDateTime.getTime() + deadlineSeconds * 1000;
  const name = `${plan.target.namespace}/${track === 'canary' ? plan.target.canaryDeployment : plan.target.stableDeployment}`;
  let last: RolloutState | undefined;

  for (;;) {
    last = yield* callActivity(run.context, clusterActivities.checkRollout, { target: plan.target, track });
    if (last.ready) return { ready: true };

    const remaining = (deadline - run.context.df.currentUtcDateTime.getTime()) / 1000;
    if (remaining <= 0) {
      const why = last.reason ?? `${last.readyReplicas}/${last.desiredReplicas} replicas ready`;
      const kind = last.unschedulable ? 'cannot be scheduled' : 'is not ready';
      return { ready: false, reason: `${track} Deployment ${name} ${kind} after the progress deadline of ${deadlineSeconds} s: ${why}` };
    }
    const waited = yield* run.wait(Math.min(plan.canary.readinessPollSeconds, remaining));
    if (waited.kind === 'action') return { ready: false, action: waited.event };
  }
}

/** Makes sure stable exists, applies the canary beside it and waits until the canary is ready. */
function* deployCanary(run: ReleaseRun, plan: ReleasePlan, image: string): Step<CanaryOutcome | undefined> {
  const stable = yield* callActivity(run.context, clusterActivities.ensureStable, { target: plan.target, image });
  run.setStatus({ stableOrigin: stable.origin });
  run.log.info('stable deployment ensured', { namespace: plan.target.namespace, deployment: plan.target.stableDeployment, outcome: stable.origin });
  // NOTE: an ensureStable that does not report `created` is treated as not having created stable, so the canary runs.
  if (stable.created === true) {
    // The first release has nothing to compare a canary with: stable itself runs the new image.
    return { next: 'promote', reason: `first release to endpoint ${plan.endpoint}: stable Deployment ${plan.target.namespace}/${plan.target.stableDeployment} was deployed with the new image, so there was no canary to compare` };
  }

  yield* callActivity(run.context, clusterActivities.applyCanary, { target: plan.target, image });
  const ready = yield* waitUntilReady(run, plan, 'canary', plan.canary.progressDeadlineSeconds);
  if ('action' in ready) return outcomeOfAction(ready.action);
  if (!ready.ready) return { next: 'rollback', reason: ready.reason };

  yield* run.signal('canaryReady');
  return undefined;
}

/** Sets the weight of one step, bakes, analyses and records the result in status. */
function* runStep(run: ReleaseRun, plan: ReleasePlan, step: number, weight: number): Step<StepDecision | CanaryOutcome> {
  // An action that arrived while the previous step was analysed acts before traffic moves again.
  const early = run.acceptedAction();
  if (early) return outcomeOfAction(early);

  yield* callActivity(run.context, clusterActivities.setTrafficWeight, { target: plan.target, canaryWeight: weight });
  run.setStatus({ canaryWeight: weight, step });
  yield* run.publish('step');

  const baked = yield* run.wait(bakeSeconds(plan.canary.bakeSeconds, plan.analysis.windowSeconds));
  if (baked.kind === 'action') return outcomeOfAction(baked.event);

  const analysis = yield* callActivity(run.context, releaseActivities.analyseCanary, {
    releaseId: plan.releaseId,
    analysis: plan.analysis,
    namespace: plan.target.namespace,
    deployment: plan.target.canaryDeployment,
    step,
    weight,
    at: run.now(),
  });
  const failedChecks = run.status.failedChecks + failedCheckCount(analysis);
  run.setStatus({ lastAnalysis: analysis, failedChecks });
  run.log.info('canary analysed', { step, weight, outcome: analysis.verdict, failedChecks });
  yield* run.publish('analysis', { analysis });

  return decideAfterAnalysis(analysis, {
    step,
    steps: plan.canary.steps,
    failedChecks,
    maxFailedChecks: plan.canary.maxFailedChecks,
    onInconclusive: plan.analysis.onInconclusive,
    approvalRequired: plan.approval.required,
  });
}

/**
 * Waits for a person: the approval gate, or a paused inconclusive analysis.
 * The wait races the policy's approval timeout; the timer is cancelled when a
 * person acts first. Returns 'resume' when a paused analysis may go on.
 */
function* awaitPerson(run: ReleaseRun, plan: ReleasePlan, why: 'gate' | 'pause', reason: string): Step<CanaryOutcome | 'resume'> {
  yield* run.signal('awaitPerson', reason);
  const waited = yield* run.wait(plan.approval.timeoutSeconds);

  if (waited.kind === 'action') {
    if (waited.event.action === 'approve' && why === 'pause') return 'resume';
    return outcomeOfAction(waited.event);
  }
  if (why === 'pause') return { next: 'rollback', reason: `no decision within ${plan.approval.timeoutSeconds} s on a paused analysis (${reason})` };
  const timedOut = `approval timed out after ${plan.approval.timeoutSeconds} s`;
  return plan.approval.onTimeout === 'promote' ? { next: 'promote', reason: `${timedOut}; policy promotes on timeout` } : { next: 'rollback', reason: timedOut };
}

/**
 * Deploys the canary and walks the traffic steps. Returns whether to promote
 * or roll back, with the reason.
 */
export function* runCanary(run: ReleaseRun, plan: ReleasePlan, image: string): Step<CanaryOutcome> {
  const deployed = yield* deployCanary(run, plan, image);
  if (deployed) return deployed;

  let step = 0;
  let weight = plan.canary.steps[0] ?? 0;
  for (;;) {
    let decision = yield* runStep(run, plan, step, weight);
    if ('next' in decision) return decision;

    if (decision.kind === 'pause') {
      const paused = yield* awaitPerson(run, plan, 'pause', decision.reason);
      if (paused !== 'resume') return paused;
      yield* run.signal('resume', `${decision.reason}; continued by a person`);
      decision = afterPassedStep({ step, steps: plan.canary.steps, approvalRequired: plan.approval.required });
    }

    switch (decision.kind) {
      case 'next-step':
        step = decision.step;
        weight = decision.weight;
        continue;
      case 'rollback':
        return { next: 'rollback', reason: decision.reason };
      case 'promote':
        return { next: 'promote', reason: `every traffic step passed (${plan.canary.steps.join(', ')} %)` };
      case 'gate':
        return yield* awaitGate(run, plan);
      case 'pause':
        throw new Error(`release ${plan.releaseId}: a step after a resumed pause cannot pause again`);
    }
  }
}

function* awaitGate(run: ReleaseRun, plan: ReleasePlan): Step<CanaryOutcome> {
  const gated = yield* awaitPerson(run, plan, 'gate', `every traffic step passed; waiting up to ${plan.approval.timeoutSeconds} s for approval`);
  if (gated === 'resume') throw new Error(`release ${plan.releaseId}: the approval gate cannot resume`);
  return gated;
}
