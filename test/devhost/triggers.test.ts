import fs from 'node:fs';
import path from 'node:path';

import { postJson, request, startTestHost, type TestHost } from './helpers';

let host: TestHost;
const sb = () => `${host.url}/admin/devhost/servicebus`;

async function peek(entityPath: string, query = ''): Promise<Record<string, unknown>[]> {
  return (await request(`${sb()}/${entityPath}/messages${query}`)).body as Record<string, unknown>[];
}

async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  host = await startTestHost({ env: { DEVHOST_SERVICEBUS_MAX_DELIVERY_COUNT: '3' } });
});

afterAll(async () => {
  await host?.stop();
});

describe('http triggers', () => {
  test('route params and raw body', async () => {
    const bytes = Buffer.from([0, 255, 1, 254, 13, 10, 0x80]);
    const response = await fetch(`${host.url}/api/echo/42/extra?x=1&y=2`, { method: 'POST', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);
    expect(JSON.parse(response.headers.get('x-params') ?? '{}')).toEqual({ id: '42', tail: 'extra' });
    expect(JSON.parse(response.headers.get('x-query') ?? '{}')).toEqual({ x: '1', y: '2' });
  });

  test('optional param and int constraint', async () => {
    const withoutTail = await request(`${host.url}/api/echo/7`);
    expect(withoutTail.status).toBe(200);
    expect(JSON.parse(withoutTail.headers.get('x-params') ?? '{}')).toEqual({ id: '7' });
    expect((await request(`${host.url}/api/echo/seven`)).status).toBe(404);
  });

  test('method not in list is rejected', async () => {
    expect((await request(`${host.url}/api/echo/7`, { method: 'DELETE' })).status).toBe(405);
  });

  test('handler error returns 500', async () => {
    expect((await request(`${host.url}/api/throws`)).status).toBe(500);
    expect(host.output.some((line) => line.includes('"functionName":"httpThrows"') && line.includes('"outcome":"failed"'))).toBe(true);
  });

  test('invocation log line has ids', async () => {
    await request(`${host.url}/api/echo/1`);
    const line = host.output.map((l) => l.trim()).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.functionName === 'httpEcho');
    expect(line).toMatchObject({ level: 'info', message: 'function invoked', outcome: 'succeeded', triggerType: 'httpTrigger' });
    expect(typeof line?.invocationId).toBe('string');
    expect(typeof line?.durationMs).toBe('number');
  });
});

describe('admin api', () => {
  test('lists functions with trigger types', async () => {
    const response = await request(`${host.url}/admin/functions`);
    expect(response.status).toBe(200);
    const list = response.body as { name: string; trigger: string }[];
    const byName = Object.fromEntries(list.map((f) => [f.name, f.trigger]));
    expect(byName).toMatchObject({ httpEcho: 'httpTrigger', gridSink: 'eventGridTrigger', yearly: 'timerTrigger', workQueue: 'serviceBusTrigger', conformance: 'orchestrationTrigger', echo: 'activityTrigger', counter: 'entityTrigger' });
  });

  test('fires a timer on demand', async () => {
    expect((await postJson(`${host.url}/admin/functions/yearly`, {})).status).toBe(202);
    const ticks = await waitFor(() => peek('queues/ticks'), (m) => m.length > 0);
    expect(ticks[0]?.body).toEqual({ isPastDue: false, hasStatus: true });
  });

  test('runs runOnStartup timers at start', async () => {
    const startup = await waitFor(() => peek('queues/startup-ticks'), (m) => m.length > 0);
    expect(startup.map((m) => m.body)).toEqual([{ isPastDue: false }]);
  });

  test('rejects unknown function', async () => {
    expect((await postJson(`${host.url}/admin/functions/nope`, {})).status).toBe(404);
  });
});

