import { getStatus, postJson, request, scheduledIds, startOrchestration, startTestHost, type TestHost, waitForStatus } from './helpers';

let host: TestHost;

beforeAll(async () => {
  host = await startTestHost();
});

afterAll(async () => {
  await host?.stop();
});

describe('durable engine', () => {
  test('task ids follow the protocol sequence', async () => {
    const id = await startOrchestration(host, 'conformance', { key: 'ids' }, 'ids-1');
    // Raised before the orchestrator waits: durable-functions buffers it by name.
    expect((await postJson(`${host.url}/runtime/webhooks/durabletask/instances/ids-1/raiseEvent/go`, { ok: true })).status).toBe(202);
    const status = await waitForStatus(host, id);

    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toEqual({
      first: { echoed: 'Tokyo' },
      retried: { key: 'ids', attempt: 2 },
      both: [{ echoed: 1 }, { echoed: 2 }],
      winner: { event: { ok: true } },
      count: 5,
      child: 42,
    });
    expect(scheduledIds(status.historyEvents)).toEqual([
      'TaskScheduled:0',
      'TaskScheduled:1',
      'TimerCreated:2',
      'TaskScheduled:3',
      'TaskScheduled:4',
      'TaskScheduled:5',
      'EventSent:6',
      'TimerCreated:7',
      'EventSent:8',
      'SubOrchestrationInstanceCreated:9',
    ]);
  });

  test('history of one activity', async () => {
    const id = await startOrchestration(host, 'child', 21);
    const status = await waitForStatus(host, id);
    expect(status.output).toBe(42);
    const events = status.historyEvents ?? [];
    expect(events.map((e) => e.EventType)).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'TaskScheduled', 'OrchestratorCompleted', 'OrchestratorStarted', 'TaskCompleted', 'ExecutionCompleted', 'OrchestratorCompleted']);
    expect(events[1]).toMatchObject({ Name: 'child', Input: '21' });
    expect(events[2]).toMatchObject({ EventId: 0, Name: 'echo', Input: '21' });
    expect(events[5]).toMatchObject({ TaskScheduledId: 0, Result: '{"echoed":21}' });
    expect(events[6]).toMatchObject({ Result: '42' });
  });

  test('retry exhausted reaches the catch block', async () => {
    const id = await startOrchestration(host, 'retryExhausted');
    const status = await waitForStatus(host, id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(String((status.output as { caught: string }).caught)).toContain("Activity function 'alwaysFails' failed: alwaysFails rejected \"x\"");
    expect(scheduledIds(status.historyEvents)).toEqual(['TaskScheduled:0', 'TimerCreated:1', 'TaskScheduled:2', 'TimerCreated:3']);
  });

  test('unhandled activity failure fails the instance', async () => {
    const id = await startOrchestration(host, 'failsUnhandled');
    const status = await waitForStatus(host, id);
    expect(status.runtimeStatus).toBe('Failed');
    expect(String(status.output)).toContain("Orchestrator function 'failsUnhandled' failed");
    expect(String(status.output)).toContain('alwaysFails rejected');
  });

  test('sub-orchestration failure retries then throws', async () => {
    const id = await startOrchestration(host, 'subOrchestrationFailure');
    const status = await waitForStatus(host, id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(String((status.output as { caught: string }).caught)).toContain("Orchestrator function 'failingChild' failed");
    expect(scheduledIds(status.historyEvents)).toEqual(['SubOrchestrationInstanceCreated:0', 'TimerCreated:1', 'SubOrchestrationInstanceCreated:2', 'TimerCreated:3']);
  });

  test('timer wins the race under the instant clock', async () => {
    const id = await startOrchestration(host, 'approvalGate', { minutes: 30 });
    const status = await waitForStatus(host, id);
    expect(status.runtimeStatus).toBe('Completed');
    const output = status.output as { decision: string; at: string };
    expect(output.decision).toBe('timeout');
    const created = status.historyEvents?.find((e) => e.EventType === 'ExecutionStarted');
    // The clock jumped to the timer's due time, so the orchestrator sees 30 minutes pass.
    expect(Date.parse(output.at) - Date.parse(String(created?.Timestamp))).toBeGreaterThanOrEqual(30 * 60_000 - 1000);
    expect(status.customStatus).toEqual({ phase: 'timedOut' });
  });

  test('long timer waits in steps', async () => {
    const id = await startOrchestration(host, 'longTimer');
    const status = await waitForStatus(host, id);
    expect(status.runtimeStatus).toBe('Completed');
    const output = status.output as { echoed: unknown; waitedMs: number };
    expect(output.echoed).toEqual({ echoed: 'after' });
    expect(output.waitedMs).toBeGreaterThanOrEqual(10 * 86_400_000);
    // Steps at +3 and +6 days, then the final step; each takes a task id without an action.
    expect(scheduledIds(status.historyEvents)).toEqual(['TimerCreated:0', 'TimerCreated:1', 'TimerCreated:2', 'TaskScheduled:3']);
    const fired = (status.historyEvents ?? []).filter((e) => e.EventType === 'TimerFired').map((e) => e.TimerId);
    expect(fired).toEqual([0, 1, 2]);
  });

  test('continue-as-new restarts with new input', async () => {
    const id = await startOrchestration(host, 'loop', 0);
    const status = await waitForStatus(host, id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toBe('done at 3');
    expect(status.input).toBe(3);
    expect(scheduledIds(status.historyEvents)).toEqual(['TaskScheduled:0']);
  });

  test('entity call, signal and failure', async () => {
    const id = await startOrchestration(host, 'entityPaths');
    const status = await waitForStatus(host, id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toEqual({ value: 3, failure: 'caught' });
    const forwarded = await request(`${host.url}/runtime/webhooks/durabletask/entities/counter/forwarded`);
    expect(forwarded.status).toBe(200);
    expect(forwarded.body).toBeGreaterThanOrEqual(10);
  });

  test('non-determinism fails the instance', async () => {
    const id = await startOrchestration(host, 'nonDeterministic');
    const status = await waitForStatus(host, id);
    expect(status.runtimeStatus).toBe('Failed');
    expect(String(status.output)).toContain('Non-deterministic workflow detected');
    expect(String(status.output)).toContain('"0:echo"');
  });

  test('activity raises event through client binding', async () => {
    const target = await startOrchestration(host, 'waitForTwo', undefined, 'two-events');
    await startOrchestration(host, 'raiser', target);
    await waitForStatus(host, target, (s) => s.historyEvents?.some((e) => e.EventType === 'EventRaised') === true);
    await postJson(`${host.url}/runtime/webhooks/durabletask/instances/${target}/raiseEvent/b`, 'from-test');
    const status = await waitForStatus(host, target);
    expect(status.output).toEqual(['from-activity', 'from-test']);
  });

  test('http client binding starts and reads', async () => {
    const start = await postJson(`${host.url}/api/orchestrators/child/via-client`, 4);
    expect(start.status).toBe(202);
    expect((start.body as { statusQueryGetUri: string }).statusQueryGetUri).toContain(`${host.url}/runtime/webhooks/durabletask/instances/via-client`);
    await waitForStatus(host, 'via-client');
    const read = await request(`${host.url}/api/status/via-client`);
    expect(read.body).toEqual({ runtimeStatus: 'Completed', output: 8, customStatus: null });
  });

  test('activity output binding publishes messages', async () => {
    const id = await startOrchestration(host, 'publisher', 'released');
    expect((await waitForStatus(host, id)).output).toBe('published');
    const peeked = await request(`${host.url}/admin/devhost/servicebus/topics/release-events/subscriptions/$tap/messages`);
    const bodies = (peeked.body as { body: { kind?: string } }[]).map((m) => m.body).filter((b) => b.kind === 'released');
    expect(bodies).toEqual([{ kind: 'released', seq: 1 }, { kind: 'released', seq: 2 }]);
  });

  test('suspend holds events until resume', async () => {
    const id = await startOrchestration(host, 'waitForTwo', undefined, 'suspended-1');
    await waitForStatus(host, id, (s) => s.runtimeStatus === 'Running');
    const base = `${host.url}/runtime/webhooks/durabletask/instances/${id}`;
    expect((await request(`${base}/suspend?reason=hold`, { method: 'POST' })).status).toBe(202);
    await waitForStatus(host, id, (s) => s.runtimeStatus === 'Suspended');
    await postJson(`${base}/raiseEvent/a`, 1);
    await postJson(`${base}/raiseEvent/b`, 2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await getStatus(host, id)).runtimeStatus).toBe('Suspended');
    expect((await request(`${base}/resume?reason=go`, { method: 'POST' })).status).toBe(202);
    const status = await waitForStatus(host, id);
    expect(status.output).toEqual([1, 2]);
  });
});
