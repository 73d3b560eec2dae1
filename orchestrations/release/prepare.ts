import type { AcquireResult } from '../../src/entities/ledgerState';
import { releaseActivities } from '../../activities/releaseContract';
import { clusterActivities } from '../../activities/clusterContract';
import { ledgerOperations } from '../../src/contracts/ledger';
import type { ReleasePlan } from '../../src/release/plan';
import type { Step } from './call';
import { callActivity } from './call';
import { actorText } from './outcome';
import type { ReleaseRun } from './run';

/** Loads the release plan; ends the release Rejected when the request cannot be planned. */
export function* planRelease(run: ReleaseRun): Step<ReleasePlan | undefined> {
  const result = yield* callActivity(run.context, releaseActivities.loadReleasePlan, run.request);
  if (!result.ok) {
    yield* run.signal('invalid', result.reason);
    return undefined;
  }
  run.plan = result.plan;
  run.setStatus({ totalSteps: result.plan.canary.steps.length });
  return result.plan;
}

/**
 * Waits until the ledger gives this release the endpoint. Returns false when
 * a newer request superseded it or a person aborted it while it waited.
 */
export function* waitForTurn(run: ReleaseRun, plan: ReleasePlan): Step<boolean> {
  for (;;) {
    const reply: unknown = yield run.context.df.callEntity(run.ledger, ledgerOperations.acquire, run.request);
    const acquired = reply as AcquireResult;
    if (acquired.granted) {
      yield* run.signal('granted');
      return true;
    }
    if (acquired.superseded) {
      yield* run.signal('superseded', `superseded by the newer request ${acquired.supersededBy} for endpoint ${run.request.endpoint}`);
      return false;
    }

    run.setStatus({ reason: `waiting for endpoint ${run.request.endpoint}: another release runs, this request is number ${acquired.position} in the queue` });
    const waited = yield* run.wait(plan.queuePollSeconds, { turn: true });
    if (waited.kind === 'action') {
      yield* run.signal('abort', `aborted by ${actorText(waited.event)} while queued`);
      return false;
    }
  }
}

/** Ends the release as RolledBack when a person aborted it before anything was deployed. */
export function* abortedBeforeDeploy(run: ReleaseRun): Step<boolean> {
  const action = yield* run.poll();
  if (!action) return false;
  yield* run.signal('abort', `aborted by ${actorText(action)} in phase ${run.phase} before anything was deployed`);
  return true;
}

/**
 * Checks the model version and the target cluster. Every reason is listed;
 * a refused release ends Rejected and its model version is tagged rejected.
 */
export function* validateRelease(run: ReleaseRun, plan: ReleasePlan): Step<boolean> {
  const reasons: string[] = [];
  const model = run.request.model;

  if (model) {
    const checked = yield* callActivity(run.context, releaseActivities.validateModelVersion, { releaseId: plan.releaseId, model, validation: plan.validation });
    reasons.push(...checked.reasons);
    if (checked.storageUri && plan.target.model) plan.target.model.storageUri = checked.storageUri;
  }
  const preflight = yield* callActivity(run.context, clusterActivities.preflightTarget, { target: plan.target, image: preflightImage(plan) });
  reasons.push(...preflight.reasons);

  if (reasons.length === 0) {
    yield* run.signal('validated');
    return true;
  }
  const reason = `validation failed: ${reasons.join('; ')}`;
  if (model) yield* callActivity(run.context, releaseActivities.tagModelVersion, { releaseId: plan.releaseId, model, state: 'rejected', reason });
  yield* run.signal('invalid', reason);
  return false;
}

/** Image that preflight checks pull access for; a bake build names only its repository, because no digest exists yet. */
function preflightImage(plan: ReleasePlan): string {
  const build = plan.build;
  if (build.mode === 'mount') return build.image;
  if (build.mode === 'verify') return `${build.image.registry}/${build.image.repository}@${build.image.digest}`;
  return `${build.registry}/${build.repository}`;
}

/**
 * Produces the image by digest: the serving image for mount mode, the
 * verified pushed image, or the result of an ACR build, which is recorded in
 * the ledger so that the registry's push event for it joins this release.
 */
export function* buildImage(run: ReleaseRun, plan: ReleasePlan): Step<string | undefined> {
  const build = plan.build;
  let image: string | undefined;

  if (build.mode === 'mount') image = build.image;
  if (build.mode === 'verify') {
    const verified = yield* callActivity(run.context, releaseActivities.verifyPushedImage, { releaseId: plan.releaseId, image: build.image });
    if (!verified.ok || !verified.image) {
      yield* run.signal('invalid', `image verification failed: ${verified.reasons.join('; ')}`);
      return undefined;
    }
    image = verified.image;
  }
  if (build.mode === 'bake') {
    image = yield* bakeImage(run, plan, build);
    if (!image) return undefined;
  }
  if (!image) throw new Error(`release ${plan.releaseId}: build mode produced no image`);

  run.setStatus({ image });
  yield* run.signal('imageReady');
  return image;
}

const buildPollSeconds = 10;

function* bakeImage(run: ReleaseRun, plan: ReleasePlan, build: Extract<ReleasePlan['build'], { mode: 'bake' }>): Step<string | undefined> {
  const storageUri = plan.target.model?.storageUri;
  const started = yield* callActivity(run.context, releaseActivities.startImageBuild, { releaseId: plan.releaseId, build, request: run.request, ...(storageUri ? { storageUri } : {}) });
  const deadline = run.context.df.currentUtcDateTime.getTime() + build.timeoutSeconds * 1000;

  for (;;) {
    const state = yield* callActivity(run.context, releaseActivities.checkImageBuild, { releaseId: plan.releaseId, runId: started.runId, repository: build.repository });
    if (state.status === 'succeeded') {
      yield run.context.df.callEntity(run.ledger, ledgerOperations.recordBuild, { releaseId: plan.releaseId, digest: state.digest });
      return state.image;
    }
    if (state.status === 'failed') {
      yield* run.signal('failed', `ACR build run ${started.runId} failed: ${state.reason}`);
      return undefined;
    }
    if (run.context.df.currentUtcDateTime.getTime() >= deadline) {
      yield* run.signal('failed', `ACR build run ${started.runId} did not finish within ${build.timeoutSeconds} s: check the run log in the registry or raise build.timeout`);
      return undefined;
    }
    const waited = yield* run.wait(buildPollSeconds);
    if (waited.kind === 'action') {
      yield* run.signal('abort', `aborted by ${actorText(waited.event)} during the image build`);
      return undefined;
    }
  }
}
