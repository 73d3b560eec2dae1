import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

import type { Logger } from '../../../src/observability/log';

/** One parsed request as the simulators' handlers see it. */
export interface SimRequest {
  method: string;
  url: URL;
  /** Path parameters captured by the route pattern, already URL-decoded. */
  params: Record<string, string>;
  headers: IncomingMessage['headers'];
  /** Raw body; empty for requests without one. */
  body: Buffer;
}

/** A handler's result: status, JSON or raw body, and extra headers. */
export interface SimResponse {
  status: number;
  json?: unknown;
  text?: string;
  raw?: Buffer;
  headers?: Record<string, string>;
}

export type Handler = (request: SimRequest) => Promise<SimResponse> | SimResponse;

/** Answers every request that no route matched. */
export type FallbackHandler = (request: SimRequest) => SimResponse;

interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: Handler;
}

/** Default largest request body, in bytes; build contexts are the only big bodies. */
const defaultMaxBodyBytes = 64 * 1024 * 1024;

/**
 * A small method-and-path router. Patterns use `:name` for one segment and
 * `*name` for one or more segments (registry repositories such as
 * `samples/nginx`), and match the whole path case-insensitively, because ARM
 * treats resource-provider and resource-type segments case-insensitively.
 */
export class Router {
  private readonly routes: Route[] = [];

  add(method: string, path: string, handler: Handler): this {
    const names: string[] = [];
    const source = path
      .split('/')
      .map((segment) => {
        if (segment.startsWith('*')) {
          names.push(segment.slice(1));
          return '(.+?)';
        }
        if (!segment.startsWith(':')) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        names.push(segment.slice(1));
        return '([^/]+)';
      })
      .join('/');
    this.routes.push({ method, pattern: new RegExp(`^${source}/?$`, 'i'), names, handler });
    return this;
  }

  /** Finds the route for a method and path; `undefined` when none matches. */
  match(method: string, path: string): { handler: Handler; params: Record<string, string> } | undefined {
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const found = route.pattern.exec(path);
      if (!found) continue;
      const params: Record<string, string> = {};
      route.names.forEach((name, index) => {
        params[name] = decodeURIComponent(found[index + 1] ?? '');
      });
      return { handler: route.handler, params };
    }
    return undefined;
  }
}

/** A listening simulator server and the base URL clients use. */
export interface ListeningServer {
  server: Server;
  origin: string;
  close(): Promise<void>;
}

/** TLS material for an HTTPS simulator. */
export interface TlsOptions {
  cert: string;
  key: string;
}

/** Options for {@link listen}. */
export interface ListenOptions {
  name: string;
  host: string;
  port: number;
  /** Serves HTTPS when given, plain HTTP otherwise. */
  tls?: TlsOptions;
  router: Router;
  fallback: FallbackHandler;
  log: Logger;
  /** Largest request body in bytes; larger bodies get 413. 64 MiB when absent. */
  maxBodyBytes?: number;
}

/**
 * Starts one simulator on `host:port` (port 0 picks a free one). A handler
 * that throws answers 500 with the ARM error shape and logs the error.
 */
export async function listen(options: ListenOptions): Promise<ListeningServer> {
  const { router, fallback, log, name } = options;
  const maxBodyBytes = options.maxBodyBytes ?? defaultMaxBodyBytes;
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    void handle(req, res, router, fallback, maxBodyBytes).catch((error: unknown) => {
      log.error('sim request failed', { simulator: name, method: req.method, path: req.url, error: String(error) });
      if (!res.headersSent) write(res, armError(500, 'InternalServerError', `The ${name} simulator failed on ${req.method} ${req.url}: ${String(error)}`));
      else res.destroy();
    });
  };
  const server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, onRequest) : createHttpServer(onRequest);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const hostPart = options.host.includes(':') ? `[${options.host}]` : options.host;
  const origin = `${options.tls ? 'https' : 'http'}://${hostPart}:${port}`;
  log.info('sim server listening', { simulator: name, endpoint: origin });
  return {
    server,
    origin,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, router: Router, fallback: FallbackHandler, maxBodyBytes: number): Promise<void> {
  const method = req.method ?? 'GET';
  const url = new URL(req.url ?? '/', 'http://sim.invalid');
  const body = await readBody(req, maxBodyBytes);
  if (body === undefined) {
    write(res, armError(413, 'RequestEntityTooLarge', `The request body of ${method} ${url.pathname} exceeds ${maxBodyBytes} bytes.`));
    return;
  }
  const found = router.match(method, url.pathname);
  const request: SimRequest = { method, url, params: found?.params ?? {}, headers: req.headers, body };
  const response = found ? await found.handler(request) : fallback(request);
  write(res, response);
}

/** Reads the whole body; undefined when it exceeds maxBodyBytes (the rest is drained unread). */
async function readBody(req: IncomingMessage, maxBodyBytes: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size <= maxBodyBytes) chunks.push(buffer);
  }
  return size > maxBodyBytes ? undefined : Buffer.concat(chunks);
}

function write(res: ServerResponse, response: SimResponse): void {
  const headers: Record<string, string> = { ...response.headers };
  let payload: Buffer | undefined;
  if (response.json !== undefined) {
    payload = Buffer.from(JSON.stringify(response.json));
    headers['content-type'] ??= 'application/json; charset=utf-8';
  } else if (response.text !== undefined) {
    payload = Buffer.from(response.text);
    headers['content-type'] ??= 'text/plain; charset=utf-8';
  } else if (response.raw !== undefined) {
    payload = response.raw;
  }
  headers['content-length'] = String(payload?.length ?? 0);
  res.writeHead(response.status, headers);
  res.end(payload);
}

/** The ARM error body `{"error":{"code","message"}}` with its status. */
export function armError(status: number, code: string, message: string, headers?: Record<string, string>): SimResponse {
  return { status, json: { error: { code, message } }, ...(headers ? { headers } : {}) };
}

/** The 404 every simulator returns for a route it does not serve. */
export function unknownRoute(request: SimRequest): SimResponse {
  return armError(404, 'NotFound', `No route for ${request.method} ${request.url.pathname} in this simulator. Check the path and method against the Azure REST API reference.`);
}

/** Result of parsing a JSON body: the object, or the 400 to return. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; response: SimResponse };

/** Parses a JSON object body; anything else is the 400 ARM returns for a malformed body. */
export function parseJsonObject(request: SimRequest): Parsed<Record<string, unknown>> {
  const text = request.body.toString('utf8');
  try {
    const value: unknown = JSON.parse(text);
    if (isRecord(value)) return { ok: true, value };
  } catch {
    // Falls through to the same 400 as a non-object body.
  }
  return { ok: false, response: armError(400, 'InvalidRequestContent', `The request content of ${request.method} ${request.url.pathname} is not a valid JSON object.`) };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True when every value of the object is a string, as ARM requires for tags. */
export function isStringMap(value: unknown): value is Record<string, string> {
  return isRecord(value) && Object.values(value).every((v) => typeof v === 'string');
}
