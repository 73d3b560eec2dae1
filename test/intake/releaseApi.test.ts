import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { HttpRequest } from '@azure/functions';
import type * as JoseModule from 'jose' with { 'resolution-mode': 'import' };

import type { EndpointLedgerState, LedgerRelease } from '../../src/contracts/ledger';
import type { ReleaseActionEvent } from '../../src/contracts/phases';
import { endpointEntityName, type ReleaseRequest } from '../../src/contracts/release';
import { handleGetRelease, handleListReleases, handleReleaseAction, handleStartRelease, type ReleaseApiDeps } from '../../src/functions/releaseApi';
import { handleModelRegistryEvent } from '../../src/functions/eventGrid';
import { fixtureJson, type Harness, startHarness } from './helpers';

const issuer = 'https://login.example.test/tenant/v2.0';
const audience = 'api://aks-model-release';
const digest = `sha256:${'d'.repeat(64)}`;

type Jose = typeof JoseModule;
type SigningKey = Awaited<ReturnType<Jose['generateKeyPair']>>['privateKey'];
// jose is an ES module, so this CommonJS test loads it with import().
const loadJose = (): Promise<Jose> => import('jose');

/** A local token issuer: an RSA key pair whose public half is served as a JWKS on loopback. */
class LocalIssuer {
  private server: Server | undefined;
  private privateKey: SigningKey | undefined;
  private jose: Jose | undefined;
  jwksUri = '';

  async start(): Promise<void> {
    this.jose = await loadJose();
    const { exportJWK, generateKeyPair } = this.jose;
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    this.privateKey = privateKey;
    const jwk: JoseModule.JWK = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
    this.server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.jwksUri = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/discovery/v2.0/keys`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    this.server?.close();
    if (this.server) await once(this.server, 'close');
  }

  async otherKey(): Promise<SigningKey> {
    return (await this.jose!.generateKeyPair('RS256')).privateKey;
  }

  token(claims: Record<string, unknown> = {}, options: { issuer?: string; audience?: string; key?: SigningKey; expiresIn?: string } = {}): Promise<string> {
    return new this.jose!.SignJWT({ oid: '11111111-2222-3333-4444-555555555555', preferred_username: 'alex@contoso.example', ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
      .setIssuer(options.issuer ?? issuer)
      .setAudience(options.audience ?? audience)
      .setIssuedAt()
      .setExpirationTime(options.expiresIn ?? '10m')
      .sign(options.key ?? this.privateKey!);
  }
}

let h: Harness;
let api: ReleaseApiDeps;
const idp = new LocalIssuer();

beforeAll(async () => {
  await idp.start();
});
afterAll(async () => {
  await idp.stop();
});
beforeEach(async () => {
  h = await startHarness();
  api = { ...h.deps, principal: { trustAppServiceAuth: false, bearer: { issuer, audience, jwksUri: idp.jwksUri } }, maxBodyBytes: 4096 };
});
afterEach(async () => {
  await h.server.stop();
});

function request(method: string, path: string, options: { body?: unknown; headers?: Record<string, string>; params?: Record<string, string> } = {}): HttpRequest {
  const init: ConstructorParameters<typeof HttpRequest>[0] = { method, url: `http://127.0.0.1${path}`, headers: { 'content-type': 'application/json', ...options.headers }, params: options.params ?? {} };
  if (options.body !== undefined) init.body = { string: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) };
  return new HttpRequest(init);
}

const body = <T>(response: { jsonBody?: unknown }): T => response.jsonBody as T;

async function startedModelRelease(): Promise<string> {
  const [outcome] = await handleModelRegistryEvent(fixtureJson('azureml/model-registered.eventgrid-schema.docs.json'), h.deps);
  return (outcome as { releaseId: string }).releaseId;
}

