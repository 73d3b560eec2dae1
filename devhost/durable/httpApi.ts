/**
 * The Durable HTTP management API under /runtime/webhooks/durabletask/ (and
 * the RPC path the JavaScript client uses), with the status codes of the
 * Durable Functions extension's HttpApiHandler.
 */
import { randomUUID } from 'node:crypto';

import type { WebRequest, WebResponse } from '../web';
import { type DurableEngine, InstanceExistsError, type InstanceRow, OrchestratorNotFoundError, parseEntityId } from './engine';
import { eventTypeNames, type HistoryEvent, terminalStatuses } from './protocol';

const runningStatuses = new Set(['Running', 'Pending', 'ContinuedAsNew', 'Suspended']);

export interface DurableApiOptions {
  /** Base URL without trailing slash, for example http://127.0.0.1:7071/runtime/webhooks/durabletask. */
  baseUrl: string;
  taskHub: string;
  /** Key appended to management URLs when keys are enforced. */
  code?: string;
}

export class DurableHttpApi {
  constructor(
    private readonly engine: DurableEngine,
    private readonly options: DurableApiOptions,
  ) {}

  /** Handles `path` relative to the API base (for example `instances/abc`). */
  async handle(request: WebRequest, path: string): Promise<WebResponse> {
    const parts = path.split('/').filter((p) => p.length > 0).map((p) => decodeURIComponent(p));
    const [root, ...rest] = parts;
    const method = request.method.toUpperCase();
    if (root === 'orchestrators' && method === 'POST' && rest.length >= 1) return this.start(request, rest[0] ?? '', rest[1]);
    if (root === 'instances') return this.instances(request, method, rest);
    if (root === 'entities') return this.entities(request, method, rest);
    return notFound(`No Durable API route for ${method} /${path}.`);
  }

  // ---- URLs -----------------------------------------------------------------------

  private query(): string {
    const code = this.options.code ? `&code=${encodeURIComponent(this.options.code)}` : '';
    return `taskHub=${encodeURIComponent(this.options.taskHub)}&connection=Storage${code}`;
  }

  /** The management payload the extension returns from start and check-status responses. */
  managementUrls(instanceId: string): Record<string, string> {
    const base = `${this.options.baseUrl}/instances/${encodeURIComponent(instanceId)}`;
    const qs = this.query();
    return {
      id: instanceId,
      purgeHistoryDeleteUri: `${base}?${qs}`,
      sendEventPostUri: `${base}/raiseEvent/{eventName}?${qs}`,
      statusQueryGetUri: `${base}?${qs}`,
      terminatePostUri: `${base}/terminate?reason={text}&${qs}`,
      suspendPostUri: `${base}/suspend?reason={text}&${qs}`,
      resumePostUri: `${base}/resume?reason={text}&${qs}`,
      rewindPostUri: `${base}/rewind?reason={text}&${qs}`,
      restartPostUri: `${base}/restart?${qs}`,
    };
  }

