import { releaseOrchestrator } from '../../orchestrations/releaseOrchestrator';
import type { ReleaseStatus } from '../../src/contracts/phases';
import type { FakeCluster, MetricScenario, Setup } from './harness/fakes';
import { action, healthy, installFakes, localPolicyText, modelRequest, newCluster, oldImage } from './harness/fakes';
import type { ReplayInstance, ScheduledEvent } from './harness/replay';
import { ReplayEngine } from './harness/replay';

const servingImage = 'contosocr.azurecr.io/serving/mlserver@sha256:c29d0892e72bbea11cad9f2098fdfab443033a54085b71cb4fd0f9570ca55571';
const start = Date.parse('2026-12-04T10:00:00.000Z');

interface Run {
  engine: ReplayEngine;
  instance: ReplayInstance;
  cluster: FakeCluster;
  status: ReleaseStatus;
  names: string[];
}

async function release(setup: Partial<Setup> = {}, events: ScheduledEvent[] = []): Promise<Run> {
  const engine = new ReplayEngine(start);
  const cluster = setup.cluster ?? newCluster();
  installFakes(engine, { ...setup, cluster });
  const request = modelRequest();
  const instance = engine.start(request.instanceId, releaseOrchestrator, request);
  for (const event of events) engine.raise(instance, event);
  await engine.run();
  expect(instance.error).toBeUndefined();
  return { engine, instance, cluster, status: instance.output as ReleaseStatus, names: instance.calls.map((c) => c.name) };
}

const errorSpikeAtStep2: MetricScenario = (step) => (step === 1 ? { successRate: { kind: 'values', values: [0.912] }, latencyMs: { kind: 'values', values: [130] } } : healthy(step));
const phaseIs = (phase: string) => (status: unknown) => (status as ReleaseStatus | undefined)?.phase === phase;

