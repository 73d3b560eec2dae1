import type { ReleaseRequest } from '../../src/contracts/release';
import { acquire, applyLedgerOperation, emptyLedger, recordBuild, recordRegistryPush, update } from '../../src/entities/ledgerState';
import { modelRequest } from './harness/fakes';

const now = '2026-12-04T10:00:00.000Z';
const digest = `sha256:${'a'.repeat(64)}`;

function requests(): ReleaseRequest[] {
  return [modelRequest('20', '2026-12-04T09:00:00.000Z'), modelRequest('21', '2026-12-04T09:01:00.000Z'), modelRequest('22', '2026-12-04T09:02:00.000Z')];
}

describe('endpoint ledger', () => {
  test('free endpoint is granted', () => {
    const state = emptyLedger('regression');
    const [a] = requests();
    expect(acquire(state, a!, now)).toEqual({ granted: true });
    expect(state.running?.releaseId).toBe(a!.instanceId);
    expect(acquire(state, a!, now)).toEqual({ granted: true });
  });

  test('busy endpoint queues', () => {
    const state = emptyLedger('regression');
    const [a, b] = requests();
    acquire(state, a!, now);
    expect(acquire(state, b!, now)).toEqual({ granted: false, position: 1 });
    expect(acquire(state, b!, now)).toEqual({ granted: false, position: 1 });
  });

  test('newer request supersedes waiting one', () => {
    const state = emptyLedger('regression');
    const [a, b, c] = requests();
    acquire(state, a!, now);
    acquire(state, b!, now);
    expect(acquire(state, c!, now)).toEqual({ granted: false, position: 1 });
    expect(acquire(state, b!, now)).toEqual({ granted: false, superseded: true, supersededBy: c!.instanceId, position: 0 });
    expect(state.queue.map((q) => q.releaseId)).toEqual([c!.instanceId]);
    expect(state.audit.at(-1)?.action).toBe('superseded');
  });

  test('late older request is superseded at once', () => {
    const state = emptyLedger('regression');
    const [a, b, c] = requests();
    acquire(state, a!, now);
    acquire(state, c!, now);
    expect(acquire(state, b!, now)).toEqual({ granted: false, superseded: true, supersededBy: c!.instanceId, position: 0 });
    expect(state.queue.map((q) => q.releaseId)).toEqual([c!.instanceId]);
  });

  test('terminal update hands over the endpoint', () => {
    const state = emptyLedger('regression');
    const [a, b] = requests();
    acquire(state, a!, now);
    acquire(state, b!, now);
    expect(update(state, { releaseId: a!.instanceId, phase: 'Progressing' }, now)).toEqual({});
    expect(state.running?.phase).toBe('Progressing');
    expect(update(state, { releaseId: a!.instanceId, phase: 'Succeeded' }, now)).toEqual({ next: { releaseId: b!.instanceId } });
    expect(state.running?.releaseId).toBe(b!.instanceId);
    expect(acquire(state, b!, now)).toEqual({ granted: true });
    expect(state.history[0]?.phase).toBe('Succeeded');
  });

  test('repeated terminal update changes nothing', () => {
    const state = emptyLedger('regression');
    const [a] = requests();
    acquire(state, a!, now);
    update(state, { releaseId: a!.instanceId, phase: 'RolledBack', reason: 'x' }, now);
    expect(update(state, { releaseId: a!.instanceId, phase: 'RolledBack', reason: 'x' }, now)).toEqual({});
    expect(state.history).toHaveLength(1);
  });

  test('own build push joins its release', () => {
    const state = emptyLedger('regression');
    recordBuild(state, { releaseId: 'rel-1', digest });
    expect(recordRegistryPush(state, { digest, tag: 'rel-1', deliveryId: 'd1' }, now)).toEqual({ releaseId: 'rel-1' });
    expect(recordRegistryPush(state, { digest, deliveryId: 'd1' }, now)).toEqual({ releaseId: 'rel-1' });
    expect(state.recordedPushes).toHaveLength(1);
    expect(recordRegistryPush(state, { digest: `sha256:${'b'.repeat(64)}`, deliveryId: 'd2' }, now)).toBeNull();
  });

  test('unknown operation names the valid ones', () => {
    expect(() => applyLedgerOperation(emptyLedger('e'), 'drop', null, now)).toThrow('endpointLedger has no operation "drop": expected one of acquire, update');
  });
});