  /** Builds the durable client input binding value (JSON text) the way the extension does. */
  clientBinding(rpcBaseUrl: string): string {
    const base = this.options.baseUrl;
    const code = this.options.code ? `code=${encodeURIComponent(this.options.code)}` : '';
    const creationQs = code ? `?${code}` : '';
    const management = this.managementUrls('INSTANCEID');
    delete management.restartPostUri;
    return JSON.stringify({
      taskHubName: this.options.taskHub,
      creationUrls: {
        createNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]${creationQs}`,
        createAndWaitOnNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}${code ? `&${code}` : ''}`,
      },
      managementUrls: management,
      baseUrl: base,
      requiredQueryStringParameters: code,
      rpcBaseUrl,
    });
  }

  // ---- start -------------------------------------------------------------------------

  private async start(request: WebRequest, functionName: string, requestedId: string | undefined): Promise<WebResponse> {
    const instanceId = requestedId ?? randomUUID().replace(/-/g, '');
    let input: unknown = null;
    const text = request.body.toString('utf8');
    if (text.trim().length > 0) {
      try {
        input = JSON.parse(text);
      } catch {
        return badRequest(`The request body is not valid JSON; send the orchestration input as JSON.`);
      }
    }

    try {
      this.engine.commit([instanceId], () => this.engine.createInstance(functionName, instanceId, input));
    } catch (error) {
      if (error instanceof OrchestratorNotFoundError) return badRequest(error.message);
      if (error instanceof InstanceExistsError) return { status: 409, body: { message: error.message } };
      throw error;
    }

    const timeoutSeconds = Number(request.url.searchParams.get('timeout') ?? '');
    if (Number.isFinite(timeoutSeconds) && timeoutSeconds > 0) {
      const row = await this.waitForFinish(instanceId, timeoutSeconds * 1000);
      if (row?.status === 'Completed') return { status: 200, body: JSON.parse(row.output ?? 'null') as unknown };
      if (row && terminalStatuses.has(row.status)) return { status: 200, body: this.statusBody(row, {}) };
    }
    return this.checkStatusResponse(instanceId);
  }

  private checkStatusResponse(instanceId: string): WebResponse {
    const urls = this.managementUrls(instanceId);
    return { status: 202, headers: { Location: urls.statusQueryGetUri ?? '', 'Retry-After': '10' }, body: urls };
  }

  /** Resolves when the instance reaches a final status or the timeout passes. */
  waitForFinish(instanceId: string, timeoutMs: number): Promise<InstanceRow | undefined> {
    return new Promise((resolve) => {
      const check = (id?: string) => {
        if (id !== undefined && id !== instanceId) return;
        const row = this.engine.getInstance(instanceId);
        if (row && !terminalStatuses.has(row.status)) return;
        finish(row);
      };
      const finish = (row: InstanceRow | undefined) => {
        clearTimeout(timer);
        this.engine.events.off('instance', check);
        resolve(row);
      };
      const timer = setTimeout(() => finish(this.engine.getInstance(instanceId)), timeoutMs);
      this.engine.events.on('instance', check);
      check();
    });
  }

  // ---- instances -----------------------------------------------------------------

  private instances(request: WebRequest, method: string, rest: string[]): WebResponse {
    const [instanceId, operation, eventName] = rest;
    if (!instanceId) {
      if (method === 'GET') return this.list(request);
      if (method === 'DELETE') return this.purgeBy(request);
      return methodNotAllowed(method);
    }
    const row = this.engine.getInstance(instanceId);
    const reason = request.url.searchParams.get('reason') ?? '';

    if (!operation) {
      if (method === 'GET') return row ? this.status(row, request) : notFound(`No instance with id '${instanceId}' was found.`);
      if (method === 'DELETE') return this.purge(instanceId);
      return methodNotAllowed(method);
    }
    if (method !== 'POST') return methodNotAllowed(method);
    if (!row) return notFound(`No instance with id '${instanceId}' was found.`);

    switch (operation) {
      case 'raiseEvent':
        return this.raiseEvent(request, row, eventName);
      case 'terminate':
        return this.control(row, { kind: 'terminate', reason });
      case 'suspend':
        return this.control(row, { kind: 'suspend', reason });
      case 'resume':
        return this.control(row, { kind: 'resume', reason });
      case 'restart':
        return this.restart(request, row);
      case 'rewind':
        return { status: 501, body: { message: 'Rewind is not supported by devhost; start a new instance instead.' } };
      default:
        return notFound(`Unknown instance operation '${operation}'.`);
    }
  }

  private control(row: InstanceRow, message: { kind: 'terminate' | 'suspend' | 'resume'; reason: string }): WebResponse {
    if (terminalStatuses.has(row.status)) return { status: 410, body: { message: `Instance '${row.instance_id}' is already ${row.status}.` } };
    this.engine.commit([row.instance_id], () => this.engine.postMessage(row.instance_id, message));
    return { status: 202 };
  }

  /** Starts the same orchestrator with the same input, under a new id unless restartWithNewInstanceId=false. */
  private restart(request: WebRequest, row: InstanceRow): WebResponse {
    const newId = request.url.searchParams.get('restartWithNewInstanceId') !== 'false';
    const instanceId = newId ? randomUUID().replace(/-/g, '') : row.instance_id;
    try {
      this.engine.commit([instanceId], () => this.engine.createInstance(row.name, instanceId, parseJson(row.input)));
    } catch (error) {
      if (error instanceof InstanceExistsError) return { status: 409, body: { message: error.message } };
      if (error instanceof OrchestratorNotFoundError) return badRequest(error.message);
      throw error;
    }
    return this.checkStatusResponse(instanceId);
  }

  private raiseEvent(request: WebRequest, row: InstanceRow, eventName: string | undefined): WebResponse {
    if (!eventName) return badRequest('The event name is missing; POST instances/{id}/raiseEvent/{eventName}.');
    const contentType = String(request.headers['content-type'] ?? '');
    if (!contentType.toLowerCase().includes('application/json')) return badRequest('Only application/json request content is supported for raiseEvent.');
    if (terminalStatuses.has(row.status)) return { status: 410, body: { message: `Instance '${row.instance_id}' is already ${row.status}; the event was not delivered.` } };
    const text = request.body.toString('utf8');
    try {
      if (text.length > 0) JSON.parse(text);
    } catch {
      return badRequest('The raiseEvent body is not valid JSON.');
    }
    const event: HistoryEvent = { EventType: 15, EventId: -1, IsPlayed: false, Timestamp: new Date(this.engine.clock.now()).toISOString(), Name: eventName, Input: text.length > 0 ? text : null };
    this.engine.commit([row.instance_id], () => this.engine.postMessage(row.instance_id, { kind: 'event', event }));
    return { status: 202 };
  }

  private status(row: InstanceRow, request: WebRequest): WebResponse {
    const params = request.url.searchParams;
    const body = this.statusBody(row, {
      showHistory: params.get('showHistory') === 'true',
      showHistoryOutput: params.get('showHistoryOutput') === 'true',
      showInput: params.get('showInput') !== 'false',
    });
    if (runningStatuses.has(row.status)) {
      return { status: 202, headers: { Location: this.managementUrls(row.instance_id).statusQueryGetUri ?? '', 'Retry-After': '5' }, body };
    }
    const failAs500 = params.get('returnInternalServerErrorOnFailure') === 'true';
    return { status: row.status === 'Failed' && failAs500 ? 500 : 200, body };
  }

  /** Builds the extension's StatusResponsePayload. The `input` and `output` keys are always present because the JS client requires them. */
  statusBody(row: InstanceRow, options: { showHistory?: boolean; showHistoryOutput?: boolean; showInput?: boolean }): Record<string, unknown> {
    const body: Record<string, unknown> = {
      name: row.name,
      instanceId: row.instance_id,
      runtimeStatus: row.status,
      input: options.showInput === false ? null : parseJson(row.input),
      customStatus: parseJson(row.custom_status),
      output: parseJson(row.output),
      createdTime: isoSeconds(row.created_ms),
      lastUpdatedTime: isoSeconds(row.updated_ms),
    };
    if (options.showHistory) body.historyEvents = this.engine.loadHistory(row.instance_id).map((event) => friendlyEvent(event, options.showHistoryOutput === true));
    return body;
  }

  private filteredRows(params: URLSearchParams): InstanceRow[] | string {
    const clauses: string[] = [];
    const values: (string | number)[] = [];
    const from = params.get('createdTimeFrom');
    const to = params.get('createdTimeTo');
    if (from) {
      const ms = Date.parse(from);
      if (Number.isNaN(ms)) return `createdTimeFrom "${from}" is not an ISO 8601 time.`;
      clauses.push('created_ms >= ?');
      values.push(ms);
    }
    if (to) {
      const ms = Date.parse(to);
      if (Number.isNaN(ms)) return `createdTimeTo "${to}" is not an ISO 8601 time.`;
      clauses.push('created_ms <= ?');
      values.push(ms);
    }
    const statuses = (params.get('runtimeStatus') ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    if (statuses.length > 0) {
      clauses.push(`status IN (${statuses.map(() => '?').join(',')})`);
      values.push(...statuses);
    }
    const prefix = params.get('instanceIdPrefix');
    if (prefix) {
      clauses.push('substr(instance_id, 1, ?) = ?');
      values.push(prefix.length, prefix);
    }
    const where = clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '';
    return this.engine.sql(`SELECT * FROM instances ${where} ORDER BY created_ms, instance_id`).all(...values) as unknown as InstanceRow[];
  }

  private list(request: WebRequest): WebResponse {
    const params = request.url.searchParams;
    const rows = this.filteredRows(params);
    if (typeof rows === 'string') return badRequest(rows);
    const top = Number(params.get('top') ?? '0');
    const offset = Number(request.headers['x-ms-continuation-token'] ?? '0') || 0;
    const page = top > 0 ? rows.slice(offset, offset + top) : rows.slice(offset);
    const headers: Record<string, string> = {};
    if (top > 0 && offset + top < rows.length) headers['x-ms-continuation-token'] = String(offset + top);
    const showInput = params.get('showInput') === 'true';
    return { status: 200, headers, body: page.map((row) => this.statusBody(row, { showInput })) };
  }

  private purge(instanceId: string): WebResponse {
    const row = this.engine.getInstance(instanceId);
    if (!row || !terminalStatuses.has(row.status)) return notFound(row ? `Instance '${instanceId}' is ${row.status}; only finished instances can be purged.` : `No instance with id '${instanceId}' was found.`);
    this.engine.commit([instanceId], () => this.engine.deleteInstanceRows(instanceId));
    return { status: 200, body: { instancesDeleted: 1 } };
  }

  private purgeBy(request: WebRequest): WebResponse {
    if (!request.url.searchParams.get('createdTimeFrom')) return badRequest('Purging by filter requires createdTimeFrom.');
    const rows = this.filteredRows(request.url.searchParams);
    if (typeof rows === 'string') return badRequest(rows);
    const finished = rows.filter((row) => terminalStatuses.has(row.status));
    if (finished.length === 0) return notFound('No finished instance matches the filter.');
    this.engine.commit(finished.map((r) => r.instance_id), () => finished.forEach((row) => this.engine.deleteInstanceRows(row.instance_id)));
    return { status: 200, body: { instancesDeleted: finished.length } };
  }

  // ---- entities ---------------------------------------------------------------------

  private entities(request: WebRequest, method: string, rest: string[]): WebResponse {
    const [name, rawKey] = rest;
    if (!name) return badRequest('The entity name is missing; use entities/{name}/{key}.');
    if (rawKey === undefined) {
      if (method !== 'GET') return methodNotAllowed(method);
      return this.listEntities(name.toLowerCase(), request.url.searchParams.get('fetchState') === 'true');
    }
    // The extension reads the key "$" as the empty key.
    const entityId = `@${name.toLowerCase()}@${rawKey === '$' ? '' : rawKey}`;
    if (method === 'GET') {
      const entity = this.engine.readEntity(entityId);
      if (!entity.exists) return notFound(`Entity '${entityId}' does not exist.`);
      return { status: 200, body: parseJson(entity.state) };
    }
    if (method === 'POST' || method === 'DELETE') {
      const op = method === 'DELETE' ? 'delete' : request.url.searchParams.get('op') ?? '';
      const text = request.body.toString('utf8');
      if (text.length > 0) {
        try {
          JSON.parse(text);
        } catch {
          return badRequest('The entity operation input is not valid JSON.');
        }
      }
      this.engine.commit([], () => this.engine.enqueueEntityRequest(entityId, { op, input: text.length > 0 ? text : null, signal: true, requestId: randomUUID() }));
      return { status: 202 };
    }
    return methodNotAllowed(method);
  }

  private listEntities(name: string, fetchState: boolean): WebResponse {
    const rows = this.engine.sql('SELECT entity_id, state, updated_ms FROM entities WHERE entity_id LIKE ? ORDER BY entity_id').all(`@${name}@%`) as { entity_id: string; state: string | null; updated_ms: number }[];
    const body = rows.map((row) => ({ entityId: { name, key: parseEntityId(row.entity_id).key }, lastOperationTime: isoSeconds(row.updated_ms), ...(fetchState ? { state: parseJson(row.state) } : {}) }));
    return { status: 200, body };
  }
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** History in the extension's readable form: EventType as a name, results only on request. */
function friendlyEvent(event: HistoryEvent, showOutput: boolean): Record<string, unknown> {
  const { EventType: type, IsPlayed: _played, ...rest } = event;
  const out: Record<string, unknown> = { EventType: eventTypeNames[type] ?? String(type), ...rest };
  if (!showOutput) delete out.Result;
  return out;
}

function badRequest(message: string): WebResponse {
  return { status: 400, body: { message } };
}

function notFound(message: string): WebResponse {
  return { status: 404, body: { message } };
}

function methodNotAllowed(method: string): WebResponse {
  return { status: 405, body: { message: `Method ${method} is not allowed here.` } };
}
