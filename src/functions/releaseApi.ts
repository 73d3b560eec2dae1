import { randomUUID } from 'node:crypto';

import type { HttpMethod, HttpRequest, HttpResponseInit } from '@azure/functions';
import * as df from 'durable-functions';
import { z } from 'zod';

import { type PrincipalConfig, resolvePrincipal } from '../auth/principal';
import { findEndpoint } from '../config/policy';
import { getSettings } from '../config/settings';
import { type AuditEntry, type LedgerRelease, ledgerOperations } from '../contracts/ledger';
import { actionRefusal, type ReleaseAction, releaseActions, type ReleaseActionEvent, type ReleasePhase } from '../contracts/phases';
import type { Actor, ImageRef, ReleaseSubject } from '../contracts/release';
import { TransientError } from '../errors';
import { zodProblems } from '../events/zodProblems';
import { currentPolicy, type IntakeDeps, receivedAt } from '../intake/deps';
import { jsonResponse, parseJsonBody, problemResponse, readLimitedBody } from '../intake/http';
import { buildRequest } from '../intake/request';
import { startRelease } from '../intake/start';
import { durableStarter, type ReleaseInstance } from '../intake/starter';
import { errorText, invocationLogger } from '../observability/log';

export type ReleaseApiDeps = IntakeDeps & { principal: PrincipalConfig; maxBodyBytes: number };

const allPhases: readonly ReleasePhase[] = ['Queued', 'Validating', 'Building', 'Deploying', 'Progressing', 'AwaitingApproval', 'Promoting', 'RollingBack', 'Succeeded', 'RolledBack', 'Rejected', 'Failed', 'Superseded'];
const releaseIdPattern = /^rel-[a-z0-9-]{1,40}-[0-9a-f]{24}$/;
const imageByDigest = /^([a-z0-9.-]+(?::\d+)?)\/([a-z0-9._/-]+?)(?::[\w.-]+)?@(sha256:[0-9a-f]{64})$/;

const startBody = z
  .object({
    endpoint: z.string().min(1),
    model: z.object({ name: z.string().min(1).max(255).regex(/^[^|]+$/), version: z.union([z.string().min(1).max(255).regex(/^[^|]+$/), z.number()]).transform(String) }).strict().optional(),
    image: z
      .union([
        z.string().regex(imageByDigest, 'expected registry/repository@sha256:<64 hex digits>'),
        z.object({ registry: z.string().min(1), repository: z.string().min(1), digest: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'expected sha256: and 64 lowercase hex digits'), tag: z.string().optional() }).strict(),
      ])
      .optional(),
    reason: z.string().max(1000).optional(),
  })
  .strict();

const actionBody = z.object({ reason: z.string().max(1000).optional() }).strict();

function imageRefOf(image: string | ImageRef): ImageRef {
  if (typeof image !== 'string') return image;
  const match = imageByDigest.exec(image)!;
  return { registry: match[1]!, repository: match[2]!, digest: match[3]! };
}

async function whoActed(request: HttpRequest, deps: ReleaseApiDeps): Promise<{ ok: true; actor: Actor } | { ok: false; response: HttpResponseInit }> {
  const principal = await resolvePrincipal(request.headers, deps.principal);
  if (principal.ok) return principal;
  deps.log.warn('release API call rejected: caller identity invalid', { status: 401, reason: principal.reason });
  return { ok: false, response: problemResponse(401, principal.reason, [{ field: 'Authorization', problem: principal.reason, expected: principal.expected }], { 'www-authenticate': 'Bearer' }) };
}

async function readJson(request: HttpRequest, deps: ReleaseApiDeps, emptyAs?: unknown): Promise<{ ok: true; value: unknown } | { ok: false; response: HttpResponseInit }> {
  const body = await readLimitedBody(request, deps.maxBodyBytes);
  if (!body.ok) return body;
  if (body.bytes.length === 0 && emptyAs !== undefined) return { ok: true, value: emptyAs };
  return parseJsonBody(body.bytes);
}

