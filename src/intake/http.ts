import type { HttpRequest, HttpResponseInit } from '@azure/functions';

import type { InputProblem } from '../errors';

/** Builds a JSON error response: what was wrong, on which field, and what to send instead. */
export function problemResponse(status: number, error: string, problems: InputProblem[] = [], headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: { error, problems }, headers: { 'content-type': 'application/json', ...headers } };
}

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: body, headers: { 'content-type': 'application/json', ...headers } };
}

export type BodyResult = { ok: true; bytes: Buffer } | { ok: false; response: HttpResponseInit };

function tooLarge(maxBytes: number, size: string): BodyResult {
  return {
    ok: false,
    response: problemResponse(413, `request body is larger than the limit of ${maxBytes} bytes`, [
      { field: '(body)', problem: `is ${size}`, expected: `at most ${maxBytes} bytes (WEBHOOK_MAX_BODY_BYTES)` },
    ]),
  };
}

/**
 * Reads the raw body, stopping with 413 as soon as it passes maxBytes. A
 * Content-Length above the limit is refused before any byte is read.
 */
export async function readLimitedBody(request: HttpRequest, maxBytes: number): Promise<BodyResult> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) return tooLarge(maxBytes, `${declared} bytes by Content-Length`);
  if (!request.body) return { ok: true, bytes: Buffer.alloc(0) };

  const chunks: Buffer[] = [];
  let total = 0;
  const reader = (request.body as ReadableStream<Uint8Array>).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return tooLarge(maxBytes, `more than ${maxBytes} bytes`);
    }
    chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }
  return { ok: true, bytes: Buffer.concat(chunks, total) };
}

/** Media type of the request without parameters, lower-cased; empty when absent. */
export function mediaTypeOf(request: HttpRequest): string {
  return (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

export type JsonResult = { ok: true; value: unknown } | { ok: false; response: HttpResponseInit };

/** Parses a JSON body. Returns a 400 response with the parser's message when the body is not JSON. */
export function parseJsonBody(bytes: Buffer, field = '(body)'): JsonResult {
  try {
    return { ok: true, value: JSON.parse(bytes.toString('utf8')) as unknown };
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return { ok: false, response: problemResponse(400, 'request body is not valid JSON', [{ field, problem: detail, expected: 'a JSON document' }]) };
  }
}
