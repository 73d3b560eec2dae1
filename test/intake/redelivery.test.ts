/**
 * The dedupe and start decision, through the real durable-functions client
 * against a loopback server that speaks the Durable HTTP API.
 */
import type { EndpointLedgerState } from '../../src/contracts/ledger';
import { endpointEntityName } from '../../src/contracts/release';
import { TransientError } from '../../src/errors';
import { handleContainerRegistryEvent, handleModelRegistryEvent } from '../../src/functions/eventGrid';
import { handleGitHubWebhook } from '../../src/functions/webhooks';
import type { IntakeOutcome } from '../../src/intake/outcome';
import { type ReleaseStarter } from '../../src/intake/starter';
import { fixtureBytes, fixtureJson, githubRequest, type Harness, outcomesOf, startHarness } from './helpers';

const modelEvent = fixtureJson('azureml/model-registered.eventgrid-schema.docs.json');
const imageEvent = fixtureJson('acr/image-pushed.eventgrid-schema.captured.rest-specs.json') as { data: { target: Record<string, unknown>; request: Record<string, unknown> } };

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.server.stop();
});

const kinds = (outcomes: IntakeOutcome[]): string[] => outcomes.map((o) => o.outcome);

describe('redelivery', () => {
  test('same event three times, one release', async () => {
    const results = [];
    for (let i = 0; i < 3; i++) results.push(...(await handleModelRegistryEvent(modelEvent, h.deps)));

    expect(kinds(results)).toEqual(['started', 'duplicate', 'duplicate']);
    expect(h.server.instances.size).toBe(1);
    expect(h.server.calls.filter((c) => c.path.startsWith('orchestrators/'))).toHaveLength(1);
  });

  test('three concurrent copies, one release', async () => {
    const results = await Promise.all([1, 2, 3].map(() => handleModelRegistryEvent(modelEvent, h.deps)));

    expect(kinds(results.flat()).sort()).toEqual(['duplicate', 'duplicate', 'started']);
    expect([...h.server.instances.values()].map((i) => i.starts)).toEqual([1]);
  });

  test('redelivery after completion starts nothing', async () => {
    const [first] = await handleModelRegistryEvent(modelEvent, h.deps);
    const releaseId = (first as { releaseId: string }).releaseId;
    h.server.setStatus(releaseId, 'Completed', { phase: 'Succeeded' });

    const again = await handleModelRegistryEvent(modelEvent, h.deps);

    expect(again).toEqual([expect.objectContaining({ outcome: 'duplicate', releaseId, runtimeStatus: 'Completed', phase: 'Succeeded' })]);
    expect(h.server.startsOf(releaseId)).toBe(1);
  });

  test('redelivery after failure starts nothing', async () => {
    const [first] = await handleModelRegistryEvent(modelEvent, h.deps);
    const releaseId = (first as { releaseId: string }).releaseId;
    h.server.setStatus(releaseId, 'Failed', { phase: 'Failed' });

    expect(kinds(await handleModelRegistryEvent(modelEvent, h.deps))).toEqual(['duplicate']);
    expect(h.server.startsOf(releaseId)).toBe(1);
  });

  test('duplicate GitHub delivery starts nothing new', async () => {
    const body = fixtureBytes('github/push.default-branch.drone-fixture.json');
    const first = await handleGitHubWebhook(githubRequest(body, { event: 'push', delivery: 'same-delivery' }), h.deps);
    const second = await handleGitHubWebhook(githubRequest(body, { event: 'push', delivery: 'same-delivery' }), h.deps);

    expect(first.status).toBe(202);
    expect(second.status).toBe(200);
    expect(outcomesOf(second.jsonBody)[0]).toMatchObject({ outcome: 'duplicate' });
    expect(h.server.instances.size).toBe(1);
  });

  test('start raced by another app instance is a duplicate', async () => {
    await handleModelRegistryEvent(modelEvent, h.deps);
    let hidden = true;
    const real = h.deps.starter;
    // The first status read misses the instance, as a second app instance reading at the same moment would.
    const stale: ReleaseStarter = { ...real, getRelease: async (id) => (hidden ? ((hidden = false), undefined) : real.getRelease(id)) };

    const outcomes = await handleModelRegistryEvent(modelEvent, { ...h.deps, starter: stale });

    expect(kinds(outcomes)).toEqual(['duplicate']);
    expect(h.server.calls.filter((c) => c.path.startsWith('orchestrators/'))).toHaveLength(2);
    expect([...h.server.instances.values()][0]?.starts).toBe(1);
  });
});