/** Status view of one release for the API and the command line. */
function releaseView(instance: ReleaseInstance): Record<string, unknown> {
  return {
    releaseId: instance.instanceId,
    runtimeStatus: instance.runtimeStatus,
    phase: instance.customStatus?.phase,
    status: instance.customStatus,
    request: instance.input,
    output: instance.output,
    createdTime: instance.createdTime,
    lastUpdatedTime: instance.lastUpdatedTime,
  };
}

/** `POST /api/releases`: starts a release by hand for an endpoint and a model version or an image digest. */
export async function handleStartRelease(request: HttpRequest, deps: ReleaseApiDeps): Promise<HttpResponseInit> {
  const actor = await whoActed(request, deps);
  if (!actor.ok) return actor.response;
  const json = await readJson(request, deps);
  if (!json.ok) return json.response;
  const parsed = startBody.safeParse(json.value);
  if (!parsed.success) return problemResponse(400, 'release request is invalid', zodProblems(parsed.error.issues));
  const body = parsed.data;

  if (!findEndpoint(deps.policy, body.endpoint)) {
    return problemResponse(400, `endpoint ${body.endpoint} is not in the release policy`, [{ field: 'endpoint', problem: `"${body.endpoint}" is unknown`, expected: `one of ${deps.policy.endpoints.map((e) => e.name).join(', ')}` }]);
  }
  if ((body.model === undefined) === (body.image === undefined)) {
    return problemResponse(400, 'name exactly one thing to release', [{ field: 'model', problem: body.model ? 'is sent together with image' : 'and image are both missing', expected: 'either model {name, version} or image "registry/repository@sha256:…"' }]);
  }

  const subject: ReleaseSubject = body.model ? { source: 'manual', endpoint: body.endpoint, model: body.model } : { source: 'manual', endpoint: body.endpoint, image: imageRefOf(body.image!) };
  const releaseRequest = buildRequest(subject, { deliveryId: `manual-${randomUUID()}`, causedBy: actor.actor, receivedAt: receivedAt(deps) });
  const outcome = await startRelease(deps.starter, releaseRequest, deps.log.with({ source: 'manual', actor: actor.actor.id }));
  const statusUrl = `/api/releases/${outcome.releaseId}`;
  return jsonResponse(outcome.outcome === 'started' ? 202 : 200, { ...outcome, statusUrl }, { location: statusUrl });
}

/** Builds the 400 response for a malformed release id; every route that takes an id uses it. */
function malformedId(id: string): HttpResponseInit {
  return problemResponse(400, `release id ${JSON.stringify(id)} is malformed`, [{ field: 'id', problem: 'does not look like a release id', expected: 'rel-<endpoint>-<24 hex digits>, as POST /api/releases and the webhooks return' }]);
}

/** `GET /api/releases/{id}`: the release's runtime status and its custom status (phase, weight, last analysis). */
export async function handleGetRelease(request: HttpRequest, deps: ReleaseApiDeps): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  if (!releaseIdPattern.test(id)) return malformedId(id);
  const instance = await deps.starter.getRelease(id);
  if (!instance) return problemResponse(404, `release ${id} not found`, [{ field: 'id', problem: 'no release has this id', expected: 'an id from GET /api/releases?endpoint=<name>' }]);
  return jsonResponse(200, releaseView(instance));
}

function phaseFilter(text: string | null): { ok: true; phases?: Set<string> } | { ok: false; response: HttpResponseInit } {
  if (!text) return { ok: true };
  const byLower = new Map(allPhases.map((p) => [p.toLowerCase(), p]));
  const wanted = text.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = wanted.filter((w) => !byLower.has(w.toLowerCase()));
  if (unknown.length > 0) {
    return { ok: false, response: problemResponse(400, `unknown status ${unknown.join(', ')}`, [{ field: 'status', problem: `"${unknown.join(', ')}" is not a release phase`, expected: `a comma-separated list of ${allPhases.join(', ')}` }]) };
  }
  return { ok: true, phases: new Set(wanted.map((w) => byLower.get(w.toLowerCase())!)) };
}