describe('release orchestrator', () => {
  test('healthy canary is promoted', async () => {
    const { status, cluster, names, engine } = await release();

    expect(status.phase).toBe('Succeeded');
    expect(cluster.stableImage).toBe(servingImage);
    expect(cluster.canaryImage).toBeUndefined();
    expect(cluster.weights).toEqual([10, 50]);
    expect(status.stableOrigin).toBe('existing');
    expect(status.lastAnalysis?.verdict).toBe('pass');
    expect(status.lastAnalysis?.checks.map((c) => c.value)).toEqual([0.998, 120]);
    expect(cluster.tags).toEqual([{ version: '20', state: 'released' }]);
    expect(names.indexOf('promoteStable')).toBeLessThan(names.lastIndexOf('removeCanary'));
    expect(engine.entities.get('regression')?.running).toBeUndefined();
    expect(engine.entities.get('regression')?.history[0]?.phase).toBe('Succeeded');
  });

  test('healthy canary publishes lifecycle events', async () => {
    const { cluster } = await release();
    const kinds = cluster.published.filter((e) => e.kind !== 'phase').map((e) => e.kind);
    expect(kinds).toEqual(['started', 'step', 'analysis', 'step', 'analysis', 'promoted', 'finished']);
    const phases = cluster.published.filter((e) => e.kind === 'phase').map((e) => e.phase);
    expect(phases).toEqual(['Validating', 'Building', 'Deploying', 'Progressing', 'Promoting', 'Succeeded']);
  });

  test('custom status is complete at every episode', async () => {
    const { instance } = await release();
    for (const raw of instance.statuses) {
      const status = raw as ReleaseStatus;
      expect(typeof status.phase).toBe('string');
      expect(typeof status.canaryWeight).toBe('number');
      expect(typeof status.step).toBe('number');
      expect(typeof status.failedChecks).toBe('number');
      expect(status.releaseId).toBe(instance.instanceId);
    }
  });

  test('bake waits at least the query window', async () => {
    const { instance } = await release();
    const analyses = instance.calls.filter((c) => c.name === 'analyseCanary');
    const weights = instance.calls.filter((c) => c.name === 'setTrafficWeight');
    // Local policy: bake 20 s, window 30 s, so each analysis runs 30 s after its weight change.
    expect(analyses.map((a, i) => a.at - (weights[i]?.at ?? 0))).toEqual([30000, 30000]);
  });

  test('error spike rolls back', async () => {
    const { status, cluster, names } = await release({ metrics: errorSpikeAtStep2 });

    expect(status.phase).toBe('RolledBack');
    expect(status.reason).toContain('success-rate 0.9120 outside >= 0.99');
    expect(status.reason).toContain('step 2 (50 % traffic)');
    expect(status.failedChecks).toBe(1);
    expect(cluster.stableImage).toBe(oldImage);
    expect(cluster.canaryImage).toBeUndefined();
    expect(names).not.toContain('promoteStable');
    expect(names.indexOf('restoreStable')).toBeLessThan(names.lastIndexOf('removeCanary'));
    expect(cluster.tags).toEqual([{ version: '20', state: 'rolled-back' }]);
  });

  test('latency regression names the percentile', async () => {
    const slow: MetricScenario = () => ({ successRate: { kind: 'values', values: [1] }, latencyMs: { kind: 'values', values: [812.5] } });
    const { status } = await release({ metrics: slow });
    expect(status.phase).toBe('RolledBack');
    expect(status.reason).toContain('latency-p99 812.5 outside <= 300 ms');
    expect(status.canaryWeight).toBe(0);
  });

  test('unschedulable canary rolls back at deadline', async () => {
    const { status, instance, cluster } = await release({ cluster: newCluster({ canaryReadyAfterMs: Infinity, canaryUnschedulable: true }) });
    expect(status.phase).toBe('RolledBack');
    expect(status.reason).toContain('cannot be scheduled after the progress deadline of 90 s');
    expect(status.reason).toContain('Insufficient nvidia.com/gpu');
    const applied = instance.calls.find((c) => c.name === 'applyCanary')?.at ?? 0;
    const restored = instance.calls.find((c) => c.name === 'restoreStable')?.at ?? 0;
    expect(restored - applied).toBeGreaterThanOrEqual(90000);
    expect(restored - applied).toBeLessThan(96000);
    expect(cluster.weights).toEqual([]);
  });

  test('inconclusive analysis pauses for a person', async () => {
    const silent: MetricScenario = () => ({ successRate: { kind: 'values', values: [Number.NaN] }, latencyMs: { kind: 'values', values: [] } });
    const { status, instance } = await release({ metrics: silent }, [{ name: 'approve', data: action('approve'), when: phaseIs('AwaitingApproval') }]);
    const paused = instance.statuses.find((s) => (s as ReleaseStatus).phase === 'AwaitingApproval') as ReleaseStatus;
    expect(paused.reason).toContain('success-rate: no-data');
    expect(paused.lastAnalysis?.verdict).toBe('inconclusive');
    expect(paused.failedChecks).toBe(0);
    // The approval continues to step 2, whose analysis pauses again; nobody approves that one, so the timeout rolls back.
    expect(status.phase).toBe('RolledBack');
    expect(status.reason).toContain('no decision within 300 s');
  });

  test('failed query is inconclusive not failed', async () => {
    const broken: MetricScenario = () => ({ successRate: { kind: 'query-failed', error: 'HTTP 503 from Prometheus' }, latencyMs: { kind: 'values', values: [100] } });
    const { instance } = await release({ metrics: broken });
    const paused = instance.statuses.find((s) => (s as ReleaseStatus).phase === 'AwaitingApproval') as ReleaseStatus;
    expect(paused.lastAnalysis?.checks[0]?.outcome).toBe('query-failed');
    expect(paused.failedChecks).toBe(0);
  });
});

