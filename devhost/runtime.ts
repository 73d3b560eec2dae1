/**
 * Runs devhost in the current process: settings, app load, state, engine,
 * trigger services and the HTTP listener. One devhost per process, because
 * @azure/functions binds to the core module once.
 */
import http from 'node:http';
import path from 'node:path';

import { errorText } from '../src/observability/log';
import type { DevhostClock } from './clock';
import { DurableEngine } from './durable/engine';
import { DurableHttpApi } from './durable/httpApi';
import { handleEventGrid } from './eventGrid';
import { applyAppSettings, FunctionHost, type HostJson, readJsonFile, resolveSetting } from './host';
import { HttpTriggers } from './httpTrigger';
import { KeyStore } from './keys';
import { ServiceBusService } from './servicebus';
import { openStore } from './store';
import { TimerService } from './timers';
import { fromLoopback, presentedKey, type WebRequest, type WebResponse } from './web';

export interface RuntimeOptions {
  appDir: string;
  /** 0 picks a free port. */
  port: number;
  /** Address to bind; loopback unless told otherwise. */
  bindAddress?: string;
  stateDir: string;
  clock: DevhostClock;
  /** Maximum activities running at once; default host.json maxConcurrentActivityFunctions or 10. */
  activityConcurrency?: number;
  env?: Record<string, string>;
}

export interface RunningDevhost {
  url: string;
  port: number;
  /** Lines describing every served route, as printed at start-up. */
  routes: string[];
  stop(): Promise<void>;
}

export async function runDevhost(options: RuntimeOptions): Promise<RunningDevhost> {
  const appDir = path.resolve(options.appDir);
  applyAppSettings(appDir, options.env);
  const server = http.createServer();
  // Node waits 300 s by default for a request body that never completes. With this limit a client that
  // sends less than its Content-Length gets 408 after 30 s. Responses, long polls included, are not limited.
  server.requestTimeout = 30_000;
  const bindAddress = options.bindAddress ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, bindAddress, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const hostPort = `${bindAddress.includes(':') ? `[${bindAddress}]` : bindAddress}:${port}`;
  const url = `http://${hostPort}`;
  // durable-functions rewrites client URLs to localhost:7071 unless this names the real listener.
  process.env.WEBSITE_HOSTNAME = hostPort;

  const host = new FunctionHost(appDir, options.clock);
  try {
    await host.load();
  } catch (error) {
    await new Promise((resolve) => server.close(resolve));
    throw error;
  }

  const hostJson = readJsonFile<HostJson>(path.join(appDir, 'host.json')) ?? {};
  const durableSettings = hostJson.extensions?.durableTask ?? {};
  const keys = KeyStore.load(options.stateDir);
  const db = openStore(options.stateDir);
  const engine = new DurableEngine(db, host, options.clock, {
    activityConcurrency: options.activityConcurrency ?? durableSettings.maxConcurrentActivityFunctions ?? 10,
    orchestrationConcurrency: durableSettings.maxConcurrentOrchestratorFunctions ?? 10,
    entityConcurrency: 10,
  });
  const durableBase = `${url}/runtime/webhooks/durabletask`;
  const taskHub = durableSettings.hubName ? resolveSetting(durableSettings.hubName, 'host.json extensions.durableTask.hubName') : 'TestHubName';
  const code = keys.systemKey('durabletask_extension');
  const durableApi = new DurableHttpApi(engine, { baseUrl: durableBase, taskHub, ...(code ? { code } : {}) });
  host.setClientBinding(() => durableApi.clientBinding(`${url}/durabletask/`));

  const httpTriggers = new HttpTriggers(host, keys, hostJson.extensions?.http?.routePrefix ?? 'api');
  const serviceBus = new ServiceBusService(db, host, options.clock, hostJson);
  const timers = new TimerService(db, host, options.clock);

  const handle = async (request: WebRequest): Promise<WebResponse> => {
    const pathname = request.url.pathname;
    if (pathname === '/admin/host/status') return { status: 200, body: { state: 'Running', version: '4.x-devhost', id: 'devhost' } };
    if (pathname.startsWith('/admin/')) {
      if (!keys.allows('admin', presentedKey(request))) return { status: 401 };
      if (pathname.startsWith('/admin/devhost/servicebus/')) return serviceBus.handleAdmin(request, pathname.slice('/admin/devhost/servicebus/'.length));
      return adminFunctions(request, host, serviceBus, timers, httpTriggers, url);
    }
    if (pathname === '/runtime/webhooks/eventgrid') return handleEventGrid(host, keys, request);
    if (pathname.startsWith('/runtime/webhooks/durabletask/')) {
      if (!keys.allows('system', presentedKey(request), { systemKeyName: 'durabletask_extension' })) return { status: 401 };
      return durableApi.handle(request, pathname.slice('/runtime/webhooks/durabletask/'.length));
    }
    // The RPC path the JavaScript durable client calls; the extension serves it on loopback without keys.
    if (pathname.startsWith('/durabletask/')) {
      const allowed = fromLoopback(request) || keys.allows('system', presentedKey(request), { systemKeyName: 'durabletask_extension' });
      if (!allowed) return { status: 401 };
      return durableApi.handle(request, pathname.slice('/durabletask/'.length));
    }
    return (await httpTriggers.handle(request)) ?? { status: 404, body: { message: `No function or host endpoint serves ${request.method} ${pathname}.` } };
  };

  server.removeAllListeners('request');
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: WebRequest = { method: req.method ?? 'GET', url: new URL(req.url ?? '/', url), headers: req.headers, body: Buffer.concat(chunks), remoteAddress: req.socket.remoteAddress };
      handle(request)
        .catch((error: unknown): WebResponse => {
          host.log.error('request failed', { method: request.method, path: request.url.pathname, error: errorText(error) });
          return { status: 500, body: { message: `devhost failed to handle the request: ${errorText(error)}` } };
        })
        .then((response) => writeResponse(res, response), (error: unknown) => host.log.error('response failed', { error: errorText(error) }));
    });
  });

  engine.kick();
  serviceBus.start();
  timers.start();

  const routes = describeRoutes(host, httpTriggers, url);
  let stopped = false;
  return {
    url,
    port,
    routes,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      timers.stop();
      await serviceBus.stop();
      await engine.stop();
      await host.terminate();
      db.close();
    },
  };
}

