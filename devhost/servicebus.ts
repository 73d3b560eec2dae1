/**
 * A local Service Bus broker in SQLite: queues, topics with subscriptions,
 * peek-lock delivery, complete, abandon, lock expiry and dead-lettering after
 * maxDeliveryCount. Service Bus triggers and output bindings use it, and a
 * loopback admin endpoint lets tests send, peek and settle messages.
 */
import { randomUUID } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';

import { errorText } from '../src/observability/log';
import type { DevhostClock } from './clock';
import type { BindingMetadata, RegisteredFunction, RpcTypedData } from './core';
import { type FunctionHost, type HostJson, resolveSetting } from './host';
import { transaction } from './store';
import type { WebRequest, WebResponse } from './web';

/** Every topic keeps this subscription so that tests can peek what was published. */
export const tapSubscription = '$tap';

export interface MessageProperties {
  contentType?: string;
  correlationId?: string;
  subject?: string;
  to?: string;
  replyTo?: string;
  sessionId?: string;
  timeToLiveMs?: number;
  applicationProperties?: Record<string, unknown>;
  deadLetterReason?: string;
  deadLetterErrorDescription?: string;
  deadLetterSource?: string;
}

export interface OutgoingMessage extends MessageProperties {
  body: unknown;
  messageId?: string;
}

interface MessageRow {
  seq: number;
  entity: string;
  dead_letter: number;
  message_id: string;
  body: Uint8Array;
  properties: string;
  enqueued_ms: number;
  delivery_count: number;
  locked_until_ms: number;
  lock_token: string | null;
}

interface BrokerSettings {
  maxDeliveryCount: number;
  lockDurationMs: number;
}

interface TriggerWorker {
  fn: RegisteredFunction;
  entity: string;
  running: number;
}

/** Entity path of a queue or a subscription, lower-cased as Service Bus names are case-insensitive. */
export function queuePath(queue: string): string {
  return queue.toLowerCase();
}

export function subscriptionPath(topic: string, subscription: string): string {
  return `${topic.toLowerCase()}/subscriptions/${subscription.toLowerCase()}`;
}

