import { createHmac, timingSafeEqual } from 'node:crypto';

export type SignatureCheck = { ok: true } | { ok: false; reason: string; expected: string };

const sha256Header = /^sha256=([0-9a-f]{64})$/;

/**
 * Verifies a GitHub `X-Hub-Signature-256` header against the raw request
 * bytes. The HMAC is computed over the bytes as received, never over parsed
 * and re-serialised JSON, and compared in constant time on equal-length
 * buffers. The legacy `X-Hub-Signature` (sha1) header is not accepted.
 */
export function verifyGitHubSignature(rawBody: Uint8Array, header: string | null, secret: string, sha1Header: string | null = null): SignatureCheck {
  const expected = 'header X-Hub-Signature-256: "sha256=" and the 64 lowercase hex digits of HMAC-SHA256(secret, raw body)';
  if (header === null || header === '') {
    const reason = sha1Header ? 'only the sha1 X-Hub-Signature header was sent, and sha1 signatures are not accepted' : 'X-Hub-Signature-256 header is missing';
    return { ok: false, reason, expected };
  }
  const match = sha256Header.exec(header);
  if (!match?.[1]) {
    return { ok: false, reason: 'X-Hub-Signature-256 header is malformed', expected };
  }

  const received = Buffer.from(match[1], 'hex');
  const computed = createHmac('sha256', secret).update(rawBody).digest();
  if (received.length !== computed.length || !timingSafeEqual(received, computed)) {
    return { ok: false, reason: 'X-Hub-Signature-256 does not match the request body; check that the webhook secret matches GITHUB_WEBHOOK_SECRET', expected };
  }
  return { ok: true };
}

/** Computes the `X-Hub-Signature-256` value GitHub would send for a body. */
export function signGitHubBody(rawBody: Uint8Array | string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}