function writeResponse(res: http.ServerResponse, response: WebResponse): void {
  const headers: Record<string, string | string[]> = { ...(response.headers ?? {}) };
  let body: Buffer | undefined;
  if (Buffer.isBuffer(response.body)) body = response.body;
  else if (typeof response.body === 'string') body = Buffer.from(response.body);
  else if (response.body !== undefined) {
    body = Buffer.from(JSON.stringify(response.body));
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json; charset=utf-8';
  }
  res.writeHead(response.status, headers);
  res.end(body);
}

function adminFunctions(request: WebRequest, host: FunctionHost, serviceBus: ServiceBusService, timers: TimerService, httpTriggers: HttpTriggers, url: string): WebResponse {
  const pathname = request.url.pathname;
  if (pathname === '/admin/functions' && request.method === 'GET') {
    const body = host.functions().map((fn) => {
      const route = httpTriggers.routes.find((r) => r.fn === fn);
      return {
        name: fn.name,
        language: 'node',
        isDisabled: false,
        trigger: fn.trigger.type,
        ...(route ? { invoke_url_template: `${url}${httpTriggers.pathOf(route)}` } : {}),
        config: { bindings: Object.entries(fn.bindings).map(([name, binding]) => ({ ...binding, name })) },
      };
    });
    return { status: 200, body };
  }

  const match = /^\/admin\/functions\/([^/]+)$/.exec(pathname);
  if (!match || request.method !== 'POST') return { status: 404, body: { message: `No admin endpoint serves ${request.method} ${pathname}.` } };
  const fn = host.findFunction(decodeURIComponent(match[1] ?? ''));
  if (!fn) return { status: 404, body: { message: `No function named '${match[1]}' is registered.` } };
  let input: unknown;
  if (request.body.length > 0) {
    try {
      input = (JSON.parse(request.body.toString('utf8')) as { input?: unknown }).input;
    } catch {
      return { status: 400, body: { message: 'The body must be JSON like {"input": "..."}.' } };
    }
  }
  // The real host accepts the request and runs the function in the background.
  const started = invokeByAdmin(fn, input, host, serviceBus, timers);
  if (typeof started === 'string') return { status: 400, body: { message: started } };
  void started.catch((error: unknown) => host.log.error('admin invocation failed', { functionName: fn.name, error: errorText(error) }));
  return { status: 202 };
}

function invokeByAdmin(fn: ReturnType<FunctionHost['functions']>[number], input: unknown, host: FunctionHost, serviceBus: ServiceBusService, timers: TimerService): Promise<unknown> | string {
  switch (fn.trigger.type) {
    case 'timerTrigger':
      return timers.fire(fn, { isPastDue: false });
    case 'serviceBusTrigger':
      return serviceBus.invokeDirect(fn, input);
    case 'httpTrigger':
      return `Function '${fn.name}' has an HTTP trigger; call its route instead.`;
    case 'orchestrationTrigger':
    case 'entityTrigger':
    case 'activityTrigger':
      return `Function '${fn.name}' is a Durable ${fn.trigger.type}; start it through the Durable HTTP API.`;
    default: {
      const text = typeof input === 'string' ? input : JSON.stringify(input ?? null);
      return host.run(fn, { trigger: { string: text } });
    }
  }
}

function describeRoutes(host: FunctionHost, httpTriggers: HttpTriggers, url: string): string[] {
  const lines = httpTriggers.routes.map((r) => `${(r.methods ?? ['GET', 'POST']).join(',')} ${url}${httpTriggers.pathOf(r)}  -> ${r.fn.name} (${r.authLevel})`);
  for (const fn of host.functions()) {
    if (fn.trigger.type === 'eventGridTrigger') lines.push(`POST ${url}/runtime/webhooks/eventgrid?functionName=${fn.name}  -> ${fn.name} (eventGridTrigger)`);
    else if (fn.trigger.type !== 'httpTrigger') lines.push(`${fn.name}: ${fn.trigger.type}`);
  }
  lines.push(`GET ${url}/admin/functions`, `POST ${url}/admin/functions/{name}`, `* ${url}/runtime/webhooks/durabletask/...`, `* ${url}/admin/devhost/servicebus/...`);
  return lines;
}