export class ServiceBusService {
  private readonly settings: BrokerSettings;
  private readonly maxConcurrentCalls: number;
  private readonly workers: TriggerWorker[] = [];
  private interval: NodeJS.Timeout | undefined;
  private pumpScheduled = false;
  private stopped = false;
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly db: DatabaseSync,
    private readonly host: FunctionHost,
    private readonly clock: DevhostClock,
    hostJson: HostJson,
  ) {
    const sb = hostJson.extensions?.serviceBus;
    this.maxConcurrentCalls = sb?.messageHandlerOptions?.maxConcurrentCalls ?? sb?.maxConcurrentCalls ?? 16;
    this.settings = {
      maxDeliveryCount: positiveSetting('DEVHOST_SERVICEBUS_MAX_DELIVERY_COUNT', 10),
      lockDurationMs: positiveSetting('DEVHOST_SERVICEBUS_LOCK_DURATION_MS', 60_000),
    };
    host.outputHandlers.set('serviceBus', (binding, value) => this.sendFromBinding(binding, value));

    for (const fn of host.functions()) {
      if (fn.trigger.type !== 'serviceBusTrigger') continue;
      const entity = this.triggerEntity(fn);
      this.workers.push({ fn, entity, running: 0 });
    }
  }

  private triggerEntity(fn: RegisteredFunction): string {
    const owner = `Service Bus trigger of function '${fn.name}'`;
    const queue = fn.trigger.queueName;
    if (typeof queue === 'string') return queuePath(resolveSetting(queue, owner));
    const topic = fn.trigger.topicName;
    const subscription = fn.trigger.subscriptionName;
    if (typeof topic !== 'string' || typeof subscription !== 'string') throw new Error(`${owner} names neither queueName nor topicName with subscriptionName; fix its registration.`);
    const topicName = resolveSetting(topic, owner);
    const subscriptionName = resolveSetting(subscription, owner);
    this.createSubscription(topicName, subscriptionName);
    return subscriptionPath(topicName, subscriptionName);
  }

  start(): void {
    this.interval = setInterval(() => this.kick(), 250);
    this.interval.unref();
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.interval) clearInterval(this.interval);
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  kick(): void {
    if (this.pumpScheduled || this.stopped) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    for (const worker of this.workers) {
      const batchSize = worker.fn.trigger.cardinality === 'many' ? maxBatchSize : 1;
      while (!this.stopped && worker.running < this.maxConcurrentCalls) {
        const messages = this.receiveBatch(worker.entity, batchSize);
        if (messages.length === 0) break;
        worker.running += 1;
        const work = this.deliver(worker.fn, messages, batchSize > 1)
          .catch((error: unknown) => this.host.log.error('service bus delivery failed', { functionName: worker.fn.name, messageId: messages[0]?.message_id, error: errorText(error) }))
          .finally(() => {
            worker.running -= 1;
            this.inflight.delete(work);
            this.kick();
          });
        this.inflight.add(work);
      }
    }
  }

  // ---- broker operations ---------------------------------------------------------

  createSubscription(topic: string, subscription: string): void {
    this.db.prepare('INSERT OR IGNORE INTO sb_subscriptions (topic, name) VALUES (?, ?)').run(topic.toLowerCase(), subscription.toLowerCase());
  }

  subscriptions(topic: string): string[] {
    const rows = this.db.prepare('SELECT name FROM sb_subscriptions WHERE topic = ? ORDER BY name').all(topic.toLowerCase()) as { name: string }[];
    return [tapSubscription, ...rows.map((r) => r.name).filter((n) => n !== tapSubscription)];
  }

  /** Sends messages to a queue or topic; returns their sequence numbers (one per copy). */
  send(kind: 'queue' | 'topic', name: string, messages: OutgoingMessage[]): number[] {
    const entities = kind === 'queue' ? [queuePath(name)] : this.subscriptions(name).map((sub) => subscriptionPath(name, sub));
    const now = this.clock.now();
    const insert = this.db.prepare('INSERT INTO sb_messages (entity, message_id, body, properties, enqueued_ms) VALUES (?, ?, ?, ?, ?)');
    const sequenceNumbers = transaction(this.db, () => {
      const seqs: number[] = [];
      for (const message of messages) {
        const { body, contentType } = encodeBody(message.body, message.contentType);
        const messageId = message.messageId ?? randomUUID().replace(/-/g, '');
        const { body: _body, messageId: _id, ...properties } = message;
        for (const entity of entities) seqs.push(Number(insert.run(entity, messageId, body, JSON.stringify({ ...properties, contentType }), now).lastInsertRowid));
      }
      return seqs;
    });
    this.kick();
    return sequenceNumbers;
  }

  private sendFromBinding(binding: BindingMetadata, value: unknown): void {
    const owner = `Service Bus output binding '${binding.name ?? ''}'`;
    const messages = (Array.isArray(value) ? (value as unknown[]) : [value]).map((body) => ({ body }));
    if (typeof binding.queueName === 'string') this.send('queue', resolveSetting(binding.queueName, owner), messages);
    else if (typeof binding.topicName === 'string') this.send('topic', resolveSetting(binding.topicName, owner), messages);
    else throw new Error(`${owner} names neither queueName nor topicName.`);
  }

  /** Locks the next deliverable message of `entity`, dead-lettering messages past maxDeliveryCount. */
  receive(entity: string, lockDurationMs = this.settings.lockDurationMs): MessageRow | undefined {
    return transaction(this.db, () => {
      const now = this.clock.now();
      for (;;) {
        const row = this.db.prepare('SELECT * FROM sb_messages WHERE entity = ? AND dead_letter = 0 AND locked_until_ms <= ? ORDER BY seq LIMIT 1').get(entity, now) as MessageRow | undefined;
        if (!row) return undefined;
        if (row.delivery_count >= this.settings.maxDeliveryCount) {
          // The previous lock expired on the last allowed delivery.
          this.moveToDeadLetter(row, 'MaxDeliveryCountExceeded', `Message could not be consumed after ${row.delivery_count} delivery attempts.`);
          continue;
        }
        const lockToken = randomUUID();
        const lockedUntil = now + lockDurationMs;
        this.db.prepare('UPDATE sb_messages SET delivery_count = delivery_count + 1, locked_until_ms = ?, lock_token = ? WHERE seq = ?').run(lockedUntil, lockToken, row.seq);
        return { ...row, delivery_count: row.delivery_count + 1, locked_until_ms: lockedUntil, lock_token: lockToken };
      }
    });
  }

  private lockedRow(seq: number, lockToken: string): MessageRow | string {
    const row = this.db.prepare('SELECT * FROM sb_messages WHERE seq = ? AND dead_letter = 0').get(seq) as MessageRow | undefined;
    if (!row || row.lock_token !== lockToken || row.locked_until_ms < this.clock.now()) return `The lock on message ${seq} was lost (expired, already settled or wrong lock token); receive the message again.`;
    return row;
  }

  complete(seq: number, lockToken: string): string | undefined {
    const row = this.lockedRow(seq, lockToken);
    if (typeof row === 'string') return row;
    this.db.prepare('DELETE FROM sb_messages WHERE seq = ?').run(seq);
    return undefined;
  }

  abandon(seq: number, lockToken: string): string | undefined {
    const row = this.lockedRow(seq, lockToken);
    if (typeof row === 'string') return row;
    if (row.delivery_count >= this.settings.maxDeliveryCount) {
      this.moveToDeadLetter(row, 'MaxDeliveryCountExceeded', `Message could not be consumed after ${row.delivery_count} delivery attempts.`);
    } else {
      this.db.prepare('UPDATE sb_messages SET locked_until_ms = 0, lock_token = NULL WHERE seq = ?').run(seq);
    }
    this.kick();
    return undefined;
  }

  deadLetter(seq: number, lockToken: string, reason: string, description: string): string | undefined {
    const row = this.lockedRow(seq, lockToken);
    if (typeof row === 'string') return row;
    this.moveToDeadLetter(row, reason, description);
    return undefined;
  }

  private moveToDeadLetter(row: MessageRow, reason: string, description: string): void {
    const properties = { ...(JSON.parse(row.properties) as MessageProperties), deadLetterReason: reason, deadLetterErrorDescription: description, deadLetterSource: row.entity };
    this.db.prepare('UPDATE sb_messages SET dead_letter = 1, locked_until_ms = 0, lock_token = NULL, properties = ? WHERE seq = ?').run(JSON.stringify(properties), row.seq);
  }

  peek(entity: string, deadLetter: boolean, fromSequence: number, max: number): MessageRow[] {
    return this.db.prepare('SELECT * FROM sb_messages WHERE entity = ? AND dead_letter = ? AND seq >= ? ORDER BY seq LIMIT ?').all(entity, deadLetter ? 1 : 0, fromSequence, max) as unknown as MessageRow[];
  }

  // ---- triggers -------------------------------------------------------------------

  private receiveBatch(entity: string, size: number): MessageRow[] {
    const messages: MessageRow[] = [];
    while (messages.length < size) {
      const message = this.receive(entity);
      if (!message) break;
      messages.push(message);
    }
    return messages;
  }

  /** Runs the trigger on one message, or on a batch for `cardinality: 'many'`, then settles every message. */
  private async deliver(fn: RegisteredFunction, messages: MessageRow[], batch: boolean): Promise<void> {
    const now = this.clock.now();
    const input = batch ? { trigger: batchTriggerData(messages), triggerMetadata: batchTriggerMetadata(messages, now) } : { trigger: triggerData(messages[0] as MessageRow), triggerMetadata: triggerMetadata(messages[0] as MessageRow, now) };
    const result = await this.host.run(fn, input);
    // NOTE: settlement is always automatic (autoCompleteMessages true); SDK-type bindings that settle in code are not supported.
    for (const message of messages) {
      const problem = result.ok ? this.complete(message.seq, message.lock_token ?? '') : this.abandon(message.seq, message.lock_token ?? '');
      if (problem) this.host.log.warn('service bus settlement failed', { functionName: fn.name, messageId: message.message_id, reason: problem });
    }
  }

  /** Runs a Service Bus trigger on a message that is not stored (admin endpoint). */
  async invokeDirect(fn: RegisteredFunction, input: unknown): Promise<void> {
    const { body, contentType } = encodeBody(input, undefined);
    const row: MessageRow = { seq: 0, entity: 'admin', dead_letter: 0, message_id: randomUUID().replace(/-/g, ''), body, properties: JSON.stringify({ contentType }), enqueued_ms: this.clock.now(), delivery_count: 1, locked_until_ms: 0, lock_token: null };
    await this.host.run(fn, { trigger: triggerData(row), triggerMetadata: triggerMetadata(row, this.clock.now()) });
  }

  // ---- admin endpoint ------------------------------------------------------------

  /** Serves /admin/devhost/servicebus/{path}; see devhost/README.md for the routes. */
  handleAdmin(request: WebRequest, path: string): WebResponse {
    const parts = path.split('/').filter((p) => p.length > 0).map((p) => decodeURIComponent(p));
    const method = request.method.toUpperCase();
    const [kind, name, third, subscription] = parts;
    if ((kind !== 'queues' && kind !== 'topics') || !name) return { status: 404, body: { message: 'Use queues/{queue}/... or topics/{topic}/... under /admin/devhost/servicebus/.' } };

    if (kind === 'topics' && third === 'messages' && parts.length === 3 && method === 'POST') return this.adminSend('topic', name, request);
    if (kind === 'topics' && third === 'subscriptions' && parts.length === 3 && method === 'GET') return { status: 200, body: this.subscriptions(name) };
    if (kind === 'topics' && third === 'subscriptions' && subscription && parts.length === 4 && method === 'PUT') {
      this.createSubscription(name, subscription);
      return { status: 201 };
    }
    if (kind === 'queues' && third === 'messages' && parts.length === 3 && method === 'POST') return this.adminSend('queue', name, request);

    let entity: string | undefined;
    if (kind === 'queues') entity = queuePath(name);
    else if (subscription && third === 'subscriptions') entity = subscriptionPath(name, subscription);
    const rest = kind === 'queues' ? parts.slice(2) : parts.slice(4);
    if (!entity || rest[0] !== 'messages') return { status: 404, body: { message: `No Service Bus admin route for ${method} /${path}.` } };
    return this.adminMessages(request, method, entity, rest.slice(1));
  }

  private adminSend(kind: 'queue' | 'topic', name: string, request: WebRequest): WebResponse {
    let parsed: unknown;
    try {
      parsed = JSON.parse(request.body.toString('utf8'));
    } catch {
      return { status: 400, body: { message: 'The body must be JSON: {"body": ..., "messageId"?, "contentType"?, "applicationProperties"?} or an array of those.' } };
    }
    const messages = (Array.isArray(parsed) ? parsed : [parsed]) as OutgoingMessage[];
    if (messages.some((m) => typeof m !== 'object' || m === null || !('body' in m))) return { status: 400, body: { message: 'Every message needs a "body" field.' } };
    return { status: 201, body: { sequenceNumbers: this.send(kind, name, messages) } };
  }

  private adminMessages(request: WebRequest, method: string, entity: string, rest: string[]): WebResponse {
    const params = request.url.searchParams;
    if (rest.length === 0 && method === 'GET') {
      const rows = this.peek(entity, params.get('deadLetter') === 'true', Number(params.get('fromSequence') ?? '0'), Number(params.get('max') ?? '100'));
      return { status: 200, body: rows.map((row) => messageView(row)) };
    }
    if (rest[0] === 'head' && method === 'POST') {
      const lockMs = Number(params.get('lockDurationMs') ?? '') || this.settings.lockDurationMs;
      const row = this.receive(entity, lockMs);
      return row ? { status: 201, body: messageView(row) } : { status: 204 };
    }
    const seq = Number(rest[0]);
    const lockToken = rest[1];
    if (!Number.isInteger(seq) || !lockToken) return { status: 404, body: { message: 'Use messages/{sequenceNumber}/{lockToken}.' } };
    let problem: string | undefined;
    if (method === 'DELETE' && rest.length === 2) problem = this.complete(seq, lockToken);
    else if (method === 'PUT' && rest.length === 2) problem = this.abandon(seq, lockToken);
    else if (method === 'POST' && rest[2] === 'deadletter') problem = this.deadLetter(seq, lockToken, params.get('reason') ?? 'DeadLetteredByReceiver', params.get('description') ?? '');
    else return { status: 405 };
    return problem ? { status: 410, body: { message: problem } } : { status: 200 };
  }
}