describe('POST /api/releases', () => {
  test('model version starts a release', async () => {
    const response = await handleStartRelease(request('POST', '/api/releases', { body: { endpoint: 'regression', model: { name: 'sklearn_regression_model', version: 21 } } }), api);

    expect(response.status).toBe(202);
    const answer = body<{ releaseId: string; statusUrl: string }>(response);
    expect(response.headers).toMatchObject({ location: answer.statusUrl });
    const input = h.server.instances.get(answer.releaseId)?.input as ReleaseRequest;
    expect(input).toMatchObject({ source: 'manual', endpoint: 'regression', model: { name: 'sklearn_regression_model', version: '21' } });
    expect(input.causedBy).toEqual({ kind: 'function-key', id: 'function-key', displayName: 'function key (no person identified)' });
  });

  test('image digest starts a release', async () => {
    const response = await handleStartRelease(request('POST', '/api/releases', { body: { endpoint: 'nginx-demo', image: `contosocr.azurecr.io/samples/nginx@${digest}` } }), api);

    expect(response.status).toBe(202);
    const input = h.server.instances.get(body<{ releaseId: string }>(response).releaseId)?.input as ReleaseRequest;
    expect(input.image).toEqual({ registry: 'contosocr.azurecr.io', repository: 'samples/nginx', digest });
  });

  test('same model as an event is a duplicate', async () => {
    const releaseId = await startedModelRelease();
    const response = await handleStartRelease(request('POST', '/api/releases', { body: { endpoint: 'regression', model: { name: 'sklearn_regression_model', version: '20' } } }), api);

    expect(response.status).toBe(200);
    expect(body<{ outcome: string; releaseId: string }>(response)).toMatchObject({ outcome: 'duplicate', releaseId });
  });

  test('bearer token names the person', async () => {
    const token = await idp.token();
    const response = await handleStartRelease(request('POST', '/api/releases', { body: { endpoint: 'regression', model: { name: 'm', version: '1' } }, headers: { authorization: `Bearer ${token}` } }), api);

    const input = h.server.instances.get(body<{ releaseId: string }>(response).releaseId)?.input as ReleaseRequest;
    expect(input.causedBy).toEqual({ kind: 'user', id: '11111111-2222-3333-4444-555555555555', displayName: 'alex@contoso.example' });
  });

  test.each([
    ['wrong audience', { audience: 'api://other' }, /"aud"/],
    ['wrong issuer', { issuer: 'https://evil.example.test/' }, /"iss"/],
    ['expired', { expiresIn: '-5m' }, /"exp"/],
  ])('bearer token with %s gives 401', async (_name, options, reason) => {
    const token = await idp.token({}, options);
    const response = await handleStartRelease(request('POST', '/api/releases', { body: { endpoint: 'regression', model: { name: 'm', version: '1' } }, headers: { authorization: `Bearer ${token}` } }), api);

    expect(response.status).toBe(401);
    expect(body<{ error: string }>(response).error).toMatch(reason);
    expect(h.server.instances.size).toBe(0);
  });

  test('bearer token from another tenant gives 401', async () => {
    const token = await idp.token({ tid: 'other-tenant' });
    const withTenant: ReleaseApiDeps = { ...api, principal: { trustAppServiceAuth: false, bearer: { issuer, audience, jwksUri: idp.jwksUri, tenantId: 'our-tenant' } } };
    const response = await handleStartRelease(request('POST', '/api/releases', { body: { endpoint: 'regression', model: { name: 'm', version: '1' } }, headers: { authorization: `Bearer ${token}` } }), withTenant);

    expect(response.status).toBe(401);
    expect(body<{ error: string }>(response).error).toBe('bearer token is from tenant "other-tenant", not our-tenant');
  });

  test('bearer token signed by another key gives 401', async () => {
    const privateKey = await idp.otherKey();
    const response = await handleStartRelease(request('POST', '/api/releases', { body: { endpoint: 'regression', model: { name: 'm', version: '1' } }, headers: { authorization: `Bearer ${await idp.token({}, { key: privateKey })}` } }), api);

    expect(response.status).toBe(401);
    expect(body<{ error: string }>(response).error).toMatch(/signature verification failed/);
  });

  test('App Service principal is trusted only behind App Service Authentication', async () => {
    const headers = { 'x-ms-client-principal-id': 'aad-object-id', 'x-ms-client-principal-name': 'sam@contoso.example' };
    const trusted = await handleStartRelease(request('POST', '/api/releases', { body: { endpoint: 'regression', model: { name: 'm', version: '1' } }, headers }), { ...api, principal: { trustAppServiceAuth: true } });
    const untrusted = await handleStartRelease(request('POST', '/api/releases', { body: { endpoint: 'regression', model: { name: 'm', version: '2' } }, headers }), api);

    const actorOf = (r: typeof trusted): unknown => (h.server.instances.get(body<{ releaseId: string }>(r).releaseId)?.input as ReleaseRequest).causedBy;
    expect(actorOf(trusted)).toEqual({ kind: 'user', id: 'aad-object-id', displayName: 'sam@contoso.example' });
    expect(actorOf(untrusted)).toMatchObject({ kind: 'function-key' });
  });

  test.each([
    ['unknown endpoint', { endpoint: 'nope', model: { name: 'm', version: '1' } }, 'endpoint'],
    ['model and image', { endpoint: 'regression', model: { name: 'm', version: '1' }, image: `r.io/x@${digest}` }, 'model'],
    ['neither model nor image', { endpoint: 'regression' }, 'model'],
    ['tag instead of digest', { endpoint: 'regression', image: 'contosocr.azurecr.io/samples/nginx:latest' }, 'image'],
    ['unknown field', { endpoint: 'regression', model: { name: 'm', version: '1' }, force: true }, '(body)'],
  ])('%s gives 400 naming the field', async (_name, payload, field) => {
    const response = await handleStartRelease(request('POST', '/api/releases', { body: payload }), api);

    expect(response.status).toBe(400);
    const answer = body<{ error: string; problems: { field: string; expected: string }[] }>(response);
    expect(answer.problems.map((p) => p.field)).toContain(field);
    expect(answer.problems.every((p) => p.expected.length > 0)).toBe(true);
  });

  test('body over the limit gives 413', async () => {
    const response = await handleStartRelease(request('POST', '/api/releases', { body: { endpoint: 'regression', model: { name: 'm', version: '1' }, reason: 'x'.repeat(5000) } }), api);
    expect(response.status).toBe(413);
  });
});

