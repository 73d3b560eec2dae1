import type { AnalysisSummary } from '../src/contracts/phases';
import type { ImageRef, ModelRef, ReleaseRequest } from '../src/contracts/release';
import type { ReleaseLifecycleEvent } from '../src/contracts/releaseEvents';
import type { AnalysisPlan, ReleasePlan } from '../src/release/plan';
import { defineActivity } from './contract';

/** Result of a check that may refuse: every reason is listed, each with what to do. */
export interface CheckResult {
  ok: boolean;
  reasons: string[];
}

export interface ModelValidation extends CheckResult {
  /** Storage URI of the model files, for mount mode. */
  storageUri?: string;
}

export type ModelVersionState = 'released' | 'rejected' | 'rolled-back';

export type BuildStatus =
  | { status: 'running' }
  | { status: 'succeeded'; image: string; digest: string }
  | { status: 'failed'; reason: string };

/**
 * Activities on the Azure side and around the release. Cluster activities are
 * in clusterContract.ts. Expected refusals come back as named results; thrown
 * errors are faults, retried and then handled by the orchestrator.
 */
export const releaseActivities = {
  /** Reads the policy and settings and builds the release plan, or says why the request cannot be planned. */
  loadReleasePlan: defineActivity<ReleaseRequest, { ok: true; plan: ReleasePlan } | { ok: false; reason: string }>('loadReleasePlan'),
  /** Reads the model version from Azure ML and checks it against the policy's validation rules. */
  validateModelVersion: defineActivity<{ releaseId: string; model: ModelRef; validation: ReleasePlan['validation'] }, ModelValidation>('validateModelVersion'),
  /** Sets the release state tag on the model version; safe to repeat. */
  tagModelVersion: defineActivity<{ releaseId: string; model: ModelRef; state: ModelVersionState; reason?: string }, { tagged: boolean }>('tagModelVersion'),
  /** Checks that a pushed image's manifest exists in the registry and returns the reference by digest. */
  verifyPushedImage: defineActivity<{ releaseId: string; image: ImageRef }, CheckResult & { image?: string }>('verifyPushedImage'),
  /** Schedules an ACR build of the serving image, or finds the one already scheduled for this release. */
  startImageBuild: defineActivity<{ releaseId: string; build: Extract<ReleasePlan['build'], { mode: 'bake' }>; request: ReleaseRequest; storageUri?: string }, { runId: string }>('startImageBuild'),
  /** Reads the state of an ACR build run. */
  checkImageBuild: defineActivity<{ releaseId: string; runId: string; repository: string }, BuildStatus>('checkImageBuild'),
  /** Runs the canary checks against Prometheus and returns the analysis with its numbers. */
  analyseCanary: defineActivity<{ releaseId: string; analysis: AnalysisPlan; namespace: string; deployment: string; step: number; weight: number; at: string }, AnalysisSummary>('analyseCanary'),
  /** Publishes a lifecycle event on the release events topic through the Service Bus output binding. */
  publishReleaseEvent: defineActivity<ReleaseLifecycleEvent, { published: true }>('publishReleaseEvent'),
  /** Raises the `turn` event on a release that now holds the endpoint. */
  notifyNextRelease: defineActivity<{ releaseId: string; from: string }, { notified: boolean }>('notifyNextRelease'),
};
