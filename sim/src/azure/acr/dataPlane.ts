import { randomUUID } from 'node:crypto';

import type { Logger } from '../../../../src/observability/log';
import { TokenRejectedError, type TokenAuthority, stringClaim } from '../../identity/tokens';
import { armAudiences } from '../arm/guard';
import { type ListeningServer, Router, type SimRequest, type SimResponse, type TlsOptions, armError, listen, unknownRoute } from '../http';
import type { RegistryStore } from './registry';

/** One entry of an ACR access token's `access` claim, as in Docker's token spec. */
interface AccessEntry {
  type: string;
  name: string;
  actions: string[];
}

/** Options of the registry data-plane simulator. */
export interface AcrDataPlaneOptions {
  host: string;
  port: number;
  tls: TlsOptions;
  store: RegistryStore;
  /** Verifies the Entra ID tokens that /oauth2/exchange receives. */
  identity: TokenAuthority;
  /** Signs the registry's own refresh and access tokens. */
  registryTokens: TokenAuthority;
  /** Entra ID audience of the data plane, such as https://containerregistry.azure.net. */
  audience: string;
  log: Logger;
}

const refreshLifetimeSeconds = 3 * 60 * 60;
const accessLifetimeSeconds = 75 * 60;

/**
 * Starts the registry data plane that @azure/container-registry talks to: the
 * token flow (401 challenge, POST /oauth2/exchange with an Entra ID token,
 * POST /oauth2/token for a scoped access token), `_catalog`, repository, tag
 * and manifest properties. The login server name in challenges and bodies is
 * the registry's public name while the endpoint is the loopback URL.
 */
export async function startAcrDataPlane(options: AcrDataPlaneOptions): Promise<ListeningServer> {
  let origin = '';
  const plane = new DataPlane(options, () => origin);
  const router = plane.routes();
  const server = await listen({ name: 'acr-data-plane', host: options.host, port: options.port, tls: options.tls, router, fallback: unknownRoute, log: options.log });
  origin = server.origin;
  return server;
}

class DataPlane {
  constructor(private readonly options: AcrDataPlaneOptions, private readonly origin: () => string) {}

  routes(): Router {
    const store = this.options.store;
    const metadata = (name: string): AccessEntry => ({ type: 'repository', name, actions: ['metadata_read'] });
    return new Router()
      .add('POST', '/oauth2/exchange', (r) => this.exchange(r))
      .add('POST', '/oauth2/token', (r) => this.token(r))
      .add('GET', '/v2/', (r) => this.authorized(r, { type: 'registry', name: 'catalog', actions: ['*'] }, () => ({ status: 200, json: {} }), false))
      .add('GET', '/acr/v1/_catalog', (r) => this.authorized(r, { type: 'registry', name: 'catalog', actions: ['*'] }, () => this.catalog(r)))
      .add('GET', '/acr/v1/*name/_tags/:tag', (r) =>
        this.authorized(r, metadata(r.params.name ?? ''), () => {
          const tag = store.tag(r.params.name ?? '', r.params.tag ?? '');
          return tag ? { status: 200, json: { registry: store.loginServer, imageName: r.params.name, tag } } : this.notFound('TAG_UNKNOWN', `tag ${r.params.tag ?? ''} is not found in repository ${r.params.name ?? ''}`);
        }),
      )
      .add('GET', '/acr/v1/*name/_tags', (r) =>
        this.authorized(r, metadata(r.params.name ?? ''), () => {
          const tags = store.tags(r.params.name ?? '');
          return tags ? { status: 200, json: { registry: store.loginServer, imageName: r.params.name, tags } } : this.repositoryUnknown(r.params.name ?? '');
        }),
      )
      .add('GET', '/acr/v1/*name/_manifests/:digest', (r) =>
        this.authorized(r, metadata(r.params.name ?? ''), () => {
          const manifest = store.manifest(r.params.name ?? '', r.params.digest ?? '');
          return manifest ? { status: 200, json: { registry: store.loginServer, imageName: r.params.name, manifest } } : this.notFound('MANIFEST_UNKNOWN', `manifest ${r.params.digest ?? ''} is not found in repository ${r.params.name ?? ''}`);
        }),
      )
      .add('GET', '/acr/v1/*name/_manifests', (r) =>
        this.authorized(r, metadata(r.params.name ?? ''), () => {
          const manifests = store.manifests(r.params.name ?? '');
          return manifests ? { status: 200, json: { registry: store.loginServer, imageName: r.params.name, manifests } } : this.repositoryUnknown(r.params.name ?? '');
        }),
      )
      .add('GET', '/acr/v1/*name', (r) =>
        this.authorized(r, metadata(r.params.name ?? ''), () => {
          const properties = store.repositoryProperties(r.params.name ?? '');
          return properties ? { status: 200, json: properties } : this.repositoryUnknown(r.params.name ?? '');
        }),
      );
  }