describe('release orchestrator actions', () => {
  const gatedPolicy = (onTimeout = 'rollback'): string =>
    localPolicyText.replace('approval: { required: false, timeout: 5m, onTimeout: rollback }', `approval: { required: true, timeout: 5m, onTimeout: ${onTimeout} }`);

  test('approval gate approve promotes', async () => {
    const { status, instance } = await release({ policyText: gatedPolicy() }, [{ name: 'approve', data: action('approve', 'alice', 'looks good'), when: phaseIs('AwaitingApproval') }]);
    expect(status.phase).toBe('Succeeded');
    expect(status.reason).toBe('approved by alice: looks good');
    expect(instance.statuses.some((s) => (s as ReleaseStatus).phase === 'AwaitingApproval')).toBe(true);
  });

  test('approval gate reject rolls back', async () => {
    const { status, cluster } = await release({ policyText: gatedPolicy() }, [{ name: 'reject', data: action('reject', 'bob'), when: phaseIs('AwaitingApproval') }]);
    expect(status.phase).toBe('RolledBack');
    expect(status.reason).toBe('rejected by bob');
    expect(cluster.stableImage).toBe(oldImage);
  });

  test('approval gate timeout follows policy', async () => {
    const rolled = await release({ policyText: gatedPolicy('rollback') });
    expect(rolled.status.phase).toBe('RolledBack');
    expect(rolled.status.reason).toBe('approval timed out after 300 s');

    const promoted = await release({ policyText: gatedPolicy('promote') });
    expect(promoted.status.phase).toBe('Succeeded');
    expect(promoted.status.reason).toContain('policy promotes on timeout');
  });

  test('approval winner cancels the timeout timer', async () => {
    const { instance, engine } = await release({ policyText: gatedPolicy() }, [{ name: 'approve', data: action('approve'), when: phaseIs('AwaitingApproval') }]);
    const approvedAt = instance.calls.find((c) => c.name === 'promoteStable')?.at ?? 0;
    // The 5 minute gate timer was cancelled, so the release ended long before it would have fired.
    expect(engine.now - approvedAt).toBeLessThan(60000);
  });

  test('manual promote skips remaining steps', async () => {
    const { status, cluster } = await release({}, [{ name: 'promote', data: action('promote', 'carol'), duringActivity: 'setTrafficWeight' }]);
    expect(status.phase).toBe('Succeeded');
    expect(cluster.weights).toEqual([10]);
    expect(status.reason).toBe('promoted by carol');
    expect(cluster.stableImage).toBe(servingImage);
  });

  test('abort mid-canary cleans up', async () => {
    const { status, cluster, names } = await release({}, [{ name: 'abort', data: action('abort', 'dave'), duringActivity: 'setTrafficWeight' }]);
    expect(status.phase).toBe('RolledBack');
    expect(status.reason).toBe('aborted by dave');
    expect(cluster.canaryImage).toBeUndefined();
    expect(names).toContain('removeCanary');
    expect(cluster.stableImage).toBe(oldImage);
  });

  test('abort raised at start is not lost', async () => {
    const { status, names } = await release({}, [{ name: 'abort', data: action('abort'), atMs: start }]);
    expect(status.phase).toBe('RolledBack');
    expect(status.reason).toContain('before anything was deployed');
    expect(names).not.toContain('applyCanary');
  });

  test('rollback raised during analysis is not lost', async () => {
    const { status, cluster } = await release({}, [{ name: 'rollback', data: action('rollback', 'erin'), duringActivity: 'analyseCanary' }]);
    expect(status.phase).toBe('RolledBack');
    expect(status.reason).toBe('rolled back by erin');
    expect(cluster.weights).toEqual([10]);
  });

  test('action in wrong phase is ignored', async () => {
    const { status, engine } = await release({}, [{ name: 'approve', data: action('approve', 'mallory'), duringActivity: 'setTrafficWeight' }]);
    expect(status.phase).toBe('Succeeded');
    expect(status.reason).toBe('every traffic step passed (10, 50 %)');
    const audit = engine.entities.get('regression')?.audit ?? [];
    expect(audit.some((a) => a.action === 'approve-ignored' && a.actor.id === 'mallory')).toBe(true);
  });
});