describe('GET /api/releases/{id}', () => {
  test('returns phase and request', async () => {
    const releaseId = await startedModelRelease();
    h.server.setStatus(releaseId, 'Running', { releaseId, endpoint: 'regression', phase: 'Progressing', canaryWeight: 10 });

    const response = await handleGetRelease(request('GET', `/api/releases/${releaseId}`, { params: { id: releaseId } }), api);

    expect(response.status).toBe(200);
    expect(body<Record<string, unknown>>(response)).toMatchObject({ releaseId, runtimeStatus: 'Running', phase: 'Progressing', status: { canaryWeight: 10 }, request: { endpoint: 'regression' } });
  });

  test('unknown release gives 404', async () => {
    const id = 'rel-regression-000000000000000000000000';
    expect((await handleGetRelease(request('GET', `/api/releases/${id}`, { params: { id } }), api)).status).toBe(404);
  });

  test('malformed id gives 400', async () => {
    expect((await handleGetRelease(request('GET', '/api/releases/x', { params: { id: '../x' } }), api)).status).toBe(400);
  });
});

describe('GET /api/releases', () => {
  const row = (releaseId: string, phase: LedgerRelease['phase']): LedgerRelease => ({ releaseId, releaseKey: `k-${releaseId}`, request: {} as ReleaseRequest, phase, updatedAt: '2026-01-01T00:00:00Z' });

  beforeEach(() => {
    const ledger: EndpointLedgerState = { endpoint: 'regression', running: row('r1', 'Progressing'), queue: [row('r2', 'Queued')], history: [row('r0', 'Succeeded')], audit: [], builtDigests: {}, recordedPushes: [] };
    h.server.setEntity(endpointEntityName, 'regression', ledger);
  });

  test('lists running, queued and finished', async () => {
    const response = await handleListReleases(request('GET', '/api/releases?endpoint=regression'), api);

    expect(body<{ releases: { releaseId: string; state: string }[] }>(response).releases.map((r) => [r.releaseId, r.state])).toEqual([['r1', 'running'], ['r2', 'queued'], ['r0', 'finished']]);
  });

  test('filters by status', async () => {
    const response = await handleListReleases(request('GET', '/api/releases?endpoint=regression&status=queued,succeeded'), api);

    expect(body<{ releases: { releaseId: string }[] }>(response).releases.map((r) => r.releaseId)).toEqual(['r2', 'r0']);
  });

  test('without endpoint reads every ledger', async () => {
    const response = await handleListReleases(request('GET', '/api/releases'), api);

    expect(body<{ releases: unknown[] }>(response).releases).toHaveLength(3);
    expect(h.server.calls.filter((c) => c.path.startsWith('entities/'))).toHaveLength(4);
  });

  test('unknown status gives 400', async () => {
    expect((await handleListReleases(request('GET', '/api/releases?status=done'), api)).status).toBe(400);
  });

  test('unknown endpoint gives 404', async () => {
    expect((await handleListReleases(request('GET', '/api/releases?endpoint=nope'), api)).status).toBe(404);
  });
});

