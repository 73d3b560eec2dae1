import type { Logger } from '../../../src/observability/log';
import { type EventInjection, type ScheduledEventsStore, scheduledEventTypes } from '../imds/scheduledEvents';
import type { IdentitySimulator } from '../identity/server';
import type { ImagePush, RegistryStore } from './acr/registry';
import type { ArmSimulator } from './arm/server';
import type { BuildOutcome } from './arm/containerRegistry';
import { RegistrationError, type ModelVersionInput } from './arm/machineLearning';
import { type ListeningServer, Router, type SimRequest, type SimResponse, armError, isRecord, isStringMap, listen, parseJsonObject, unknownRoute } from './http';

/** Simulator state that the control API reads and changes. */
export interface ControlTargets {
  arm: ArmSimulator;
  store: RegistryStore;
  events: ScheduledEventsStore;
  identity: IdentitySimulator;
  defaultWorkspace: string;
}

const digestForm = /^sha256:[0-9a-f]{64}$/;

/**
 * Starts the control API on plain HTTP (loopback only): tests and `npm start`
 * use it to register model versions, choose build outcomes, push images,
 * inject scheduled events and read what the app did. It is not an Azure API.
 */
export async function startControlApi(options: { host: string; port: number; targets: ControlTargets; log: Logger }): Promise<ListeningServer> {
  const t = options.targets;
  const router = new Router()
    .add('GET', '/health', () => ({ status: 200, json: { ok: true } }))
    .add('POST', '/azureml/models', (r) => registerModel(r, t))
    .add('GET', '/azureml/workspaces/:workspace/models/:name/versions/:version', (r) => readModel(r, t))
    .add('POST', '/acr/builds/next', (r) => queueBuild(r, t))
    .add('GET', '/acr/runs', () => ({ status: 200, json: { value: t.arm.acr.runRecords() } }))
    .add('POST', '/acr/images', (r) => pushImage(r, t))
    .add('POST', '/imds/events', (r) => injectEvent(r, t))
    .add('POST', '/imds/events/:eventId/start', (r) => eventAction(t.events.start(r.params.eventId ?? ''), r))
    .add('POST', '/imds/events/:eventId/complete', (r) => eventAction(t.events.complete(r.params.eventId ?? ''), r))
    .add('GET', '/imds/vms/:vm/scheduledevents', (r) => ({ status: 200, json: t.events.document(r.params.vm ?? '') }))
    .add('PUT', '/imds/vms/:vm', (r) => describeVm(r, t))
    .add('GET', '/arm/writes', () => ({ status: 200, json: { value: t.arm.writes } }))
    .add('GET', '/aks/agentpools', () => ({ status: 200, json: t.arm.aks.poolCounts() }))
    .add('GET', '/identity/requests', () => ({ status: 200, json: { value: t.identity.requests } }));
  return listen({ name: 'control', host: options.host, port: options.port, router, fallback: unknownRoute, log: options.log });
}

function invalid(message: string): SimResponse {
  return armError(400, 'InvalidRequest', message);
}

function registerModel(request: SimRequest, t: ControlTargets): SimResponse {
  const body = parseJsonObject(request);
  if (!body.ok) return body.response;
  const b = body.value;
  const version = typeof b.version === 'number' ? String(b.version) : b.version;
  if (typeof b.name !== 'string' || typeof version !== 'string' || typeof b.modelUri !== 'string') {
    return invalid('send {"name", "version", "modelUri"} and optionally {"workspace", "tags", "properties", "region", "description", "modelType", "flavors"}');
  }
  for (const field of ['workspace', 'region', 'description', 'modelType']) {
    if (b[field] !== undefined && typeof b[field] !== 'string') return invalid(`${field} must be a string`);
  }
  const input: ModelVersionInput = {
    name: b.name,
    version,
    modelUri: b.modelUri,
    ...(isStringMap(b.tags) ? { tags: b.tags } : {}),
    ...(isStringMap(b.properties) ? { properties: b.properties } : {}),
    ...(typeof b.workspace === 'string' ? { workspace: b.workspace } : {}),
    ...(typeof b.region === 'string' ? { region: b.region } : {}),
    ...(typeof b.description === 'string' ? { description: b.description } : {}),
    ...(typeof b.modelType === 'string' ? { modelType: b.modelType } : {}),
  };
  if ((b.tags !== undefined && !input.tags) || (b.properties !== undefined && !input.properties)) return invalid('tags and properties must map strings to strings');
  if (b.flavors !== undefined) {
    if (!isRecord(b.flavors) || !Object.values(b.flavors).every((f) => isRecord(f) && (f.data === undefined || isStringMap(f.data)))) {
      return invalid('flavors must map flavor names to {"data": {string: string}}');
    }
    input.flavors = b.flavors as Record<string, { data?: Record<string, string> }>;
  }
  try {
    return { status: 201, json: t.arm.azureml.register(input) };
  } catch (error) {
    if (error instanceof RegistrationError) return armError(error.status, error.status === 409 ? 'Conflict' : 'InvalidRequest', error.message);
    throw error;
  }
}

