import { getStatus, postJson, request, startOrchestration, startTestHost, type TestHost, waitForStatus } from './helpers';

let host: TestHost;
const api = () => `${host.url}/runtime/webhooks/durabletask`;

beforeAll(async () => {
  host = await startTestHost({ clock: 'real' });
});

afterAll(async () => {
  await host?.stop();
});

describe('durable http api', () => {
  test('start returns 202 with management urls', async () => {
    const response = await request(`${api()}/orchestrators/approvalGate/api-start`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ minutes: 60 }) });
    expect(response.status).toBe(202);
    expect(response.headers.get('location')).toBe(`${api()}/instances/api-start?taskHub=ConformanceHub&connection=Storage`);
    expect(response.headers.get('retry-after')).toBe('10');
    const body = response.body as Record<string, string>;
    expect(body.id).toBe('api-start');
    expect(body.sendEventPostUri).toBe(`${api()}/instances/api-start/raiseEvent/{eventName}?taskHub=ConformanceHub&connection=Storage`);
    expect(Object.keys(body).sort()).toEqual(['id', 'purgeHistoryDeleteUri', 'restartPostUri', 'resumePostUri', 'rewindPostUri', 'sendEventPostUri', 'statusQueryGetUri', 'suspendPostUri', 'terminatePostUri']);
  });

  test('running status is 202 and completed is 200', async () => {
    await waitForStatus(host, 'api-start', (s) => s.runtimeStatus === 'Running');
    const running = await request(`${api()}/instances/api-start`);
    expect(running.status).toBe(202);
    expect(running.body).toMatchObject({ name: 'approvalGate', instanceId: 'api-start', runtimeStatus: 'Running', input: { minutes: 60 }, customStatus: { phase: 'waiting' }, output: null });

    expect((await postJson(`${api()}/instances/api-start/raiseEvent/approval`, 'yes')).status).toBe(202);
    await waitForStatus(host, 'api-start');
    const done = await request(`${api()}/instances/api-start`);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ runtimeStatus: 'Completed', output: { decision: 'yes' }, customStatus: { phase: 'approved' } });
  });

  test('event beats a long timer', async () => {
    const id = await startOrchestration(host, 'approvalGate', { minutes: 10 * 24 * 60 }, 'long-gate');
    await waitForStatus(host, id, (s) => s.runtimeStatus === 'Running');
    expect((await postJson(`${api()}/instances/${id}/raiseEvent/approval`, 'ship')).status).toBe(202);
    const status = await waitForStatus(host, id);
    expect(status.output).toMatchObject({ decision: 'ship' });
    expect(status.historyEvents?.filter((e) => e.EventType === 'TimerFired')).toEqual([]);
  });

  test('event on finished instance is 410', async () => {
    expect((await postJson(`${api()}/instances/api-start/raiseEvent/approval`, 'late')).status).toBe(410);
    expect((await request(`${api()}/instances/api-start/terminate?reason=late`, { method: 'POST' })).status).toBe(410);
  });

  test('unknown instance is 404', async () => {
    expect((await request(`${api()}/instances/nope`)).status).toBe(404);
    expect((await postJson(`${api()}/instances/nope/raiseEvent/x`, 1)).status).toBe(404);
    expect((await request(`${api()}/instances/nope/terminate`, { method: 'POST' })).status).toBe(404);
  });

  test('raise event needs json content type', async () => {
    await startOrchestration(host, 'waitForTwo', undefined, 'ctype');
    const response = await request(`${api()}/instances/ctype/raiseEvent/a`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    expect(response.status).toBe(400);
  });

  test('terminate sets status and reason', async () => {
    expect((await request(`${api()}/instances/ctype/terminate?reason=operator%20stop`, { method: 'POST' })).status).toBe(202);
    const status = await waitForStatus(host, 'ctype');
    expect(status.runtimeStatus).toBe('Terminated');
    expect(status.output).toBe('operator stop');
  });

  test('restart reruns with the same input', async () => {
    const response = await request(`${api()}/instances/api-start/restart`, { method: 'POST' });
    expect(response.status).toBe(202);
    const newId = (response.body as { id: string }).id;
    expect(newId).not.toBe('api-start');
    const status = await waitForStatus(host, newId, (s) => s.runtimeStatus === 'Running');
    expect(status).toMatchObject({ name: 'approvalGate', input: { minutes: 60 } });
    await request(`${api()}/instances/${newId}/terminate`, { method: 'POST' });
    await waitForStatus(host, newId);
    await request(`${api()}/instances/${newId}`, { method: 'DELETE' });
  });

  test('unknown orchestrator is 400', async () => {
    expect((await request(`${api()}/orchestrators/doesNotExist`, { method: 'POST' })).status).toBe(400);
  });

  test('running instance id conflicts', async () => {
    await startOrchestration(host, 'waitForTwo', undefined, 'dup');
    expect((await request(`${api()}/orchestrators/waitForTwo/dup`, { method: 'POST' })).status).toBe(409);
    await request(`${api()}/instances/dup/terminate`, { method: 'POST' });
    await waitForStatus(host, 'dup');
  });

  test('list filters by status and prefix', async () => {
    const all = (await request(`${api()}/instances/?instanceIdPrefix=api-`)).body as { instanceId: string }[];
    expect(all.map((s) => s.instanceId)).toEqual(['api-start']);
    const terminated = (await request(`${api()}/instances/?runtimeStatus=Terminated`)).body as { instanceId: string }[];
    expect(terminated.map((s) => s.instanceId).sort()).toEqual(['ctype', 'dup']);
  });

  test('list pages with continuation token', async () => {
    const first = await request(`${api()}/instances/?top=2`);
    const token = first.headers.get('x-ms-continuation-token');
    expect((first.body as unknown[]).length).toBe(2);
    expect(token).toBe('2');
    // Four instances exist at this point: api-start, long-gate, ctype and dup.
    const second = await request(`${api()}/instances/?top=2`, { headers: { 'x-ms-continuation-token': token ?? '' } });
    expect((second.body as unknown[]).length).toBe(2);
    expect(second.headers.get('x-ms-continuation-token')).toBeNull();
  });

  test('purge deletes finished instances', async () => {
    const purged = await request(`${api()}/instances/dup`, { method: 'DELETE' });
    expect(purged.status).toBe(200);
    expect(purged.body).toEqual({ instancesDeleted: 1 });
    expect((await request(`${api()}/instances/dup`, { method: 'DELETE' })).status).toBe(404);
    expect((await request(`${api()}/instances/?runtimeStatus=Terminated`, { method: 'DELETE' })).status).toBe(400);
    const byFilter = await request(`${api()}/instances/?createdTimeFrom=2000-01-01T00:00:00Z&runtimeStatus=Terminated`, { method: 'DELETE' });
    expect(byFilter.body).toEqual({ instancesDeleted: 1 });
  });

  test('entity signal and state', async () => {
    expect((await request(`${api()}/entities/counter/api-key`)).status).toBe(404);
    expect((await postJson(`${api()}/entities/counter/api-key?op=add`, 7)).status).toBe(202);
    const deadline = Date.now() + 5000;
    let state = await request(`${api()}/entities/counter/api-key`);
    while (state.status !== 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      state = await request(`${api()}/entities/counter/api-key`);
    }
    expect(state.body).toBe(7);
    const list = await request(`${api()}/entities/counter?fetchState=true`);
    expect(list.body).toEqual([expect.objectContaining({ entityId: { name: 'counter', key: 'api-key' }, state: 7 })]);
  });

  test('history shows episodes in order', async () => {
    const status = await getStatus(host, 'api-start');
    const types = (status.historyEvents ?? []).map((e) => e.EventType);
    expect(types.slice(0, 2)).toEqual(['OrchestratorStarted', 'ExecutionStarted']);
    expect(types).toContain('EventRaised');
    expect(types.at(-2)).toBe('ExecutionCompleted');
    expect(types.at(-1)).toBe('OrchestratorCompleted');
  });

  test('start with timeout waits for output', async () => {
    const response = await request(`${api()}/orchestrators/child/waited?timeout=10&pollingInterval=1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '5' });
    expect(response.status).toBe(200);
    expect(response.body).toBe(10);
  });
});
