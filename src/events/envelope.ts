import { field, FieldConflictError, findField, isObject, type JsonObject, textField } from './fields';

/** An inbound event with the envelope parsed, in either Event Grid schema or CloudEvents 1.0. */
export interface EventEnvelope {
  schema: 'eventgrid' | 'cloudevents';
  id: string;
  type: string;
  /** Event Grid `topic` or CloudEvents `source`: the ARM id of the publisher, when it sends one. */
  source?: string;
  subject?: string;
  /** Event time as sent, when it parses as a time. */
  time?: string;
  data: unknown;
  /** Things that were odd but not fatal, such as a misspelled attribute or an invalid time. */
  warnings: string[];
}

export type EnvelopeResult =
  | { ok: true; event: EventEnvelope }
  | { ok: false; reason: string; field: string; expected: string; id?: string; type?: string };

const expectedSchemas = 'an Event Grid schema event (id, eventType, subject, eventTime, data) or a CloudEvents 1.0 event (specversion "1.0", id, type, source)';

/**
 * Splits a delivery body into events as the Functions host does: an array is
 * a batch (possibly empty), anything else is one event.
 */
export function splitDelivery(body: unknown): unknown[] {
  return Array.isArray(body) ? body : [body];
}

/**
 * Parses the envelope of one event. Never throws: every problem comes back as
 * a reason with the field and what to send, because an Event Grid function
 * must acknowledge bad input instead of failing the delivery.
 */
export function parseEnvelope(value: unknown): EnvelopeResult {
  if (!isObject(value)) {
    return { ok: false, reason: `event is ${Array.isArray(value) ? 'an array' : typeof value}, not a JSON object`, field: '(event)', expected: expectedSchemas };
  }
  try {
    const legacy = findField(value, 'cloudEventsVersion');
    if (legacy !== undefined) {
      return unsupportedVersion(value, legacy.key, legacy.value);
    }
    const specVersion = findField(value, 'specversion');
    if (specVersion !== undefined) {
      return parseCloudEvent(value, specVersion.key, specVersion.value);
    }
    return parseEventGridEvent(value);
  } catch (error) {
    if (error instanceof FieldConflictError) {
      return { ok: false, reason: error.message, field: error.field, expected: 'each attribute once' };
    }
    throw error;
  }
}

function unsupportedVersion(event: JsonObject, key: string, version: unknown): EnvelopeResult {
  const result: EnvelopeResult = {
    ok: false,
    reason: `CloudEvents version ${JSON.stringify(version)} is not supported`,
    field: key,
    expected: 'CloudEvents 1.0 ("specversion": "1.0") or the Event Grid schema; set the subscription\'s event delivery schema to one of them',
  };
  const id = textField(event, 'id') ?? textField(event, 'eventID');
  const type = textField(event, 'type') ?? textField(event, 'eventType');
  if (id !== undefined) result.id = id;
  if (type !== undefined) result.type = type;
  return result;
}

function parseCloudEvent(event: JsonObject, versionKey: string, version: unknown): EnvelopeResult {
  if (version !== '1.0') return unsupportedVersion(event, versionKey, version);

  const warnings: string[] = [];
  if (versionKey !== 'specversion') {
    warnings.push(`attribute "${versionKey}" should be spelled "specversion"`);
  }
  const id = textField(event, 'id');
  const type = textField(event, 'type');
  const source = textField(event, 'source');
  const missing = ([['id', id], ['type', type], ['source', source]] as const).find(([, v]) => v === undefined);
  if (missing) {
    return { ok: false, reason: `CloudEvent attribute "${missing[0]}" is missing or empty`, field: missing[0], expected: 'a non-empty string, as CloudEvents 1.0 requires', ...(id ? { id } : {}) };
  }

  const envelope: EventEnvelope = { schema: 'cloudevents', id: id!, type: type!, source: source!, data: cloudEventData(event, warnings), warnings };
  const subject = textField(event, 'subject');
  if (subject !== undefined) envelope.subject = subject;
  const time = checkedTime(field(event, 'time'), 'time', warnings);
  if (time !== undefined) envelope.time = time;
  return { ok: true, event: envelope };
}

function cloudEventData(event: JsonObject, warnings: string[]): unknown {
  const data = findField(event, 'data');
  if (data !== undefined) return data.value;
  const encoded = field(event, 'data_base64');
  if (typeof encoded !== 'string') return undefined;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 !== 0) {
    warnings.push('data_base64 is not valid base64; the event carries no usable data');
    return undefined;
  }
  const text = Buffer.from(encoded, 'base64').toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function parseEventGridEvent(event: JsonObject): EnvelopeResult {
  const id = textField(event, 'id');
  const type = textField(event, 'eventType');
  if (type === undefined) {
    return { ok: false, reason: 'event has neither "eventType" (Event Grid schema) nor "specversion" (CloudEvents 1.0)', field: 'eventType', expected: expectedSchemas, ...(id ? { id } : {}) };
  }
  if (id === undefined) {
    return { ok: false, reason: 'Event Grid event has no "id"', field: 'id', expected: 'a non-empty string', type };
  }

  const warnings: string[] = [];
  const envelope: EventEnvelope = { schema: 'eventgrid', id, type, data: field(event, 'data'), warnings };
  const topic = textField(event, 'topic');
  if (topic !== undefined) envelope.source = topic;
  const subject = field(event, 'subject');
  if (typeof subject === 'string') envelope.subject = subject;
  const time = checkedTime(field(event, 'eventTime'), 'eventTime', warnings);
  if (time !== undefined) envelope.time = time;
  return { ok: true, event: envelope };
}

/** Keeps a time only when it parses to a real date with a 4-digit year; otherwise notes why. */
function checkedTime(value: unknown, name: string, warnings: string[]): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value) && !Number.isNaN(Date.parse(value))) return value;
  warnings.push(`${name} ${JSON.stringify(value)} is not an RFC 3339 time; using the time of receipt`);
  return undefined;
}
