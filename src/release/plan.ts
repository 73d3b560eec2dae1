import type { EndpointPolicy, ReleasePolicy } from '../config/policy';
import { findEndpoint } from '../config/policy';
import type { ImageRef, ReleaseRequest } from '../contracts/release';
import type { ReleaseTarget } from '../contracts/target';

/** How the release obtains its image by digest. */
export type BuildPlan =
  /** A generic serving image from policy loads the model from its storage at start. */
  | { mode: 'mount'; image: string }
  /** An ACR build bakes the model (or the Git commit) into an image. */
  | { mode: 'bake'; registry: string; repository: string; dockerfile: string; timeoutSeconds: number; context: 'model' | 'git' }
  /** A pushed image: verify its manifest in the registry, then roll it out as it is. */
  | { mode: 'verify'; image: ImageRef };

/** Thresholds of one extra PromQL check from policy. */
export interface QueryCheckPlan {
  name: string;
  query: string;
  min?: number;
  max?: number;
}

/** What the canary analysis measures and against which limits. */
export interface AnalysisPlan {
  /** Query window in seconds. */
  windowSeconds: number;
  successRateMin: number;
  latency: { percentile: number; maxMs: number };
  queries: QueryCheckPlan[];
  onInconclusive: 'pause' | 'rollback' | 'continue';
}

/**
 * Everything the release orchestration needs from policy and settings, as
 * plain data. The `loadReleasePlan` activity builds it once, so the
 * orchestrator never reads a file or the environment and replays the same plan.
 */
export interface ReleasePlan {
  releaseId: string;
  endpoint: string;
  target: ReleaseTarget;
  build: BuildPlan;
  canary: {
    /** Canary weights in percent, ascending. */
    steps: number[];
    bakeSeconds: number;
    progressDeadlineSeconds: number;
    maxFailedChecks: number;
    /** Interval between readiness checks while a Deployment rolls out. */
    readinessPollSeconds: number;
  };
  analysis: AnalysisPlan;
  validation: {
    requiredTags: string[];
    allowedModelTypes: string[];
    allowedFlavors: string[];
    metrics: { name: string; min?: number; max?: number }[];
    allowedRegions: string[];
    targetRegion: string;
  };
  approval: { required: boolean; timeoutSeconds: number; onTimeout: 'rollback' | 'promote' };
  /** Interval at which a queued release asks the ledger again when no `turn` event arrives. */
  queuePollSeconds: number;
}

/** Settings that the plan needs, passed in so that this module stays pure. */
export interface PlanSettings {
  defaultTrafficProvider: ReleaseTarget['traffic']['provider'];
  /** Login server of the registry that receives baked images, e.g. `contosocr.azurecr.io`. */
  registryLoginServer: string;
}

/** Raised when a request cannot be planned; the release ends Rejected with this message. */
export class PlanError extends Error {
  override name = 'PlanError';
}

const readinessPollSeconds = 5;
const queuePollSeconds = 30;

/** Derives the ReleaseTarget that the cluster activities act on from the endpoint policy. */
export function buildReleaseTarget(endpoint: EndpointPolicy, request: ReleaseRequest, settings: PlanSettings): ReleaseTarget {
  const target: ReleaseTarget = {
    releaseId: request.instanceId,
    endpoint: endpoint.name,
    namespace: endpoint.namespace,
    stableDeployment: endpoint.deployment,
    canaryDeployment: `${endpoint.deployment}-canary`,
    service: endpoint.deployment,
    port: endpoint.port,
    replicas: endpoint.replicas,
    resources: { gpu: endpoint.resources.gpu, cpu: String(endpoint.resources.cpu), memory: String(endpoint.resources.memory) },
    scheduling: {
      nodeSelector: { ...endpoint.scheduling.nodeSelector },
      tolerations: endpoint.scheduling.tolerations.map((t) => ({ ...t })),
      allowSpot: endpoint.scheduling.allowSpot,
    },
    traffic: {
      provider: endpoint.traffic.provider ?? settings.defaultTrafficProvider,
      routeName: endpoint.traffic.routeName ?? endpoint.name,
      ...(endpoint.traffic.gateway ? { gateway: endpoint.traffic.gateway } : {}),
    },
  };
  if (endpoint.adoptDeployment) target.adoptDeployment = endpoint.adoptDeployment;
  if (request.model) target.model = { name: request.model.name, version: request.model.version };
  return target;
}

/** Chooses how the release gets its image: a pushed image is verified, a model is mounted or baked. */
export function buildPlanFor(endpoint: EndpointPolicy, request: ReleaseRequest, settings: PlanSettings): BuildPlan {
  if (request.image) return { mode: 'verify', image: request.image };

  const build = endpoint.build;
  if (!build) {
    throw new PlanError(
      `endpoint "${endpoint.name}" has no build section in the release policy, so a ${request.source} event cannot be turned into an image: add build.mode mount or bake`,
    );
  }
  if (build.mode === 'mount') return { mode: 'mount', image: build.servingImage };
  return { mode: 'bake', registry: settings.registryLoginServer, repository: build.repository, dockerfile: build.dockerfile, timeoutSeconds: build.timeout, context: request.model ? 'model' : 'git' };
}

/**
 * Builds the release plan from the policy and the request. Throws PlanError
 * when the policy names no such endpoint or cannot produce an image.
 */
export function buildReleasePlan(policy: ReleasePolicy, request: ReleaseRequest, settings: PlanSettings): ReleasePlan {
  const endpoint = findEndpoint(policy, request.endpoint);
  if (!endpoint) {
    const known = policy.endpoints.map((e) => e.name).join(', ');
    throw new PlanError(`endpoint "${request.endpoint}" is not in the release policy (known endpoints: ${known}): add it under endpoints or fix the trigger`);
  }

  return {
    releaseId: request.instanceId,
    endpoint: endpoint.name,
    target: buildReleaseTarget(endpoint, request, settings),
    build: buildPlanFor(endpoint, request, settings),
    canary: {
      steps: [...endpoint.canary.steps],
      bakeSeconds: endpoint.canary.bake,
      progressDeadlineSeconds: endpoint.canary.progressDeadline,
      maxFailedChecks: endpoint.canary.maxFailedChecks,
      readinessPollSeconds,
    },
    analysis: {
      windowSeconds: endpoint.analysis.window,
      successRateMin: endpoint.analysis.successRate.min,
      latency: { percentile: endpoint.analysis.latency.percentile, maxMs: endpoint.analysis.latency.maxMs },
      queries: endpoint.analysis.queries.map((q) => ({ ...q })),
      onInconclusive: endpoint.analysis.onInconclusive,
    },
    validation: {
      requiredTags: [...endpoint.validation.requiredTags],
      allowedModelTypes: [...endpoint.validation.allowedModelTypes],
      allowedFlavors: [...endpoint.validation.allowedFlavors],
      metrics: endpoint.validation.metrics.map((m) => ({ ...m })),
      allowedRegions: [...policy.allowedRegions],
      targetRegion: endpoint.region,
    },
    approval: { required: endpoint.approval.required, timeoutSeconds: endpoint.approval.timeout, onTimeout: endpoint.approval.onTimeout },
    queuePollSeconds,
  };
}
