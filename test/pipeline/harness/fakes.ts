import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

import { clusterActivities } from '../../../activities/clusterContract';
import { releaseActivities } from '../../../activities/releaseContract';
import { canaryChecks } from '../../../src/analysis/queries';
import type { QueryResult } from '../../../src/analysis/verdict';
import { evaluateCheck, summarise } from '../../../src/analysis/verdict';
import { parseReleasePolicy } from '../../../src/config/policy';
import type { ReleaseActionEvent, ReleaseAction } from '../../../src/contracts/phases';
import type { ReleaseRequest } from '../../../src/contracts/release';
import { instanceIdOf, releaseKeyOf } from '../../../src/contracts/release';
import type { ReleaseLifecycleEvent } from '../../../src/contracts/releaseEvents';
import { buildReleasePlan } from '../../../src/release/plan';
import type { ReplayEngine } from './replay';

// The harness also runs compiled from dist/ (the replay benchmark), one level further from the repository root.
const repoRoot = join(__dirname, basename(join(__dirname, '../../..')) === 'dist' ? '../../../..' : '../../..');
export const localPolicyText = readFileSync(join(repoRoot, 'config/release-policy.local.yaml'), 'utf8');

export const oldImage = 'contosocr.azurecr.io/serving/mlserver@sha256:' + '1'.repeat(64);

/** Builds a ModelRegistered request for the local policy's regression endpoint. */
export function modelRequest(version = '20', receivedAt = '2026-12-04T09:59:00.000Z', endpoint = 'regression'): ReleaseRequest {
  const subject = { source: 'azureml' as const, endpoint, model: { name: 'sklearn_regression_model', version } };
  const releaseKey = releaseKeyOf(subject);
  return {
    schemaVersion: 1,
    releaseKey,
    instanceId: instanceIdOf(releaseKey, endpoint),
    ...subject,
    causedBy: { kind: 'event', id: 'azureml' },
    deliveryId: `delivery-${version}`,
    receivedAt,
  };
}

export function action(name: ReleaseAction, who = 'alice', reason?: string): ReleaseActionEvent {
  return { action: name, actor: { kind: 'user', id: who }, requestedAt: '2026-12-04T10:00:00.000Z', ...(reason ? { reason } : {}) };
}

/** Metric values that the fake Prometheus returns at each step, keyed by check name prefix. */
export type MetricScenario = (step: number) => { successRate?: QueryResult; latencyMs?: QueryResult };

export const healthy: MetricScenario = () => ({ successRate: { kind: 'values', values: [0.998] }, latencyMs: { kind: 'values', values: [120] } });

/** The state a fake cluster keeps, to assert what a release left behind. */
export interface FakeCluster {
  stableImage: string | undefined;
  canaryImage: string | undefined;
  canaryWeight: number;
  weights: number[];
  /** Milliseconds after applyCanary until the canary is ready; Infinity never. */
  canaryReadyAfterMs: number;
  canaryUnschedulable: boolean;
  canaryAppliedAt?: number;
  failing: Set<string>;
  published: ReleaseLifecycleEvent[];
  tags: { version: string; state: string }[];
}

export interface Setup {
  cluster: FakeCluster;
  policyText?: string;
  metrics?: MetricScenario;
  modelReasons?: string[];
}