describe('event grid endpoint', () => {
  const endpoint = () => `${host.url}/runtime/webhooks/eventgrid?functionName=gridSink`;

  test('answers the validation handshake', async () => {
    const response = await request(endpoint(), { method: 'POST', headers: { 'aeg-event-type': 'SubscriptionValidation', 'content-type': 'application/json' }, body: JSON.stringify([{ id: 'v', eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent', data: { validationCode: 'abc-123' } }]) });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ validationResponse: 'abc-123' });
  });

  test('answers the CloudEvents handshake', async () => {
    const response = await request(endpoint(), { method: 'OPTIONS', headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('webhook-allowed-origin')).toBe('eventgrid.azure.net');
  });

  test('splits a batch into invocations', async () => {
    const events = [1, 2, 3].map((i) => ({ id: `batch-${i}`, eventType: 'Test.Event', subject: 's', data: {}, dataVersion: '1', eventTime: new Date().toISOString() }));
    const response = await request(endpoint(), { method: 'POST', headers: { 'aeg-event-type': 'Notification', 'content-type': 'application/json' }, body: JSON.stringify(events) });
    expect(response.status).toBe(202);
    const seen = await waitFor(() => peek('queues/grid-seen'), (m) => m.length >= 3);
    expect(seen.map((m) => (m.body as { id: string }).id)).toEqual(['batch-1', 'batch-2', 'batch-3']);
  });

  test('single CloudEvent runs once', async () => {
    const event = { specversion: '1.0', id: 'ce-1', type: 'Test.CloudEvent', source: '/test', time: new Date().toISOString(), data: {} };
    const response = await request(endpoint(), { method: 'POST', headers: { 'aeg-event-type': 'Notification', 'content-type': 'application/cloudevents+json' }, body: JSON.stringify(event) });
    expect(response.status).toBe(202);
    const seen = await waitFor(() => peek('queues/grid-seen'), (m) => m.some((x) => (x.body as { id: string }).id === 'ce-1'));
    expect(seen.find((x) => (x.body as { id: string }).id === 'ce-1')?.body).toEqual({ id: 'ce-1', type: 'Test.CloudEvent' });
  });

  test('one failed event fails the delivery', async () => {
    const events = [{ id: 'ok-1', eventType: 'Test.Event', data: {} }, { id: 'bad-1', eventType: 'Test.Event', data: { fail: true } }];
    const response = await request(endpoint(), { method: 'POST', headers: { 'aeg-event-type': 'Notification', 'content-type': 'application/json' }, body: JSON.stringify(events) });
    expect(response.status).toBe(500);
  });

  test('unknown function is not found', async () => {
    const response = await request(`${host.url}/runtime/webhooks/eventgrid?functionName=nope`, { method: 'POST', headers: { 'aeg-event-type': 'Notification' }, body: '[]' });
    expect(response.status).toBe(404);
  });
});

describe('service bus broker', () => {
  test('trigger publishes to the topic with metadata', async () => {
    const sent = await postJson(`${sb()}/queues/work/messages`, { body: { note: 'hello' }, messageId: '123', applicationProperties: { Source: 'test' } });
    expect(sent.status).toBe(201);
    const published = await waitFor(() => peek('topics/release-events/subscriptions/$tap'), (m) => m.some((x) => (x.body as { note?: string }).note === 'hello'));
    const event = published.find((x) => (x.body as { note?: string }).note === 'hello');
    // MessageId "123" stays a string; nested application property keys are camel-cased by the library.
    expect(event?.body).toEqual({ note: 'hello', messageId: '123', deliveryCount: 1, applicationProperties: { source: 'test' } });
    expect(await peek('queues/work')).toEqual([]);
  });

  test('failing message is dead-lettered after max deliveries', async () => {
    await postJson(`${sb()}/queues/work/messages`, { body: { fail: true }, messageId: 'poison' });
    const dead = await waitFor(() => peek('queues/work', '?deadLetter=true'), (m) => m.some((x) => x.messageId === 'poison'));
    const poison = dead.find((x) => x.messageId === 'poison');
    expect(poison).toMatchObject({ deadLetterReason: 'MaxDeliveryCountExceeded', deliveryCount: 3, state: 'DeadLettered' });
  });

  test('peek-lock complete and abandon', async () => {
    await postJson(`${sb()}/queues/manual/messages`, [{ body: 'one' }, { body: 'two' }]);
    const first = (await request(`${sb()}/queues/manual/messages/head`, { method: 'POST' })).body as { sequenceNumber: number; lockToken: string; body: string; deliveryCount: number };
    expect(first).toMatchObject({ body: 'one', deliveryCount: 1 });
    expect((await request(`${sb()}/queues/manual/messages/${first.sequenceNumber}/${first.lockToken}`, { method: 'PUT' })).status).toBe(200);
    const again = (await request(`${sb()}/queues/manual/messages/head`, { method: 'POST' })).body as { sequenceNumber: number; lockToken: string; deliveryCount: number };
    expect(again).toMatchObject({ sequenceNumber: first.sequenceNumber, deliveryCount: 2 });
    expect((await request(`${sb()}/queues/manual/messages/${again.sequenceNumber}/${first.lockToken}`, { method: 'DELETE' })).status).toBe(410);
    expect((await request(`${sb()}/queues/manual/messages/${again.sequenceNumber}/${again.lockToken}`, { method: 'DELETE' })).status).toBe(200);
    expect((await peek('queues/manual')).map((m) => m.body)).toEqual(['two']);
  });

  test('expired lock makes the message visible again', async () => {
    await postJson(`${sb()}/queues/expiry/messages`, { body: 'x' });
    const locked = (await request(`${sb()}/queues/expiry/messages/head?lockDurationMs=100`, { method: 'POST' })).body as { sequenceNumber: number; lockToken: string };
    expect((await request(`${sb()}/queues/expiry/messages/head`, { method: 'POST' })).status).toBe(204);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const relocked = (await request(`${sb()}/queues/expiry/messages/head`, { method: 'POST' })).body as { sequenceNumber: number; deliveryCount: number };
    expect(relocked).toMatchObject({ sequenceNumber: locked.sequenceNumber, deliveryCount: 2 });
    expect((await request(`${sb()}/queues/expiry/messages/${locked.sequenceNumber}/${locked.lockToken}`, { method: 'DELETE' })).status).toBe(410);
  });

  test('many cardinality delivers a batch', async () => {
    await postJson(`${sb()}/queues/batch/messages`, [{ body: { n: 1 }, messageId: 'b1' }, { body: 'two', messageId: 'b2' }, { body: { n: 3 }, messageId: 'b3' }]);
    const seen = await waitFor(() => peek('queues/batch-seen'), (m) => m.length > 0);
    expect(seen[0]?.body).toEqual({ bodies: [{ n: 1 }, 'two', { n: 3 }], messageIds: ['b1', 'b2', 'b3'] });
    expect(await peek('queues/batch')).toEqual([]);
  });

  test('topic fans out to subscriptions', async () => {
    expect((await request(`${sb()}/topics/fan/subscriptions/one`, { method: 'PUT' })).status).toBe(201);
    await postJson(`${sb()}/topics/fan/messages`, { body: { n: 1 } });
    expect((await peek('topics/fan/subscriptions/one')).map((m) => m.body)).toEqual([{ n: 1 }]);
    expect((await peek('topics/fan/subscriptions/$tap')).map((m) => m.body)).toEqual([{ n: 1 }]);
  });
});

describe('function keys', () => {
  let keyed: TestHost;

  beforeAll(async () => {
    const stateDir = fs.mkdtempSync(path.join(host.stateDir, '..', 'devhost-keys-'));
    fs.writeFileSync(path.join(stateDir, 'host-keys.json'), JSON.stringify({ masterKey: 'master-1', functionKeys: { default: 'host-1' }, functions: { httpKeyed: { default: 'fn-1' } }, systemKeys: { eventgrid_extension: 'eg-1', durabletask_extension: 'dt-1' } }));
    keyed = await startTestHost({ stateDir });
  });

  afterAll(async () => {
    await keyed?.stop();
  });

  test('function level needs a key', async () => {
    expect((await request(`${keyed.url}/api/keyed`)).status).toBe(401);
    expect((await request(`${keyed.url}/api/keyed?code=wrong`)).status).toBe(401);
    expect((await request(`${keyed.url}/api/keyed?code=fn-1`)).status).toBe(200);
    expect((await request(`${keyed.url}/api/keyed`, { headers: { 'x-functions-key': 'host-1' } })).status).toBe(200);
    expect((await request(`${keyed.url}/api/keyed?code=master-1`)).status).toBe(200);
  });

  test('admin level needs the master key', async () => {
    expect((await request(`${keyed.url}/api/adminonly?code=host-1`)).status).toBe(401);
    expect((await request(`${keyed.url}/api/adminonly?code=master-1`)).status).toBe(200);
    expect((await request(`${keyed.url}/admin/functions`)).status).toBe(401);
  });

  test('anonymous and system keys', async () => {
    expect((await request(`${keyed.url}/api/echo/1`)).status).toBe(200);
    const grid = `${keyed.url}/runtime/webhooks/eventgrid?functionName=gridSink`;
    expect((await request(grid, { method: 'POST', headers: { 'aeg-event-type': 'Notification' }, body: '[]' })).status).toBe(401);
    expect((await request(`${grid}&code=eg-1`, { method: 'POST', headers: { 'aeg-event-type': 'Notification' }, body: '[]' })).status).toBe(202);
  });

  test('client binding urls carry the durable key', async () => {
    const start = await postJson(`${keyed.url}/api/orchestrators/child`, 1);
    expect((start.body as { statusQueryGetUri: string }).statusQueryGetUri).toContain('code=dt-1');
  });
});