/** Messages per invocation for `cardinality: 'many'`, kept small for local runs; the real extension reads maxMessageBatchSize. */
const maxBatchSize = 32;

function positiveSetting(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`Invalid ${name} "${raw}"; expected a positive integer.`);
  return value;
}

/** Stores a body as bytes with its content type: objects as JSON, strings as text. */
function encodeBody(body: unknown, contentType: string | undefined): { body: Uint8Array; contentType: string | undefined } {
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) return { body: new Uint8Array(body), contentType: contentType ?? 'application/octet-stream' };
  if (typeof body === 'string') return { body: Buffer.from(body, 'utf8'), contentType: contentType ?? 'text/plain' };
  return { body: Buffer.from(JSON.stringify(body ?? null), 'utf8'), contentType: contentType ?? 'application/json' };
}

function isText(row: MessageRow): boolean {
  const contentType = (JSON.parse(row.properties) as MessageProperties).contentType ?? '';
  return contentType !== 'application/octet-stream';
}

function triggerData(row: MessageRow): RpcTypedData {
  return isText(row) ? { string: Buffer.from(row.body).toString('utf8') } : { bytes: row.body };
}

/** Encodes a batch as collectionString when every message is text, else as collectionBytes. */
function batchTriggerData(rows: MessageRow[]): RpcTypedData {
  if (rows.every(isText)) return { collectionString: { string: rows.map((row) => Buffer.from(row.body).toString('utf8')) } };
  return { collectionBytes: { bytes: rows.map((row) => row.body) } };
}