  /**
   * Runs `then` when the request carries an access token that grants
   * `required`. Otherwise returns 401 with the challenge that names the scope.
   */
  private authorized(request: SimRequest, required: AccessEntry, then: () => SimResponse, needsApiVersion = true): SimResponse {
    if (needsApiVersion && !request.url.searchParams.get('api-version')) {
      return armError(400, 'MissingApiVersionParameter', 'The api-version query parameter (?api-version=) is required for /acr/v1 requests.');
    }
    const scope = `${required.type}:${required.name}:${required.actions.join(',')}`;
    const challenge = { 'www-authenticate': `Bearer realm="${this.origin()}/oauth2/token",service="${this.options.store.loginServer}",scope="${scope}"` };
    const token = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
    if (!token) return { ...this.errors(401, 'UNAUTHORIZED', 'authentication required'), headers: challenge };

    let granted: AccessEntry[];
    try {
      const payload = this.options.registryTokens.verifySignature(token);
      if (payload.aud !== this.options.store.loginServer || typeof payload.exp !== 'number' || payload.exp * 1000 < Date.now() || payload.grant_type !== 'access_token') {
        return { ...this.errors(401, 'UNAUTHORIZED', 'the access token is expired or not an access token for this registry'), headers: challenge };
      }
      granted = Array.isArray(payload.access) ? (payload.access as AccessEntry[]) : [];
    } catch (error) {
      if (error instanceof TokenRejectedError) return { ...this.errors(401, 'UNAUTHORIZED', error.message), headers: challenge };
      throw error;
    }
    const allowed = granted.some((entry) => entry.type === required.type && entry.name === required.name && required.actions.every((a) => entry.actions.includes(a) || entry.actions.includes('*')));
    if (!allowed) return { ...this.errors(401, 'UNAUTHORIZED', `the access token does not grant ${scope}`), headers: challenge };
    return then();
  }

  /** Exchanges an Entra ID access token for a registry refresh token. */
  private exchange(request: SimRequest): SimResponse {
    const form = new URLSearchParams(request.body.toString('utf8'));
    const invalid = this.checkForm(request, form, 'access_token', ['service', 'access_token']);
    if (invalid) return invalid;
    try {
      const caller = this.options.identity.verify(form.get('access_token') ?? '', [this.options.audience, ...armAudiences]);
      const now = Math.floor(Date.now() / 1000);
      const refreshToken = this.options.registryTokens.sign({
        jti: randomUUID(),
        sub: caller.objectId,
        nbf: now - 60,
        exp: now + refreshLifetimeSeconds,
        iat: now,
        iss: 'Azure Container Registry',
        aud: this.options.store.loginServer,
        version: '1.0',
        grant_type: 'refresh_token',
        tenant: caller.tenantId,
        permissions: { actions: ['*'], notActions: [] },
      });
      return { status: 200, json: { refresh_token: refreshToken } };
    } catch (error) {
      if (error instanceof TokenRejectedError) return this.errors(401, 'UNAUTHORIZED', `the Entra ID access token was rejected: ${error.message}`);
      throw error;
    }
  }

