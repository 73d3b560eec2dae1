import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { ScheduledEvent, ScheduledEventsDocument } from '../../sim/src/azure';
import { type SimFixture, send, startSims } from './azureHarness';

let fixture: SimFixture;
const fixtures = join(__dirname, '..', 'fixtures', 'imds-scheduled-events');

function corpus(name: string): ScheduledEventsDocument {
  return JSON.parse(readFileSync(join(fixtures, name), 'utf8')) as ScheduledEventsDocument;
}

beforeAll(async () => {
  fixture = await startSims();
});

afterAll(async () => {
  await fixture?.stop();
});

function eventsUrl(vm: string): string {
  return `${fixture.sims.imds.endpoint}/vms/${vm}/metadata/scheduledevents?api-version=2020-07-01`;
}

async function readDocument(vm: string): Promise<ScheduledEventsDocument> {
  const response = await send(eventsUrl(vm), { headers: { Metadata: 'true' } });
  expect(response.status).toBe(200);
  return response.json() as ScheduledEventsDocument;
}

async function inject(body: Record<string, unknown>): Promise<ScheduledEvent> {
  const response = await send(`${fixture.sims.control.url}/imds/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(response.status).toBe(201);
  return response.json() as ScheduledEvent;
}

async function acknowledge(vm: string, eventId: string): Promise<number> {
  const response = await send(eventsUrl(vm), { method: 'POST', headers: { Metadata: 'true', 'content-type': 'application/json' }, body: JSON.stringify({ StartRequests: [{ EventId: eventId }] }) });
  return response.status;
}

describe('IMDS scheduled events simulator', () => {
  test('request without Metadata header gets 400', async () => {
    const response = await send(eventsUrl('aks-gpuspot-0'));

    expect(response.status).toBe(400);
    expect(response.json()).toEqual({ error: 'Bad request. Required metadata header not specified' });
  });

  test('proxied request gets 400', async () => {
    const response = await send(eventsUrl('aks-gpuspot-0'), { headers: { Metadata: 'true', 'X-Forwarded-For': '10.0.0.4' } });

    expect(response.status).toBe(400);
  });

  test('request without api-version gets 400', async () => {
    const response = await send(`${fixture.sims.imds.endpoint}/vms/aks-gpuspot-0/metadata/scheduledevents`, { headers: { Metadata: 'true' } });

    expect(response.status).toBe(400);
    expect(response.json()).toMatchObject({ 'newest-versions': expect.any(Array) as unknown });
  });

  test('empty document has the corpus shape', async () => {
    const document = await readDocument('aks-system-0');
    const sample = corpus('no-events.azure-samples.json');

    expect(Object.keys(document).sort()).toEqual(Object.keys(sample).sort());
    expect(document.Events).toEqual([]);
  });

  test('preempt event has the corpus shape', async () => {
    const event = await inject({ eventType: 'Preempt', resources: ['aks-gpuspot-1'] });
    const document = await readDocument('aks-gpuspot-1');
    const sample = corpus('preempt-spot-simulate-eviction.spot-powershell-docs.json').Events[0];

    expect(document.Events).toHaveLength(1);
    expect(Object.keys(document.Events[0] ?? {}).sort()).toEqual(Object.keys(sample ?? {}).sort());
    expect(document.Events[0]).toMatchObject({ EventId: event.EventId, EventStatus: 'Scheduled', EventType: 'Preempt', Resources: ['aks-gpuspot-1'], EventSource: 'Platform' });
    const notice = Date.parse(document.Events[0]?.NotBefore ?? '') - Date.now();
    expect(notice).toBeGreaterThan(25_000);
  });

  test('acknowledgement moves the event to Started', async () => {
    const event = await inject({ eventType: 'Reboot', resources: ['aks-gpu-0'], eventSource: 'User' });
    const before = await readDocument('aks-gpu-0');

    expect(await acknowledge('aks-gpu-0', event.EventId)).toBe(200);

    const after = await readDocument('aks-gpu-0');
    expect(after.DocumentIncarnation).toBeGreaterThan(before.DocumentIncarnation);
    expect(after.Events[0]).toMatchObject({ EventId: event.EventId, EventStatus: 'Started', NotBefore: '' });
  });

  test('event for two VMs shows in both documents', async () => {
    const event = await inject({ eventType: 'Freeze', resources: ['aks-system-1', 'aks-system-2'], durationInSeconds: 5 });
    const first = await readDocument('aks-system-1');
    const other = await readDocument('aks-gpu-9');

    expect((await readDocument('aks-system-2')).Events.map((e) => e.EventId)).toEqual([event.EventId]);
    expect(first.Events[0]).toMatchObject({ EventType: 'Freeze', DurationInSeconds: 5, Resources: ['aks-system-1', 'aks-system-2'] });
    expect(other.Events).toEqual([]);
  });

  test('every event type can be injected', async () => {
    for (const eventType of ['Preempt', 'Reboot', 'Redeploy', 'Freeze', 'Terminate']) {
      const event = await inject({ eventType, resources: [`vm-${eventType.toLowerCase()}`] });
      expect((await readDocument(`vm-${eventType.toLowerCase()}`)).Events[0]?.EventId).toBe(event.EventId);
    }
  });

  test('event starts by itself at NotBefore', async () => {
    const event = await inject({ eventType: 'Terminate', resources: ['aks-gpuspot-7'], notBeforeSeconds: 0 });
    await new Promise((resolve) => setTimeout(resolve, 100));

    const document = await readDocument('aks-gpuspot-7');
    expect(document.Events[0]).toMatchObject({ EventId: event.EventId, EventStatus: 'Started' });
  });

  test('completed event leaves the document', async () => {
    const event = await inject({ eventType: 'Redeploy', resources: ['aks-gpu-5'] });
    const before = await readDocument('aks-gpu-5');

    const response = await send(`${fixture.sims.control.url}/imds/events/${event.EventId}/complete`, { method: 'POST' });

    expect(response.status).toBe(204);
    const after = await readDocument('aks-gpu-5');
    expect(after.Events).toEqual([]);
    expect(after.DocumentIncarnation).toBeGreaterThan(before.DocumentIncarnation);
  });

  test('acknowledging another VM event gets 400', async () => {
    const event = await inject({ eventType: 'Reboot', resources: ['aks-gpu-3'] });

    expect(await acknowledge('aks-gpu-4', event.EventId)).toBe(400);
  });

  test('VM header selects the VM on the root path', async () => {
    const event = await inject({ eventType: 'Preempt', resources: ['aks-gpuspot-2'] });
    const response = await send(`${fixture.sims.imds.endpoint}/metadata/scheduledevents?api-version=2020-07-01`, { headers: { Metadata: 'true', 'x-sim-vm-name': 'aks-gpuspot-2' } });

    expect((response.json() as ScheduledEventsDocument).Events[0]?.EventId).toBe(event.EventId);
  });

  test('root path without a VM gets 400', async () => {
    const response = await send(`${fixture.sims.imds.endpoint}/metadata/scheduledevents?api-version=2020-07-01`, { headers: { Metadata: 'true' } });

    expect(response.status).toBe(400);
  });

  test('compute metadata reports the VM priority', async () => {
    const described = await send(`${fixture.sims.control.url}/imds/vms/aks-gpuspot-3`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ priority: 'Spot' }) });
    expect(described.status).toBe(204);

    const response = await send(`${fixture.sims.imds.endpoint}/vms/aks-gpuspot-3/metadata/instance/compute?api-version=2021-02-01`, { headers: { Metadata: 'true' } });

    expect(response.status).toBe(200);
    expect(response.json()).toMatchObject({ name: 'aks-gpuspot-3', priority: 'Spot', location: 'switzerlandnorth' });
  });

  test('control API rejects an unknown event type', async () => {
    const response = await send(`${fixture.sims.control.url}/imds/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ eventType: 'Explode', resources: ['x'] }) });

    expect(response.status).toBe(400);
  });
});