/** Builds batch metadata: every single-message key with an `Array` suffix, as the extension names them. */
function batchTriggerMetadata(rows: MessageRow[], now: number): Record<string, RpcTypedData> {
  const singles = rows.map((row) => triggerMetadata(row, now));
  const metadata: Record<string, RpcTypedData> = { sys: singles[0]?.sys ?? { json: '{}' } };
  for (const key of Object.keys(singles[0] ?? {})) {
    if (key === 'sys') continue;
    metadata[`${key}Array`] = { json: JSON.stringify(singles.map((single) => JSON.parse(single[key]?.json ?? 'null') as unknown)) };
  }
  return metadata;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Builds trigger metadata with the Service Bus extension v5 names, encoding strings as JSON so that "123" stays a string. */
function triggerMetadata(row: MessageRow, now: number): Record<string, RpcTypedData> {
  const p = JSON.parse(row.properties) as MessageProperties;
  const text = (value: string | undefined) => ({ json: JSON.stringify(value ?? null) });
  const ttl = p.timeToLiveMs ?? 14 * 24 * 3600 * 1000;
  return {
    MessageId: text(row.message_id),
    DeliveryCount: { json: String(row.delivery_count) },
    EnqueuedTimeUtc: text(iso(row.enqueued_ms)),
    ExpiresAtUtc: text(iso(row.enqueued_ms + ttl)),
    LockedUntil: text(iso(row.locked_until_ms)),
    SequenceNumber: { json: String(row.seq) },
    EnqueuedSequenceNumber: { json: String(row.seq) },
    LockToken: text(row.lock_token ?? undefined),
    ContentType: text(p.contentType),
    CorrelationId: text(p.correlationId),
    Subject: text(p.subject),
    Label: text(p.subject),
    To: text(p.to),
    ReplyTo: text(p.replyTo),
    SessionId: text(p.sessionId),
    TimeToLive: text(timeSpan(ttl)),
    State: text('Active'),
    ApplicationProperties: { json: JSON.stringify(p.applicationProperties ?? {}) },
    UserProperties: { json: JSON.stringify(p.applicationProperties ?? {}) },
    sys: { json: JSON.stringify({ MethodName: 'devhost', UtcNow: iso(now), RandGuid: randomUUID() }) },
  };
}

function timeSpan(ms: number): string {
  const days = Math.floor(ms / 86_400_000);
  const rest = new Date(ms % 86_400_000).toISOString().slice(11, 19);
  return days > 0 ? `${days}.${rest}` : rest;
}

function messageView(row: MessageRow): Record<string, unknown> {
  const p = JSON.parse(row.properties) as MessageProperties;
  const text = Buffer.from(row.body).toString('utf8');
  let body: unknown = isText(row) ? text : Buffer.from(row.body).toString('base64');
  if (p.contentType?.includes('json')) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return {
    sequenceNumber: row.seq,
    messageId: row.message_id,
    body,
    ...p,
    enqueuedTimeUtc: iso(row.enqueued_ms),
    deliveryCount: row.delivery_count,
    lockedUntilUtc: row.locked_until_ms > 0 ? iso(row.locked_until_ms) : null,
    lockToken: row.lock_token,
    state: row.dead_letter ? 'DeadLettered' : 'Active',
  };
}
