import { createHash, randomUUID } from 'node:crypto';

import type { Logger } from '../../../src/observability/log';
import { type ListeningServer, Router, type SimRequest, type SimResponse, isRecord, listen, unknownRoute } from '../azure/http';

/** Scheduled event types that Azure sends to VMs. */
export const scheduledEventTypes = ['Freeze', 'Reboot', 'Redeploy', 'Preempt', 'Terminate'] as const;
export type ScheduledEventType = (typeof scheduledEventTypes)[number];

/** One event in the document, with IMDS's field names. */
export interface ScheduledEvent {
  EventId: string;
  EventStatus: 'Scheduled' | 'Started';
  EventType: ScheduledEventType;
  ResourceType: 'VirtualMachine';
  Resources: string[];
  /** RFC 1123 time, or "" once the event has started. */
  NotBefore: string;
  Description: string;
  EventSource: 'Platform' | 'User';
  DurationInSeconds?: number;
}

/** The document `GET /metadata/scheduledevents` returns. */
export interface ScheduledEventsDocument {
  DocumentIncarnation: number;
  Events: ScheduledEvent[];
}

/** An event to inject through the control API. */
export interface EventInjection {
  eventType: ScheduledEventType;
  /** VMs (Kubernetes node names) the event affects. */
  resources: string[];
  /** Seconds from now until NotBefore; defaults to Azure's minimum notice for the type. */
  notBeforeSeconds?: number;
  description?: string;
  eventSource?: 'Platform' | 'User';
  durationInSeconds?: number;
}

/**
 * Minimum notice per event type, in seconds, from the Azure Scheduled Events
 * documentation: Preempt 30 s, Terminate configurable from 5 minutes (the
 * default used here), Freeze, Reboot and Redeploy 15, 15 and 10 minutes.
 */
const minimumNoticeSeconds: Record<ScheduledEventType, number> = { Preempt: 30, Terminate: 300, Freeze: 900, Reboot: 900, Redeploy: 600 };

/** API versions IMDS lists as newest in its error bodies; any date-form version is accepted. */
const newestVersions = ['2020-07-01', '2019-08-01', '2019-01-01'];
const apiVersionForm = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Scheduled events of every simulated VM. Each VM reads the events whose
 * Resources name it, and each VM's DocumentIncarnation rises on every change
 * that VM can see. A Scheduled event starts on acknowledgement or when its
 * NotBefore passes, as Azure does.
 */
export class ScheduledEventsStore {
  private readonly events: ScheduledEvent[] = [];
  private readonly incarnations = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly priorities = new Map<string, 'Regular' | 'Spot'>();

  constructor(private readonly log: Logger, readonly location: string) {}

  /** Records a VM's scale-set priority, which `/metadata/instance/compute` reports. */
  describeVm(vm: string, priority: 'Regular' | 'Spot'): void {
    this.priorities.set(vm, priority);
  }

  /** Returns the recorded priority of a VM, or Regular when none was recorded. */
  priorityOf(vm: string): 'Regular' | 'Spot' {
    return this.priorities.get(vm) ?? 'Regular';
  }

  /** Adds an event and bumps the incarnation of every VM it names. */
  inject(injection: EventInjection): ScheduledEvent {
    const notice = injection.notBeforeSeconds ?? minimumNoticeSeconds[injection.eventType];
    const event: ScheduledEvent = {
      EventId: randomUUID().toUpperCase(),
      EventStatus: 'Scheduled',
      EventType: injection.eventType,
      ResourceType: 'VirtualMachine',
      Resources: [...injection.resources],
      NotBefore: new Date(Date.now() + notice * 1000).toUTCString(),
      Description: injection.description ?? '',
      EventSource: injection.eventSource ?? 'Platform',
      // Preempt documents carry no DurationInSeconds (see the spot eviction sample).
      ...(injection.eventType === 'Preempt' ? {} : { DurationInSeconds: injection.durationInSeconds ?? -1 }),
    };
    this.events.push(event);
    this.bump(event.Resources);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.start(event.EventId);
    }, notice * 1000);
    timer.unref();
    this.timers.add(timer);
    this.log.info('sim scheduled event injected', { eventId: event.EventId, eventType: event.EventType, nodeName: event.Resources.join(',') });
    return event;
  }

  /** Returns the document a VM reads. */
  document(vm: string): ScheduledEventsDocument {
    return { DocumentIncarnation: this.incarnations.get(vm) ?? 1, Events: this.events.filter((e) => e.Resources.includes(vm)).map((e) => ({ ...e, Resources: [...e.Resources] })) };
  }

  /** Moves an event to Started; false when no such event exists. Starting a Started event changes nothing. */
  start(eventId: string): boolean {
    const event = this.events.find((e) => e.EventId.toLowerCase() === eventId.toLowerCase());
    if (!event) return false;
    if (event.EventStatus === 'Started') return true;
    event.EventStatus = 'Started';
    event.NotBefore = '';
    this.bump(event.Resources);
    this.log.info('sim scheduled event started', { eventId: event.EventId, eventType: event.EventType });
    return true;
  }

  /** Removes an event, as Azure does once the operation is over; false when unknown. */
  complete(eventId: string): boolean {
    const index = this.events.findIndex((e) => e.EventId.toLowerCase() === eventId.toLowerCase());
    const event = this.events[index];
    if (!event) return false;
    this.events.splice(index, 1);
    this.bump(event.Resources);
    return true;
  }

  /** True when an event exists and names `vm`. */
  visibleTo(eventId: string, vm: string): boolean {
    return this.events.some((e) => e.EventId.toLowerCase() === eventId.toLowerCase() && e.Resources.includes(vm));
  }

  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private bump(vms: string[]): void {
    for (const vm of vms) this.incarnations.set(vm, (this.incarnations.get(vm) ?? 1) + 1);
  }
}