/** `GET /api/releases?endpoint=&status=`: releases from the endpoints' ledgers, running first, then queued, then recent history. */
export async function handleListReleases(request: HttpRequest, deps: ReleaseApiDeps): Promise<HttpResponseInit> {
  const endpointName = request.query.get('endpoint');
  const filter = phaseFilter(request.query.get('status'));
  if (!filter.ok) return filter.response;
  if (endpointName && !findEndpoint(deps.policy, endpointName)) {
    return problemResponse(404, `endpoint ${endpointName} is not in the release policy`, [{ field: 'endpoint', problem: `"${endpointName}" is unknown`, expected: `one of ${deps.policy.endpoints.map((e) => e.name).join(', ')}` }]);
  }

  const endpoints = endpointName ? [endpointName] : deps.policy.endpoints.map((e) => e.name);
  const releases: (LedgerRelease & { endpoint: string; state: 'running' | 'queued' | 'finished' })[] = [];
  for (const endpoint of endpoints) {
    const ledger = await deps.starter.readLedger(endpoint);
    if (!ledger) continue;
    const rows = [
      ...(ledger.running ? [{ ...ledger.running, endpoint, state: 'running' as const }] : []),
      ...(ledger.queue ?? []).map((r) => ({ ...r, endpoint, state: 'queued' as const })),
      ...(ledger.history ?? []).map((r) => ({ ...r, endpoint, state: 'finished' as const })),
    ];
    releases.push(...rows.filter((r) => !filter.phases || filter.phases.has(r.phase)));
  }
  return jsonResponse(200, { endpoint: endpointName ?? undefined, status: filter.phases ? [...filter.phases] : undefined, releases });
}

/** Phase the action is checked against; a release without custom status yet has only been accepted. */
function currentPhase(instance: ReleaseInstance): ReleasePhase | undefined {
  if (instance.customStatus?.phase) return instance.customStatus.phase;
  return instance.runtimeStatus === 'Pending' || instance.runtimeStatus === 'Running' ? 'Queued' : undefined;
}

