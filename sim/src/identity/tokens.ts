import { type KeyObject, generateKeyPairSync, randomUUID, sign, verify } from 'node:crypto';

/** Claims of a JSON Web Token payload. */
export type JWTPayload = Record<string, unknown> & { aud?: string; exp?: number; nbf?: number; iss?: string };

/** The managed identity that the identity simulator issues tokens for. */
export interface SimPrincipal {
  tenantId: string;
  /** Client (application) id of the managed identity. */
  clientId: string;
  /** Object (principal) id of the managed identity. */
  objectId: string;
}

/** Claims the simulators read from a verified token. */
export interface VerifiedToken {
  audience: string;
  objectId: string;
  clientId: string;
  tenantId: string;
  claims: JWTPayload;
}

/** ARM error code that names the reason a token was rejected. */
export type TokenRejection = 'InvalidAuthenticationToken' | 'ExpiredAuthenticationToken' | 'InvalidAuthenticationTokenAudience';

/** A verification failure with the ARM error code to return. */
export class TokenRejectedError extends Error {
  constructor(readonly code: TokenRejection, message: string) {
    super(message);
  }
}

/** Lifetime of issued tokens: 24 hours, as App Service managed identity tokens have. */
const tokenLifetimeSeconds = 24 * 60 * 60;

/**
 * Signs and verifies the sim's bearer tokens with one ES256 key made at start.
 * Tokens look like Entra ID access tokens (iss, aud, oid, appid, tid) but are
 * valid only for this sim run.
 */
export class TokenAuthority {
  private constructor(
    private readonly privateKey: KeyObject,
    private readonly publicKey: KeyObject,
    readonly principal: SimPrincipal,
    readonly issuer: string,
  ) {}

  /** Makes an authority with a new key; `issuer` defaults to the Entra ID form for the tenant. */
  static create(principal: SimPrincipal, issuer = `https://sts.windows.net/${principal.tenantId}/`): TokenAuthority {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return new TokenAuthority(privateKey, publicKey, principal, issuer);
  }

  /** Issues an access token for `resource`; returns the token and its expiry in Unix seconds. */
  issue(resource: string, extraClaims: Record<string, unknown> = {}): { token: string; expiresOn: number } {
    const now = Math.floor(Date.now() / 1000);
    const expiresOn = now + tokenLifetimeSeconds;
    const payload: JWTPayload = {
      ...extraClaims,
      iss: this.issuer,
      aud: resource,
      sub: this.principal.objectId,
      oid: this.principal.objectId,
      appid: this.principal.clientId,
      tid: this.principal.tenantId,
      idtyp: 'app',
      jti: randomUUID(),
      iat: now,
      nbf: now - 300,
      exp: expiresOn,
    };
    return { token: this.sign(payload), expiresOn };
  }

  /** Signs any payload as an ES256 JWT with this authority's key. */
  sign(payload: JWTPayload): string {
    const signingInput = `${base64url(JSON.stringify({ alg: 'ES256', typ: 'JWT' }))}.${base64url(JSON.stringify(payload))}`;
    // JWS wants the raw r||s form of the ECDSA signature, not DER.
    const signature = sign('sha256', Buffer.from(signingInput), { key: this.privateKey, dsaEncoding: 'ieee-p1363' });
    return `${signingInput}.${signature.toString('base64url')}`;
  }

  /**
   * Verifies signature, issuer, lifetime and that the audience is one of
   * `audiences` (compared without a trailing slash); throws TokenRejectedError.
   */
  verify(token: string, audiences: readonly string[]): VerifiedToken {
    const payload = this.verifySignature(token);
    const now = Math.floor(Date.now() / 1000);
    if (payload.iss !== this.issuer) throw new TokenRejectedError('InvalidAuthenticationToken', `The access token is from issuer "${String(payload.iss)}", not from this simulator's identity endpoint.`);
    if (typeof payload.exp !== 'number' || payload.exp <= now) throw new TokenRejectedError('ExpiredAuthenticationToken', 'The access token expiry UTC time is earlier than current UTC time.');
    if (typeof payload.nbf === 'number' && payload.nbf > now + 300) throw new TokenRejectedError('InvalidAuthenticationToken', 'The access token is not valid yet (nbf is in the future).');

    const audience = typeof payload.aud === 'string' ? payload.aud : '';
    const accepted = audiences.map(trimSlash);
    if (!accepted.includes(trimSlash(audience))) {
      throw new TokenRejectedError('InvalidAuthenticationTokenAudience', `The access token has audience "${audience}"; this service accepts ${accepted.map((a) => `"${a}"`).join(', ')}.`);
    }
    return {
      audience,
      objectId: stringClaim(payload.oid),
      clientId: stringClaim(payload.appid),
      tenantId: stringClaim(payload.tid),
      claims: payload,
    };
  }

  /** Checks the ES256 signature and returns the payload; throws TokenRejectedError. */
  verifySignature(token: string): JWTPayload {
    const [header, body, signature] = token.split('.');
    if (!header || !body || signature === undefined) throw new TokenRejectedError('InvalidAuthenticationToken', 'The access token is not a JWT of three dot-separated parts.');
    const valid = verify('sha256', Buffer.from(`${header}.${body}`), { key: this.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
    if (!valid) throw new TokenRejectedError('InvalidAuthenticationToken', 'The access token signature is invalid: it was not issued by this simulator run.');
    try {
      const payload: unknown = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
      if (typeof payload === 'object' && payload !== null && !Array.isArray(payload)) return payload as JWTPayload;
    } catch {
      // Falls through to the same rejection as a non-object payload.
    }
    throw new TokenRejectedError('InvalidAuthenticationToken', 'The access token payload is not a JSON object.');
  }
}

/** Returns a claim's value when it is a string, or "". */
export function stringClaim(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function base64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}

function trimSlash(value: string): string {
  return value.endsWith('/') ? value.slice(0, -1) : value;
}