describe('release orchestrator failures', () => {
  test('failing activity ends failed after rollback', async () => {
    const cluster = newCluster({ failing: new Set(['setTrafficWeight']) });
    const { status, instance, names } = await release({ cluster });
    expect(status.phase).toBe('Failed');
    expect(status.reason).toContain('error in phase Progressing');
    expect(status.reason).toContain('setTrafficWeight failed: the API server returned 500');
    expect(instance.calls.filter((c) => c.name === 'setTrafficWeight').map((c) => c.attempt)).toEqual([1, 2, 3]);
    expect(names).toContain('removeCanary');
  });

  test('failing rollback ends failed with both errors', async () => {
    const cluster = newCluster({ failing: new Set(['setTrafficWeight', 'restoreStable']) });
    const { status } = await release({ cluster });
    expect(status.phase).toBe('Failed');
    expect(status.reason).toContain('the rollback failed too');
    expect(status.reason).toContain('restoreStable failed');
  });

  test('invalid model is rejected with every reason', async () => {
    const reasons = ['required tag "area" is missing: add it to version 20', 'type custom_model is not allowed'];
    const { status, cluster, names } = await release({ modelReasons: reasons });
    expect(status.phase).toBe('Rejected');
    expect(status.reason).toBe(`validation failed: ${reasons.join('; ')}`);
    expect(cluster.tags).toEqual([{ version: '20', state: 'rejected' }]);
    expect(names).not.toContain('ensureStable');
  });

  test('unknown endpoint is rejected', async () => {
    const engine = new ReplayEngine(start);
    const cluster = newCluster();
    installFakes(engine, { cluster });
    const request = modelRequest('20', '2026-12-04T09:59:00.000Z', 'nowhere');
    const instance = engine.start(request.instanceId, releaseOrchestrator, request);
    await engine.run();
    expect((instance.output as ReleaseStatus).phase).toBe('Rejected');
    expect((instance.output as ReleaseStatus).reason).toContain('endpoint "nowhere" is not in the release policy');
  });

  test('first release deploys stable without canary', async () => {
    const { status, names, cluster } = await release({ cluster: newCluster({ stableImage: undefined }) });
    expect(status.stableOrigin).toBe('deployed');
    expect(status.phase).toBe('Succeeded');
    expect(status.reason).toContain('first release to endpoint regression');
    expect(names).not.toContain('applyCanary');
    expect(names).not.toContain('analyseCanary');
    expect(cluster.stableImage).toBe(servingImage);
    expect(cluster.tags).toEqual([{ version: '20', state: 'released' }]);
  });
});

describe('release orchestrator queue', () => {
  test('two models for one endpoint run one after another', async () => {
    const engine = new ReplayEngine(start);
    const cluster = newCluster();
    installFakes(engine, { cluster });
    const first = modelRequest('20', '2026-12-04T09:59:00.000Z');
    const second = modelRequest('21', '2026-12-04T09:59:30.000Z');
    const a = engine.start(first.instanceId, releaseOrchestrator, first);
    const b = engine.start(second.instanceId, releaseOrchestrator, second);
    await engine.run();

    const statusA = a.output as ReleaseStatus;
    const statusB = b.output as ReleaseStatus;
    expect(statusA.phase).toBe('Succeeded');
    expect(statusB.phase).toBe('Succeeded');
    const aEnd = a.calls.filter((c) => c.name === 'removeCanary').at(-1)?.at ?? 0;
    const bStart = b.calls.find((c) => c.name === 'ensureStable')?.at ?? 0;
    expect(bStart).toBeGreaterThanOrEqual(aEnd);
    expect(b.statuses.some((s) => (s as ReleaseStatus).phase === 'Queued' && ((s as ReleaseStatus).reason ?? '').includes('number 1 in the queue'))).toBe(true);
    // The turn event handed the endpoint over at once, not at the next 30 s poll.
    expect(bStart - aEnd).toBeLessThan(1000);
  });

  test('newer waiting request supersedes older', async () => {
    const engine = new ReplayEngine(start);
    installFakes(engine, { cluster: newCluster() });
    const requests = [modelRequest('20', '2026-12-04T09:59:00.000Z'), modelRequest('21', '2026-12-04T09:59:10.000Z'), modelRequest('22', '2026-12-04T09:59:20.000Z')];
    const [a, b, c] = requests.map((r) => engine.start(r.instanceId, releaseOrchestrator, r));
    await engine.run();

    expect((a?.output as ReleaseStatus).phase).toBe('Succeeded');
    expect((b?.output as ReleaseStatus).phase).toBe('Superseded');
    expect((b?.output as ReleaseStatus).reason).toContain(requests[2]?.instanceId);
    expect((c?.output as ReleaseStatus).phase).toBe('Succeeded');
  });

  test('abort while queued leaves the queue', async () => {
    const engine = new ReplayEngine(start);
    installFakes(engine, { cluster: newCluster() });
    const first = modelRequest('20', '2026-12-04T09:59:00.000Z');
    const second = modelRequest('21', '2026-12-04T09:59:30.000Z');
    const a = engine.start(first.instanceId, releaseOrchestrator, first);
    const b = engine.start(second.instanceId, releaseOrchestrator, second);
    engine.raise(b, { name: 'abort', data: action('abort', 'frank'), when: phaseIs('Queued') });
    await engine.run();

    expect((a.output as ReleaseStatus).phase).toBe('Succeeded');
    expect((b.output as ReleaseStatus).phase).toBe('RolledBack');
    expect((b.output as ReleaseStatus).reason).toBe('aborted by frank while queued');
    expect(engine.entities.get('regression')?.queue).toEqual([]);
  });
});