describe('registry pushes', () => {
  const withTarget = (target: Record<string, unknown>, id = 'evt-1'): unknown => ({ ...imageEvent, id, data: { ...imageEvent.data, target: { ...imageEvent.data.target, ...target } } });

  test('untagged then tagged push, one release', async () => {
    const { tag: _tag, ...untaggedTarget } = imageEvent.data.target;
    const untagged = { ...imageEvent, id: 'evt-untagged', subject: 'samples/nginx', data: { ...imageEvent.data, target: untaggedTarget } };

    const first = await handleContainerRegistryEvent(untagged, h.deps);
    const second = await handleContainerRegistryEvent(imageEvent, h.deps);
    const third = await handleContainerRegistryEvent(withTarget({ tag: 'v2' }, 'evt-retag'), h.deps);

    expect(first).toEqual([expect.objectContaining({ outcome: 'ignored', reason: expect.stringContaining('carries no tag') as unknown })]);
    expect(kinds(second)).toEqual(['started']);
    expect(kinds(third)).toEqual(['duplicate']);
    expect(h.server.instances.size).toBe(1);
  });

  test('push of a built digest is recorded, not started', async () => {
    const digest = `sha256:${'b'.repeat(64)}`;
    const ledger: EndpointLedgerState = { endpoint: 'baked', queue: [], history: [], audit: [], builtDigests: { [digest]: 'rel-baked-0123456789abcdef01234567' }, recordedPushes: [] };
    h.server.setEntity(endpointEntityName, 'baked', ledger);

    const outcomes = await handleContainerRegistryEvent(withTarget({ repository: 'models/baked', digest, tag: 'build-7' }), h.deps);

    expect(outcomes).toEqual([{ outcome: 'recorded', endpoint: 'baked', releaseId: 'rel-baked-0123456789abcdef01234567', digest }]);
    expect(h.server.signals).toEqual([{ entity: 'endpointledger@baked', operation: 'recordRegistryPush', input: { digest, tag: 'build-7', deliveryId: 'evt-1' } }]);
    expect(h.server.instances.size).toBe(0);
  });

  test('push to a bake repository of an unknown digest starts nothing', async () => {
    const outcomes = await handleContainerRegistryEvent(withTarget({ repository: 'models/baked', digest: `sha256:${'c'.repeat(64)}` }), h.deps);

    expect(outcomes).toEqual([expect.objectContaining({ outcome: 'ignored', reason: expect.stringContaining('no endpoint in the release policy takes images') as unknown })]);
    expect(h.server.calls.map((c) => c.path)).toEqual(['entities/endpointLedger/baked']);
  });
});

describe('transient faults', () => {
  test('Event Grid invocation fails when the backend errors', async () => {
    h.server.failWith = 500;
    await expect(handleModelRegistryEvent(modelEvent, h.deps)).rejects.toBeInstanceOf(TransientError);
  });

  test('Event Grid invocation fails when the backend is down', async () => {
    await h.server.stop();
    await expect(handleContainerRegistryEvent(imageEvent, h.deps)).rejects.toThrow(/Durable Functions backend is reachable/);
  });

  test('webhook answers 503 when the backend is down', async () => {
    h.server.failWith = 503;
    const response = await handleGitHubWebhook(githubRequest(fixtureBytes('github/push.default-branch.drone-fixture.json'), { event: 'push' }), h.deps);

    expect(response.status).toBe(503);
    expect(response.headers).toMatchObject({ 'retry-after': '30' });
  });

  test('bad input never fails the invocation, even with the backend down', async () => {
    await h.server.stop();
    const outcomes = await handleContainerRegistryEvent(fixtureJson('acr/image-pushed.placeholder-digest.sdk-fixture.json'), h.deps);

    expect(kinds(outcomes)).toEqual(['rejected']);
  });
});