describe('POST /api/releases/{id}/{action}', () => {
  const act = (id: string, action: string, options: { body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status?: number; jsonBody?: unknown }> =>
    handleReleaseAction(request('POST', `/api/releases/${id}/${action}`, { ...options, params: { id, action } }), api);

  test('approve while awaiting approval raises the event', async () => {
    const releaseId = await startedModelRelease();
    h.server.setStatus(releaseId, 'Running', { releaseId, endpoint: 'regression', phase: 'AwaitingApproval' });
    const token = await idp.token();

    const response = await act(releaseId, 'approve', { body: { reason: 'metrics look fine' }, headers: { authorization: `Bearer ${token}` } });

    expect(response.status).toBe(202);
    const event = h.server.events[0]!;
    expect(event.name).toBe('approve');
    expect(event.data as ReleaseActionEvent).toMatchObject({ action: 'approve', reason: 'metrics look fine', actor: { kind: 'user', displayName: 'alex@contoso.example' } });
    expect(h.server.signals).toEqual([expect.objectContaining({ entity: 'endpointledger@regression', operation: 'audit' })]);
  });

  test('audit failure still raises the action', async () => {
    const releaseId = await startedModelRelease();
    h.server.setStatus(releaseId, 'Running', { releaseId, endpoint: 'regression', phase: 'Progressing' });
    h.server.failPath = /^entities\//;

    const response = await act(releaseId, 'promote');

    expect(response.status).toBe(202);
    expect(h.server.events.map((e) => e.name)).toEqual(['promote']);
    expect(h.lines.some((line) => line.includes('audit entry of a raised release action not recorded'))).toBe(true);
  });

  test('approve while progressing gives 409 with the reason', async () => {
    const releaseId = await startedModelRelease();
    h.server.setStatus(releaseId, 'Running', { releaseId, endpoint: 'regression', phase: 'Progressing' });

    const response = await act(releaseId, 'approve');

    expect(response.status).toBe(409);
    expect(body<{ error: string }>(response).error).toBe('cannot approve a release in phase Progressing: approve is allowed only in AwaitingApproval');
    expect(body<{ problems: { expected: string }[] }>(response).problems[0]?.expected).toBe('one of promote, rollback, abort, the actions allowed in phase Progressing');
    expect(h.server.events).toHaveLength(0);
  });

  test('abort before the first status is allowed', async () => {
    const releaseId = await startedModelRelease();
    expect((await act(releaseId, 'abort')).status).toBe(202);
  });

  test('rollback after success gives 409', async () => {
    const releaseId = await startedModelRelease();
    h.server.setStatus(releaseId, 'Completed', { releaseId, endpoint: 'regression', phase: 'Succeeded' });
    const response = await act(releaseId, 'rollback');
    expect(response.status).toBe(409);
    expect(body<{ problems: { expected: string }[] }>(response).problems[0]?.expected).toBe('no action: the release is Succeeded and takes none');
  });

  test('malformed id gives 400 like GET', async () => {
    const response = await act('rel-does-not-exist', 'approve');
    expect(response.status).toBe(400);
    expect(body<{ error: string }>(response).error).toBe('release id "rel-does-not-exist" is malformed');
  });

  test('unknown release gives 404', async () => {
    expect((await act('rel-regression-000000000000000000000000', 'abort')).status).toBe(404);
  });

  test('unknown action gives 404 listing actions', async () => {
    const response = await act('rel-regression-000000000000000000000000', 'explode');

    expect(response.status).toBe(404);
    expect(body<{ problems: { expected: string }[] }>(response).problems[0]?.expected).toBe('one of approve, reject, promote, rollback, abort');
  });
});
