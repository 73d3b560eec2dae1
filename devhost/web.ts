/** Minimal request and response shapes shared by devhost's HTTP handlers. */
import type { IncomingHttpHeaders } from 'node:http';

export interface WebRequest {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Address of the caller, for checks that trust only loopback. */
  remoteAddress?: string;
}

/** Whether the request came from this machine. */
export function fromLoopback(request: WebRequest): boolean {
  const address = request.remoteAddress ?? '';
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

export interface WebResponse {
  status: number;
  headers?: Record<string, string | string[]>;
  /** JSON-serialised unless it is a Buffer or a string. */
  body?: unknown;
}

/** The first value of a header, or undefined. */
export function header(request: WebRequest, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** The key a caller presented: `code` query parameter or `x-functions-key` header. */
export function presentedKey(request: WebRequest): string | undefined {
  return request.url.searchParams.get('code') ?? header(request, 'x-functions-key');
}