/** `POST /api/releases/{id}/{action}`: raises approve, reject, promote, rollback or abort on a running release. */
export async function handleReleaseAction(request: HttpRequest, deps: ReleaseApiDeps): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  const action = (request.params.action ?? '') as ReleaseAction;
  if (!releaseActions.includes(action)) {
    return problemResponse(404, `action ${JSON.stringify(action)} does not exist`, [{ field: 'action', problem: `"${action}" is unknown`, expected: `one of ${releaseActions.join(', ')}` }]);
  }
  const actor = await whoActed(request, deps);
  if (!actor.ok) return actor.response;
  const json = await readJson(request, deps, {});
  if (!json.ok) return json.response;
  const body = actionBody.safeParse(json.value);
  if (!body.success) return problemResponse(400, 'action body is invalid', zodProblems(body.error.issues));

  if (!releaseIdPattern.test(id)) return malformedId(id);
  const instance = await deps.starter.getRelease(id);
  if (!instance) {
    deps.log.warn('release action on unknown release', { releaseId: id, action, status: 404 });
    return problemResponse(404, `release ${id} not found`, [{ field: 'id', problem: 'no release has this id', expected: 'an id from GET /api/releases?endpoint=<name>' }]);
  }
  const phase = currentPhase(instance);
  const refusal = phase ? actionRefusal(action, phase) : `cannot ${action} a release whose instance is ${instance.runtimeStatus}`;
  if (refusal) {
    deps.log.info('release action refused', { releaseId: id, action, phase, status: 409, reason: refusal });
    const allowed = phase ? releaseActions.filter((a) => actionRefusal(a, phase) === undefined) : [];
    const expected = allowed.length > 0 ? `one of ${allowed.join(', ')}, the actions allowed in phase ${phase}` : `no action: the release is ${phase ?? instance.runtimeStatus} and takes none`;
    return problemResponse(409, refusal, [{ field: 'action', problem: refusal, expected }]);
  }

  const event: ReleaseActionEvent = { action, actor: actor.actor, requestedAt: receivedAt(deps) };
  if (body.data.reason) event.reason = body.data.reason;
  if (!(await deps.starter.raiseAction(id, event))) return problemResponse(404, `release ${id} not found`, [{ field: 'id', problem: 'the instance disappeared', expected: 'an existing release id' }]);
  const endpoint = instance.customStatus?.endpoint ?? instance.input?.endpoint;
  if (endpoint) {
    const entry: AuditEntry = { at: event.requestedAt, releaseId: id, action, actor: actor.actor, detail: `requested over the release API${event.reason ? `: ${event.reason}` : ''}` };
    // The action is raised already; failing the call now would invite a second raise on retry.
    await deps.starter.signalLedger(endpoint, ledgerOperations.audit, entry).catch((error: unknown) => {
      deps.log.error('audit entry of a raised release action not recorded', { releaseId: id, endpoint, action, actor: actor.actor.id, error: errorText(error) });
    });
  }
  deps.log.info('release action raised', { releaseId: id, action, phase, actor: actor.actor.id, outcome: 'raised' });
  return jsonResponse(202, { releaseId: id, action, phase, actor: actor.actor, requestedAt: event.requestedAt });
}

/** Builds the API dependencies from the app settings. */
function apiDeps(client: df.DurableClient, context: Parameters<typeof invocationLogger>[0]): ReleaseApiDeps {
  const settings = getSettings();
  const principal: PrincipalConfig = { trustAppServiceAuth: settings.WEBSITE_AUTH_ENABLED };
  if (settings.ENTRA_ISSUER && settings.ENTRA_AUDIENCE && settings.ENTRA_JWKS_URI) {
    principal.bearer = { issuer: settings.ENTRA_ISSUER, audience: settings.ENTRA_AUDIENCE, jwksUri: settings.ENTRA_JWKS_URI };
    if (settings.ENTRA_TENANT_ID) principal.bearer.tenantId = settings.ENTRA_TENANT_ID;
  }
  return { starter: durableStarter(client), policy: currentPolicy(), log: invocationLogger(context, { source: 'release-api' }), principal, maxBodyBytes: settings.WEBHOOK_MAX_BODY_BYTES };
}

/** Returns 503 when the Durable backend cannot be reached, instead of failing the invocation with 500. */
async function guarded(deps: ReleaseApiDeps, work: () => Promise<HttpResponseInit>): Promise<HttpResponseInit> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof TransientError)) throw error;
    deps.log.error('release API call failed: Durable backend unreachable', { error: errorText(error), status: 503 });
    return problemResponse(503, 'the release backend is unreachable; try again shortly', [], { 'retry-after': '10' });
  }
}

/** Registers one release API function at function-key auth level. */
function registerApi(name: string, route: string, methods: HttpMethod[], handle: (request: HttpRequest, deps: ReleaseApiDeps) => Promise<HttpResponseInit>): void {
  df.app.client.http(name, {
    route,
    methods,
    authLevel: 'function',
    handler: (request, client, context) => {
      const deps = apiDeps(client, context);
      return guarded(deps, () => handle(request, deps));
    },
  });
}

registerApi('releases', 'releases', ['GET', 'POST'], (request, deps) => (request.method === 'POST' ? handleStartRelease(request, deps) : handleListReleases(request, deps)));
registerApi('releaseStatus', 'releases/{id}', ['GET'], handleGetRelease);
registerApi('releaseAction', 'releases/{id}/{action}', ['POST'], handleReleaseAction);
