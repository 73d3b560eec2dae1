import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

import { z } from 'zod';

import { errorText, type Logger } from '../../../src/observability/log';
import type { TrafficGenerator } from './generator';
import { scenarioFrom, scenarioNames, scenarioRequestSchema } from './scenarios';

const maxBodyBytes = 64 * 1024;
const loadRequestSchema = z.strictObject({ requestsPerSecond: z.number().min(0).max(10_000) });

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/**
 * HTTP server of the traffic generator, for loopback only:
 *   GET    /metrics                                Prometheus text format
 *   GET    /healthz
 *   GET    /v1/state                               every Deployment with endpoint, weight and scenario
 *   GET    /v1/scenarios                           scenarios chosen so far
 *   PUT    /v1/scenarios/{namespace}/{deployment}  {"scenario": "error-spike", "errorRate": 0.2, ...}
 *   DELETE /v1/scenarios/{namespace}/{deployment}  back to healthy
 *   PUT    /v1/load                                {"requestsPerSecond": 50} per endpoint
 */
export function createTrafficServer(generator: TrafficGenerator, logger: Logger): Server {
  return createServer((request, response) => {
    handle(generator, request, response, logger).catch((error: unknown) => {
      if (error instanceof HttpError) return sendJson(response, error.status, { error: { code: error.code, message: error.message } });
      logger.error('traffic control request failed', { method: request.method, path: request.url, error: errorText(error) });
      sendJson(response, 500, { error: { code: 'InternalError', message: errorText(error) } });
    });
  });
}

async function handle(generator: TrafficGenerator, request: IncomingMessage, response: ServerResponse, logger: Logger): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://127.0.0.1');
  const method = request.method ?? 'GET';
  const scenarioPath = /^\/v1\/scenarios\/([a-z0-9-]{1,63})\/([a-z0-9.-]{1,253})$/.exec(url.pathname);

  if (method === 'GET' && url.pathname === '/metrics') {
    const text = await generator.metrics.registry.metrics();
    response.writeHead(200, { 'Content-Type': generator.metrics.registry.contentType });
    response.end(text);
    return;
  }
  if (method === 'GET' && url.pathname === '/healthz') return sendJson(response, 200, { status: 'ok' });
  if (method === 'GET' && url.pathname === '/v1/state') return sendJson(response, 200, { requestsPerSecond: generator.requestsPerSecond, deployments: generator.state() });
  if (method === 'GET' && url.pathname === '/v1/scenarios') return sendJson(response, 200, { scenarios: generator.scenarios.list() });

  if (scenarioPath && method === 'PUT') {
    const [, namespace = '', deployment = ''] = scenarioPath;
    const body = parseBody(scenarioRequestSchema, await readJson(request), `scenario body; "scenario" is one of ${scenarioNames.join(', ')}`);
    const scenario = scenarioFrom(body);
    generator.scenarios.set(namespace, deployment, scenario);
    logger.info('scenario chosen', { namespace, deployment, scenario: scenario.scenario, errorRate: scenario.errorRate, latencyMs: scenario.latencyMs });
    return sendJson(response, 200, { namespace, deployment, ...scenario });
  }
  if (scenarioPath && method === 'DELETE') {
    const [, namespace = '', deployment = ''] = scenarioPath;
    generator.scenarios.clear(namespace, deployment);
    logger.info('scenario cleared', { namespace, deployment });
    response.writeHead(204).end();
    return;
  }
  if (method === 'PUT' && url.pathname === '/v1/load') {
    const body = parseBody(loadRequestSchema, await readJson(request), 'load body {"requestsPerSecond": number from 0 to 10000}');
    generator.requestsPerSecond = body.requestsPerSecond;
    logger.info('request rate changed', { requestsPerSecond: body.requestsPerSecond });
    return sendJson(response, 200, { requestsPerSecond: generator.requestsPerSecond });
  }
  throw new HttpError(404, 'NotFound', `no route ${method} ${url.pathname}; see GET /v1/state, GET /v1/scenarios, PUT /v1/scenarios/{namespace}/{deployment}, PUT /v1/load, GET /metrics`);
}

function parseBody<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`).join('; ');
  throw new HttpError(400, 'InvalidRequest', `invalid ${what}: ${problems}`);
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBodyBytes) throw new HttpError(413, 'RequestTooLarge', `request body exceeds ${maxBodyBytes} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'InvalidJson', `request body is not valid JSON: ${text.slice(0, 80)}`);
  }
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify(body));
}