/** Header that selects the VM on the root path, as an alternative to the `/vms/<name>` prefix. */
export const vmHeader = 'x-sim-vm-name';

/**
 * Starts the IMDS stand-in on plain HTTP, as IMDS is. A VM is selected by the
 * path prefix `/vms/<name>` (so IMDS_ENDPOINT can be `http://127.0.0.1:<port>/vms/<node>`)
 * or, on the root path, by the `x-sim-vm-name` header.
 */
export async function startImdsSimulator(options: { host: string; port: number; store: ScheduledEventsStore; log: Logger }): Promise<ListeningServer & { endpoint: string }> {
  const { store } = options;
  const handlers = {
    get: (request: SimRequest, vm: string | undefined) => guarded(request, vm, (name) => ({ status: 200, json: store.document(name) })),
    post: (request: SimRequest, vm: string | undefined) => guarded(request, vm, (name) => acknowledge(request, name, store)),
    compute: (request: SimRequest, vm: string | undefined) => guarded(request, vm, (name) => ({ status: 200, json: computeMetadata(name, store) })),
  };
  const router = new Router()
    .add('GET', '/vms/:vm/metadata/scheduledevents', (r) => handlers.get(r, r.params.vm))
    .add('POST', '/vms/:vm/metadata/scheduledevents', (r) => handlers.post(r, r.params.vm))
    .add('GET', '/vms/:vm/metadata/instance/compute', (r) => handlers.compute(r, r.params.vm))
    .add('GET', '/metadata/scheduledevents', (r) => handlers.get(r, headerVm(r)))
    .add('POST', '/metadata/scheduledevents', (r) => handlers.post(r, headerVm(r)))
    .add('GET', '/metadata/instance/compute', (r) => handlers.compute(r, headerVm(r)));
  const server = await listen({ name: 'imds', host: options.host, port: options.port, router, fallback: unknownRoute, log: options.log });
  return { ...server, endpoint: server.origin };
}

function headerVm(request: SimRequest): string | undefined {
  const value = request.headers[vmHeader];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** IMDS's own checks: the Metadata header, no X-Forwarded-For, an api-version, then (sim only) a selected VM. */
function guarded(request: SimRequest, vm: string | undefined, then: (vm: string) => SimResponse): SimResponse {
  if (request.headers.metadata !== 'true') return { status: 400, json: { error: 'Bad request. Required metadata header not specified' } };
  // IMDS rejects proxied requests, so that a proxy cannot read metadata on a caller's behalf.
  if (request.headers['x-forwarded-for'] !== undefined) return { status: 400, json: { error: 'Bad request. Requests with the X-Forwarded-For header are not allowed' } };
  const apiVersion = request.url.searchParams.get('api-version');
  if (!apiVersion) return { status: 400, json: { error: 'Bad request. api-version was not specified in the request. For more information refer to aka.ms/azureimds', 'newest-versions': newestVersions } };
  if (!apiVersionForm.test(apiVersion)) return { status: 400, json: { error: 'Bad request. api-version is invalid or was not specified in the request. For more information refer to aka.ms/azureimds', 'newest-versions': newestVersions } };
  if (!vm) return { status: 400, json: { error: `Bad request. The simulator serves many VMs: use the path /vms/<name>/metadata/... or the ${vmHeader} header to select one.` } };
  return then(vm);
}

function acknowledge(request: SimRequest, vm: string, store: ScheduledEventsStore): SimResponse {
  let body: unknown;
  try {
    body = JSON.parse(request.body.toString('utf8'));
  } catch {
    return { status: 400, json: { error: 'Bad request. The body is not valid JSON; send {"StartRequests":[{"EventId":"<id>"}]}' } };
  }
  const requests = isRecord(body) ? body.StartRequests : undefined;
  if (!Array.isArray(requests) || requests.length === 0) return { status: 400, json: { error: 'Bad request. StartRequests must be a non-empty array of {"EventId":"<id>"}' } };
  const ids: string[] = [];
  for (const entry of requests) {
    const id = isRecord(entry) ? entry.EventId : undefined;
    if (typeof id !== 'string' || !store.visibleTo(id, vm)) return { status: 400, json: { error: `Bad request. EventId ${JSON.stringify(id)} is not a scheduled event of VM ${vm}` } };
    ids.push(id);
  }
  for (const id of ids) store.start(id);
  return { status: 200, text: '' };
}

/** Builds the subset of `/metadata/instance/compute` that a node agent reads to learn which VM it is on. */
function computeMetadata(vm: string, store: ScheduledEventsStore): Record<string, unknown> {
  const hex = createHash('sha256').update(vm).digest('hex');
  const vmId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
  return { name: vm, osType: 'Linux', priority: store.priorityOf(vm), vmId, location: store.location };
}