  /** Exchanges a registry refresh token for an access token limited to the requested scopes. */
  private token(request: SimRequest): SimResponse {
    const form = new URLSearchParams(request.body.toString('utf8'));
    if (form.get('grant_type') === 'password') return this.errors(401, 'UNAUTHORIZED', 'anonymous pull is disabled on this registry; send a refresh token from /oauth2/exchange');
    const invalid = this.checkForm(request, form, 'refresh_token', ['service', 'scope', 'refresh_token']);
    if (invalid) return invalid;
    let subject: string;
    try {
      const refresh = this.options.registryTokens.verifySignature(form.get('refresh_token') ?? '');
      if (refresh.grant_type !== 'refresh_token' || typeof refresh.exp !== 'number' || refresh.exp * 1000 < Date.now()) {
        return this.errors(401, 'UNAUTHORIZED', 'the refresh token is expired or is not a refresh token');
      }
      subject = stringClaim(refresh.sub);
    } catch (error) {
      if (error instanceof TokenRejectedError) return this.errors(401, 'UNAUTHORIZED', `the refresh token was rejected: ${error.message}`);
      throw error;
    }
    const access = parseScopes(form.get('scope') ?? '');
    if (!access) return this.errors(400, 'INVALID_SCOPE', `scope "${form.get('scope') ?? ''}" is invalid: expected type:name:actions terms such as repository:samples/nginx:pull`);
    const now = Math.floor(Date.now() / 1000);
    const accessToken = this.options.registryTokens.sign({
      jti: randomUUID(),
      sub: subject,
      nbf: now - 60,
      exp: now + accessLifetimeSeconds,
      iat: now,
      iss: 'Azure Container Registry',
      aud: this.options.store.loginServer,
      version: '1.0',
      grant_type: 'access_token',
      access,
    });
    return { status: 200, json: { access_token: accessToken } };
  }

  private checkForm(request: SimRequest, form: URLSearchParams, grantType: string, required: string[]): SimResponse | undefined {
    if (!request.url.searchParams.get('api-version')) return armError(400, 'MissingApiVersionParameter', 'The api-version query parameter (?api-version=) is required for /oauth2 requests.');
    if (!String(request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return this.errors(400, 'UNSUPPORTED', 'send the token request as application/x-www-form-urlencoded');
    }
    if (form.get('grant_type') !== grantType) return this.errors(400, 'UNSUPPORTED', `grant_type must be ${grantType}; got "${form.get('grant_type') ?? ''}"`);
    const missing = required.filter((field) => !form.get(field));
    if (missing.length > 0) return this.errors(400, 'INVALID_REQUEST', `missing form fields: ${missing.join(', ')}`);
    if (form.get('service') !== this.options.store.loginServer) {
      return this.errors(400, 'INVALID_REQUEST', `service "${form.get('service') ?? ''}" is not this registry; use ${this.options.store.loginServer}`);
    }
    return undefined;
  }

  private catalog(request: SimRequest): SimResponse {
    const names = this.options.store.repositoryNames();
    const last = request.url.searchParams.get('last');
    const n = Number(request.url.searchParams.get('n') ?? Number.NaN);
    const after = last ? names.filter((name) => name > last) : names;
    const page = Number.isInteger(n) && n > 0 ? after.slice(0, n) : after;
    const more = page.length < after.length && page.length > 0;
    const headers: Record<string, string> = more ? { link: `</acr/v1/_catalog?last=${encodeURIComponent(page.at(-1) ?? '')}&n=${n}>; rel="next"` } : {};
    return { status: 200, json: { repositories: page }, headers };
  }

  private repositoryUnknown(name: string): SimResponse {
    return this.notFound('NAME_UNKNOWN', `repository name not known to registry: ${name}`);
  }

  private notFound(code: string, message: string): SimResponse {
    return this.errors(404, code, message);
  }

  /** Builds the registry's own error body, `{"errors":[{code, message}]}`, which the SDK maps to RestError. */
  private errors(status: number, code: string, message: string): SimResponse {
    return { status, json: { errors: [{ code, message, detail: null }] } };
  }
}

/** Parses space-separated `type:name:actions` scopes; undefined when one is malformed. */
function parseScopes(scope: string): AccessEntry[] | undefined {
  const entries: AccessEntry[] = [];
  for (const term of scope.split(' ').filter(Boolean)) {
    const first = term.indexOf(':');
    const last = term.lastIndexOf(':');
    if (first <= 0 || last === first) return undefined;
    entries.push({ type: term.slice(0, first), name: term.slice(first + 1, last), actions: term.slice(last + 1).split(',').filter(Boolean) });
  }
  return entries.length > 0 ? entries : undefined;
}
