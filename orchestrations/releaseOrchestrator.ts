import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';

import type { ReleaseStatus } from '../src/contracts/phases';
import type { ReleaseRequest } from '../src/contracts/release';
import { releaseOrchestratorName } from '../src/contracts/release';
import type { Step } from './release/call';
import { runCanary } from './release/canary';
import { failRelease, finishRelease, promoteRelease, rollBackRelease } from './release/finish';
import { abortedBeforeDeploy, buildImage, planRelease, validateRelease, waitForTurn } from './release/prepare';
import { ReleaseRun } from './release/run';

/** The named steps of a release, from plan to promote or roll back. */
function* runRelease(run: ReleaseRun): Step<void> {
  const plan = yield* planRelease(run);
  if (!plan) return;
  if (!(yield* waitForTurn(run, plan))) return;
  if (yield* abortedBeforeDeploy(run)) return;

  if (!(yield* validateRelease(run, plan))) return;
  if (yield* abortedBeforeDeploy(run)) return;

  const image = yield* buildImage(run, plan);
  if (!image) return;
  if (yield* abortedBeforeDeploy(run)) return;

  const outcome = yield* runCanary(run, plan, image);
  if (outcome.next === 'promote') yield* promoteRelease(run, plan, image, outcome.reason);
  else yield* rollBackRelease(run, plan, outcome.reason);
}

/**
 * Durable orchestration of one release. Input: ReleaseRequest; custom status:
 * ReleaseStatus; output: the final ReleaseStatus. Every error that retries do
 * not cure ends in a terminal phase with its reason, never in a failed instance.
 *
 * NOTE: the sequence of yields is a contract with running instances; a change
 * to it needs a new orchestrator name, with this one kept until its instances end.
 */
export function* releaseOrchestrator(context: OrchestrationContext): Step<ReleaseStatus> {
  const run = new ReleaseRun(context, context.df.getInput<ReleaseRequest>());
  yield* run.publish('started');

  try {
    yield* runRelease(run);
  } catch (error) {
    yield* failRelease(run, error);
  }
  yield* finishRelease(run);
  return run.status;
}

df.app.orchestration(releaseOrchestratorName, releaseOrchestrator);