function readModel(request: SimRequest, t: ControlTargets): SimResponse {
  const { workspace = t.defaultWorkspace, name = '', version = '' } = request.params;
  const found = t.arm.azureml.read(workspace, name, version);
  return found ? { status: 200, json: found } : armError(404, 'NotFound', `model ${name}:${version} is not registered in workspace ${workspace}`);
}

function queueBuild(request: SimRequest, t: ControlTargets): SimResponse {
  const body = parseJsonObject(request);
  if (!body.ok) return body.response;
  const b = body.value;
  if (b.status !== 'Succeeded' && b.status !== 'Failed') return invalid('status must be "Succeeded" or "Failed"');
  if (b.digest !== undefined && (typeof b.digest !== 'string' || !digestForm.test(b.digest))) return invalid('digest must read sha256: and 64 lowercase hex digits');
  if (b.durationMs !== undefined && (typeof b.durationMs !== 'number' || b.durationMs < 0 || b.durationMs > 600_000)) return invalid('durationMs must be a number of milliseconds from 0 to 600000');
  for (const field of ['logs', 'errorMessage']) if (b[field] !== undefined && typeof b[field] !== 'string') return invalid(`${field} must be a string`);
  const outcome: BuildOutcome = {
    status: b.status,
    ...(typeof b.digest === 'string' ? { digest: b.digest } : {}),
    ...(typeof b.logs === 'string' ? { logs: b.logs } : {}),
    ...(typeof b.durationMs === 'number' ? { durationMs: b.durationMs } : {}),
    ...(typeof b.errorMessage === 'string' ? { errorMessage: b.errorMessage } : {}),
  };
  t.arm.acr.queueOutcome(outcome);
  return { status: 202, json: { queued: outcome } };
}

function pushImage(request: SimRequest, t: ControlTargets): SimResponse {
  const body = parseJsonObject(request);
  if (!body.ok) return body.response;
  const b = body.value;
  if (typeof b.repository !== 'string' || typeof b.digest !== 'string') return invalid('send {"repository", "digest"} and optionally {"tag", "mediaType", "size", "architecture", "os"}');
  const image: ImagePush = {
    repository: b.repository,
    digest: b.digest,
    ...(typeof b.tag === 'string' ? { tag: b.tag } : {}),
    ...(typeof b.mediaType === 'string' ? { mediaType: b.mediaType } : {}),
    ...(typeof b.size === 'number' ? { size: b.size } : {}),
    ...(typeof b.architecture === 'string' ? { architecture: b.architecture } : {}),
    ...(typeof b.os === 'string' ? { os: b.os } : {}),
  };
  try {
    t.store.push(image);
  } catch (error) {
    return invalid(error instanceof Error ? error.message : String(error));
  }
  return { status: 201, json: t.store.manifest(image.repository, image.digest) };
}

function injectEvent(request: SimRequest, t: ControlTargets): SimResponse {
  const body = parseJsonObject(request);
  if (!body.ok) return body.response;
  const b = body.value;
  const eventType = scheduledEventTypes.find((type) => type === b.eventType);
  if (!eventType) return invalid(`eventType must be one of ${scheduledEventTypes.join(', ')}`);
  if (!Array.isArray(b.resources) || b.resources.length === 0 || !b.resources.every((r) => typeof r === 'string' && r !== '')) {
    return invalid('resources must be a non-empty array of VM (node) names');
  }
  if (b.notBeforeSeconds !== undefined && (typeof b.notBeforeSeconds !== 'number' || b.notBeforeSeconds < 0)) return invalid('notBeforeSeconds must be a number of seconds >= 0');
  if (b.eventSource !== undefined && b.eventSource !== 'Platform' && b.eventSource !== 'User') return invalid('eventSource must be "Platform" or "User"');
  if (b.durationInSeconds !== undefined && typeof b.durationInSeconds !== 'number') return invalid('durationInSeconds must be a number');
  if (b.description !== undefined && typeof b.description !== 'string') return invalid('description must be a string');
  const injection: EventInjection = {
    eventType,
    resources: b.resources as string[],
    ...(typeof b.notBeforeSeconds === 'number' ? { notBeforeSeconds: b.notBeforeSeconds } : {}),
    ...(b.eventSource === 'Platform' || b.eventSource === 'User' ? { eventSource: b.eventSource } : {}),
    ...(typeof b.durationInSeconds === 'number' ? { durationInSeconds: b.durationInSeconds } : {}),
    ...(typeof b.description === 'string' ? { description: b.description } : {}),
  };
  return { status: 201, json: t.events.inject(injection) };
}

function eventAction(found: boolean, request: SimRequest): SimResponse {
  return found ? { status: 204 } : armError(404, 'NotFound', `scheduled event ${request.params.eventId ?? ''} does not exist`);
}

function describeVm(request: SimRequest, t: ControlTargets): SimResponse {
  const body = parseJsonObject(request);
  if (!body.ok) return body.response;
  const priority = body.value.priority;
  if (priority !== 'Regular' && priority !== 'Spot') return invalid('priority must be "Regular" or "Spot"');
  t.events.describeVm(request.params.vm ?? '', priority);
  return { status: 204 };
}
