/**
 * A loopback server that speaks the Durable Functions HTTP API as the
 * durable-functions 3.5 client calls it through `rpcBaseUrl`: start returns
 * 202 with the management payload, status returns 404 for an unknown
 * instance and 200/202 with the status body otherwise, raise-event returns
 * 404/410/202, and entities return state or 404. Like the real extension, it
 * restarts a completed instance when asked to start it again, so a test can
 * show that intake never asks.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';

export interface FakeInstance {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  /** How many times a start request created or restarted this instance. */
  starts: number;
}

export interface RecordedCall {
  method: string;
  path: string;
  body: string;
}

const finished = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);

export class DurableApiServer {
  readonly instances = new Map<string, FakeInstance>();
  readonly entities = new Map<string, unknown>();
  readonly signals: { entity: string; operation: string; input: unknown }[] = [];
  readonly events: { instanceId: string; name: string; data: unknown }[] = [];
  readonly calls: RecordedCall[] = [];
  /** Status returned for every request while set, as an unhealthy backend would. */
  failWith: number | undefined;
  /** Path pattern that gets 500, as a backend failing one kind of call would. */
  failPath: RegExp | undefined;
  private server: Server | undefined;
  private base = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 1000;
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    const { port } = this.server.address() as AddressInfo;
    this.base = `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
    this.server = undefined;
  }

  /** Binding data as the Functions host hands it to a durable client input. */
  clientData(): Record<string, unknown> {
    const b = `${this.base}/runtime/webhooks/durabletask`;
    const qs = 'taskHub=TestHub&connection=Storage&code=local';
    return {
      taskHubName: 'TestHub',
      creationUrls: { createNewInstancePostUri: `${b}/orchestrators/{functionName}[/{instanceId}]?code=local`, createAndWaitOnNewInstancePostUri: `${b}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&code=local` },
      managementUrls: {
        id: 'INSTANCEID',
        statusQueryGetUri: `${b}/instances/INSTANCEID?${qs}`,
        sendEventPostUri: `${b}/instances/INSTANCEID/raiseEvent/{eventName}?${qs}`,
        terminatePostUri: `${b}/instances/INSTANCEID/terminate?reason={text}&${qs}`,
        rewindPostUri: `${b}/instances/INSTANCEID/rewind?reason={text}&${qs}`,
        purgeHistoryDeleteUri: `${b}/instances/INSTANCEID?${qs}`,
        restartPostUri: `${b}/instances/INSTANCEID/restart?${qs}`,
        suspendPostUri: `${b}/instances/INSTANCEID/suspend?reason={text}&${qs}`,
        resumePostUri: `${b}/instances/INSTANCEID/resume?reason={text}&${qs}`,
      },
      baseUrl: b,
      requiredQueryStringParameters: 'code=local',
      rpcBaseUrl: `${this.base}/durabletask/`,
    };
  }

  /** A real durable-functions DurableClient, obtained through getClient as a function would get it. */
  client(): df.DurableClient {
    const binding = df.input.durableClient();
    const context = new InvocationContext({ invocationId: 'test', functionName: 'test', options: { extraInputs: [binding] } });
    context.extraInputs.set(binding, this.clientData());
    return df.getClient(context);
  }

  /** Moves an instance to a runtime status and custom status, as the orchestration would. */
  setStatus(instanceId: string, runtimeStatus: string, customStatus?: unknown): void {
    const instance = this.instances.get(instanceId);
    if (!instance) throw new Error(`instance ${instanceId} does not exist on the fake Durable API`);
    instance.runtimeStatus = runtimeStatus;
    if (customStatus !== undefined) instance.customStatus = customStatus;
    instance.lastUpdatedTime = new Date().toISOString();
  }

  setEntity(name: string, key: string, state: unknown): void {
    this.entities.set(`${name.toLowerCase()}@${key}`, state);
  }

  startsOf(instanceId: string): number {
    return this.instances.get(instanceId)?.starts ?? 0;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.base);
    const path = url.pathname.replace(/^\/durabletask\//, '');
    this.calls.push({ method: req.method ?? '', path, body });
    if (this.failWith !== undefined) return send(res, this.failWith, { message: 'backend unavailable' });
    if (this.failPath?.test(path)) return send(res, 500, { message: `failing ${path} on purpose` });

    const parts = path.split('/').map(decodeURIComponent);
    if (req.method === 'POST' && parts[0] === 'orchestrators') return this.startInstance(res, parts[1]!, parts[2], body);
    if (req.method === 'GET' && parts[0] === 'instances' && parts.length === 2) return this.status(res, parts[1]!);
    if (req.method === 'POST' && parts[0] === 'instances' && parts[2] === 'raiseEvent') return this.raise(res, parts[1]!, parts[3]!, body, req.headers['content-type']);
    if (parts[0] === 'entities' && parts.length === 3) return this.entity(req.method ?? '', res, parts[1]!, parts[2]!, url.searchParams.get('op'), body);
    send(res, 404, { message: `no route for ${req.method} ${path}` });
  }

  private startInstance(res: ServerResponse, name: string, instanceId: string | undefined, body: string): void {
    const id = instanceId ?? `auto-${this.instances.size + 1}`;
    const existing = this.instances.get(id);
    if (existing && !finished.has(existing.runtimeStatus)) {
      // NOTE: with the default OverridableExistingInstanceStates the extension rejects this start with
      // OrchestrationAlreadyExistsException; the HTTP status it maps to is not verified here, and intake
      // handles any failed start the same way, by reading the status again.
      return send(res, 409, { message: `An instance with ID '${id}' already exists with status ${existing.runtimeStatus}.` });
    }
    const now = new Date().toISOString();
    const input = body === '' ? null : (JSON.parse(body) as unknown);
    // A completed instance is restarted under the same id, as the extension does by default.
    this.instances.set(id, { name, instanceId: id, runtimeStatus: 'Pending', input, customStatus: null, output: null, createdTime: now, lastUpdatedTime: now, starts: (existing?.starts ?? 0) + 1 });
    const statusUri = `${this.base}/runtime/webhooks/durabletask/instances/${id}`;
    send(res, 202, { id, statusQueryGetUri: statusUri, sendEventPostUri: `${statusUri}/raiseEvent/{eventName}`, terminatePostUri: `${statusUri}/terminate?reason={text}`, purgeHistoryDeleteUri: statusUri }, { location: statusUri, 'retry-after': '10' });
  }

  private status(res: ServerResponse, instanceId: string): void {
    const instance = this.instances.get(instanceId);
    if (!instance) return send(res, 404, null);
    const { starts: _starts, ...body } = instance;
    send(res, finished.has(instance.runtimeStatus) ? 200 : 202, body);
  }

  private raise(res: ServerResponse, instanceId: string, name: string, body: string, contentType: string | undefined): void {
    const instance = this.instances.get(instanceId);
    if (!instance) return send(res, 404, null);
    if (!contentType?.startsWith('application/json')) return send(res, 400, { message: 'raise event requires application/json' });
    if (finished.has(instance.runtimeStatus)) return send(res, 410, null);
    this.events.push({ instanceId, name, data: JSON.parse(body) as unknown });
    send(res, 202, null);
  }

  private entity(method: string, res: ServerResponse, name: string, key: string, op: string | null, body: string): void {
    const id = `${name.toLowerCase()}@${key}`;
    if (method === 'GET') {
      return this.entities.has(id) ? send(res, 200, this.entities.get(id)) : send(res, 404, null);
    }
    this.signals.push({ entity: id, operation: op ?? '', input: body === '' ? undefined : (JSON.parse(body) as unknown) });
    send(res, 202, null);
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === null ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