/** Registers typed fakes of every activity the release calls, backed by a FakeCluster. */
export function installFakes(engine: ReplayEngine, setup: Setup): void {
  const { cluster } = setup;
  const policy = parseReleasePolicy(setup.policyText ?? localPolicyText);
  const metrics = setup.metrics ?? healthy;
  const guard = (name: string): void => {
    if (cluster.failing.has(name)) throw new Error(`${name} failed: the API server returned 500 Internal Server Error`);
  };

  engine
    .fake(releaseActivities.loadReleasePlan, (request) => {
      try {
        return { ok: true as const, plan: buildReleasePlan(policy, request, { defaultTrafficProvider: 'gateway-api', registryLoginServer: 'contosocr.azurecr.io' }) };
      } catch (error) {
        return { ok: false as const, reason: (error as Error).message };
      }
    })
    .fake(releaseActivities.validateModelVersion, () => ({ ok: (setup.modelReasons ?? []).length === 0, reasons: setup.modelReasons ?? [], storageUri: 'azureml://registries/r/models/sklearn_regression_model/versions/20' }))
    .fake(releaseActivities.tagModelVersion, (input) => {
      cluster.tags.push({ version: input.model.version, state: input.state });
      return { tagged: true };
    })
    .fake(releaseActivities.publishReleaseEvent, (event) => {
      cluster.published.push(event);
      return { published: true as const };
    })
    .fake(releaseActivities.notifyNextRelease, (input) => {
      const next = engine.instances.get(input.releaseId);
      if (next) engine.raise(next, { name: 'turn', data: { from: input.from }, atMs: engine.now });
      return { notified: next !== undefined };
    })
    .fake(releaseActivities.analyseCanary, (input) => {
      const values = metrics(input.step);
      const checks = canaryChecks(input.analysis, { namespace: input.namespace, deployment: input.deployment });
      const outcomes = checks.map((check) => {
        const result = check.name === 'success-rate' ? values.successRate : values.latencyMs;
        return evaluateCheck(check, result ?? { kind: 'values', values: [] });
      });
      return summarise({ step: input.step, weight: input.weight, at: input.at, checks: outcomes });
    })
    .fake(clusterActivities.preflightTarget, () => ({ ok: true, reasons: [] }))
    .fake(clusterActivities.ensureStable, (input) => {
      guard('ensureStable');
      if (cluster.stableImage) return { origin: 'existing' as const, stableImage: cluster.stableImage };
      cluster.stableImage = input.image;
      return { origin: 'deployed' as const, stableImage: input.image, created: true };
    })
    .fake(clusterActivities.applyCanary, (input, call) => {
      guard('applyCanary');
      cluster.canaryImage = input.image;
      cluster.canaryAppliedAt ??= call.now.getTime();
      return { generation: 1 };
    })
    .fake(clusterActivities.checkRollout, (input, call) => {
      guard('checkRollout');
      if (input.track === 'stable') return { ready: true, desiredReplicas: 2, readyReplicas: 2, unschedulable: false };
      const since = call.now.getTime() - (cluster.canaryAppliedAt ?? call.now.getTime());
      if (since >= cluster.canaryReadyAfterMs) return { ready: true, desiredReplicas: 2, readyReplicas: 2, unschedulable: false };
      if (cluster.canaryUnschedulable) return { ready: false, desiredReplicas: 2, readyReplicas: 0, unschedulable: true, reason: '0/3 nodes are available: 3 Insufficient nvidia.com/gpu; scale node pool gpu' };
      return { ready: false, desiredReplicas: 2, readyReplicas: 0, unschedulable: false, reason: 'pods are starting' };
    })
    .fake(clusterActivities.setTrafficWeight, (input) => {
      guard('setTrafficWeight');
      cluster.canaryWeight = input.canaryWeight;
      cluster.weights.push(input.canaryWeight);
      return { canaryWeight: input.canaryWeight };
    })
    .fake(clusterActivities.promoteStable, (input) => {
      guard('promoteStable');
      cluster.stableImage = input.image;
      return { generation: 2 };
    })
    .fake(clusterActivities.restoreStable, () => {
      guard('restoreStable');
      return { generation: 1 };
    })
    .fake(clusterActivities.removeCanary, () => {
      guard('removeCanary');
      const removed = cluster.canaryImage ? ['Deployment/regression-server-canary', 'Service/regression-server-canary'] : [];
      cluster.canaryImage = undefined;
      cluster.canaryWeight = 0;
      return { removed };
    });
}

export function newCluster(change: Partial<FakeCluster> = {}): FakeCluster {
  return {
    stableImage: oldImage,
    canaryImage: undefined,
    canaryWeight: 0,
    weights: [],
    canaryReadyAfterMs: 10000,
    canaryUnschedulable: false,
    failing: new Set(),
    published: [],
    tags: [],
    ...change,
  };
}
