import type * as Jose from 'jose' with { 'resolution-mode': 'import' };

import type { Actor } from '../contracts/release';

/** Sources of the caller's identity that the release API may trust. */
export interface PrincipalConfig {
  /**
   * True when App Service Authentication runs in front of the app. Only then
   * are the X-MS-CLIENT-PRINCIPAL headers trusted, because App Service strips
   * them from client requests only while it is enabled.
   */
  trustAppServiceAuth: boolean;
  /** Entra ID token validation. Bearer tokens are rejected when it is unset; `tenantId`, when set, must equal the token's `tid` claim. */
  bearer?: { issuer: string; audience: string; jwksUri: string; tenantId?: string };
}

export type PrincipalResult = { ok: true; actor: Actor } | { ok: false; reason: string; expected: string };

/** Actor recorded when only a function key authorised the call: the key identifies no person. */
export const functionKeyActor: Actor = { kind: 'function-key', id: 'function-key', displayName: 'function key (no person identified)' };

const jwksCache = new Map<string, ReturnType<typeof Jose.createRemoteJWKSet>>();

// jose is an ES module; this CommonJS app loads it with import() on first use.
const loadJose = (): Promise<typeof Jose> => import('jose');

async function keySetFor(uri: string): Promise<ReturnType<typeof Jose.createRemoteJWKSet>> {
  let keys = jwksCache.get(uri);
  if (!keys) {
    const { createRemoteJWKSet } = await loadJose();
    keys = createRemoteJWKSet(new URL(uri), { timeoutDuration: 5000, cooldownDuration: 30000 });
    jwksCache.set(uri, keys);
  }
  return keys;
}

interface ClientPrincipal {
  claims?: { typ?: unknown; val?: unknown }[];
  name_typ?: unknown;
}

/** Reads the App Service Authentication principal, or undefined when the headers are absent. */
function appServicePrincipal(headers: { get(name: string): string | null }): Actor | undefined {
  const id = headers.get('x-ms-client-principal-id');
  const name = headers.get('x-ms-client-principal-name');
  if (!id && !name) return undefined;
  const actor: Actor = { kind: 'user', id: id ?? name ?? 'unknown' };
  const displayName = name ?? displayNameFromPrincipal(headers.get('x-ms-client-principal'));
  if (displayName) actor.displayName = displayName;
  return actor;
}

function displayNameFromPrincipal(encoded: string | null): string | undefined {
  if (!encoded) return undefined;
  try {
    const principal = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as ClientPrincipal;
    const nameType = typeof principal.name_typ === 'string' ? principal.name_typ : 'name';
    const claim = principal.claims?.find((c) => c.typ === nameType);
    return typeof claim?.val === 'string' ? claim.val : undefined;
  } catch {
    return undefined;
  }
}

function actorFromToken(payload: Jose.JWTPayload): Actor {
  const claims = payload as Record<string, unknown>;
  const text = (key: string): string | undefined => {
    const value = claims[key];
    return typeof value === 'string' ? value : undefined;
  };
  const actor: Actor = { kind: 'user', id: text('oid') ?? payload.sub ?? 'unknown' };
  const displayName = text('preferred_username') ?? text('upn') ?? text('name') ?? text('azp') ?? text('appid');
  if (displayName) actor.displayName = displayName;
  return actor;
}

/**
 * Finds who made a release API call: the App Service Authentication principal
 * when the app runs behind it, else a validated Entra ID bearer token (issuer,
 * audience, signature against the published keys), else the function key.
 * A bearer token that fails validation is an error, never a silent fallback.
 */
export async function resolvePrincipal(headers: { get(name: string): string | null }, config: PrincipalConfig): Promise<PrincipalResult> {
  if (config.trustAppServiceAuth) {
    const actor = appServicePrincipal(headers);
    if (actor) return { ok: true, actor };
  }

  const authorization = headers.get('authorization');
  const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (token === undefined) return { ok: true, actor: functionKeyActor };

  const expected = 'an Entra ID access token for this API in Authorization: Bearer, or no Authorization header';
  if (!config.bearer) {
    return { ok: false, reason: 'a bearer token was sent, but this app validates none: ENTRA_ISSUER, ENTRA_AUDIENCE and ENTRA_JWKS_URI are not set', expected };
  }
  try {
    const { jwtVerify } = await loadJose();
    const { payload } = await jwtVerify(token, await keySetFor(config.bearer.jwksUri), {
      issuer: config.bearer.issuer,
      audience: config.bearer.audience,
      algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'ES256'],
      clockTolerance: 60,
    });
    const tenant = (payload as Record<string, unknown>).tid;
    if (config.bearer.tenantId !== undefined && tenant !== config.bearer.tenantId) {
      return { ok: false, reason: `bearer token is from tenant ${JSON.stringify(tenant) ?? '(none)'}, not ${config.bearer.tenantId}`, expected };
    }
    return { ok: true, actor: actorFromToken(payload) };
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return { ok: false, reason: `bearer token is invalid: ${detail}`, expected };
  }
}
