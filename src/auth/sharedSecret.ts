import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Compares two secrets in constant time. Both sides are hashed first, so the
 * buffers have equal length and the comparison leaks neither content nor length.
 */
export function secretsEqual(received: string, configured: string): boolean {
  const a = createHash('sha256').update(received, 'utf8').digest();
  const b = createHash('sha256').update(configured, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** Credentials a service hook may authenticate with; at least one of the two is configured. */
export interface ServiceHookAuth {
  secret?: { header: string; value: string };
  basic?: { user: string; password: string };
}

export type ServiceHookCheck = { ok: true; via: 'shared-secret' | 'basic' } | { ok: false; reason: string; expected: string };

/** Reads user and password from an `Authorization: Basic` header, or undefined when it is not one. */
function parseBasic(header: string | null): { user: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Authenticates an Azure DevOps service hook by the shared-secret header or
 * basic auth, whichever is configured and sent. Secrets are compared in
 * constant time.
 */
export function verifyServiceHook(headers: { get(name: string): string | null }, auth: ServiceHookAuth): ServiceHookCheck {
  const expected = [auth.secret ? `header ${auth.secret.header} with the shared secret` : undefined, auth.basic ? 'an Authorization: Basic header with the configured user and password' : undefined]
    .filter((x) => x !== undefined)
    .join(', or ');
  if (!auth.secret && !auth.basic) {
    return { ok: false, reason: 'the Azure DevOps webhook has no secret configured; set AZURE_DEVOPS_WEBHOOK_SECRET or AZURE_DEVOPS_BASIC_AUTH_USER and AZURE_DEVOPS_BASIC_AUTH_PASSWORD', expected: 'a configured secret' };
  }

  const sentSecret = auth.secret ? headers.get(auth.secret.header) : null;
  if (auth.secret && sentSecret !== null) {
    return secretsEqual(sentSecret, auth.secret.value) ? { ok: true, via: 'shared-secret' } : { ok: false, reason: `header ${auth.secret.header} does not match the configured secret`, expected };
  }
  const basic = auth.basic ? parseBasic(headers.get('authorization')) : undefined;
  if (auth.basic && basic) {
    // Both comparisons run, so timing does not reveal which one failed.
    const userOk = secretsEqual(basic.user, auth.basic.user);
    const passwordOk = secretsEqual(basic.password, auth.basic.password);
    return userOk && passwordOk ? { ok: true, via: 'basic' } : { ok: false, reason: 'basic-auth user or password does not match', expected };
  }
  return { ok: false, reason: 'no credentials were sent', expected };
}
