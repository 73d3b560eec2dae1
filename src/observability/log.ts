import type { InvocationContext } from '@azure/functions';

/** Log field names used across the app; log keys are an interface, so add new ones here. */
export interface LogFields {
  releaseId?: string;
  instanceId?: string;
  releaseKey?: string;
  deliveryId?: string;
  eventId?: string;
  eventType?: string;
  source?: string;
  endpoint?: string;
  modelName?: string;
  modelVersion?: string;
  namespace?: string;
  deployment?: string;
  nodeName?: string;
  phase?: string;
  reason?: string;
  outcome?: string;
  status?: number;
  durationMs?: number;
  error?: string;
  [extra: string]: unknown;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Anything that can write a log line: an InvocationContext, or a console-backed sink. */
export interface LogSink {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

const levelRank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const secretKey = /secret|password|token|signature|authorization|sharedaccesskey|connectionstring|cookie|apikey|x-functions-key|^code$/i;

/** Replaces the values of secret-looking keys, at any depth, with "[redacted]". */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
    out[key] = secretKey.test(key) ? '[redacted]' : redact(inner, depth + 1);
  }
  return out;
}

/**
 * Structured logger: each line is one JSON object with a constant message and
 * fields from LogFields. Secret-looking fields are redacted before writing.
 */
export class Logger {
  constructor(
    private readonly sink: LogSink,
    private readonly base: LogFields = {},
    private readonly minLevel: LogLevel = (process.env.LOG_LEVEL as LogLevel | undefined) ?? 'info',
  ) {}

  /** Returns a logger that adds `fields` to every line. */
  with(fields: LogFields): Logger {
    return new Logger(this.sink, { ...this.base, ...fields }, this.minLevel);
  }

  debug(message: string, fields?: LogFields): void { this.write('debug', message, fields); }
  info(message: string, fields?: LogFields): void { this.write('info', message, fields); }
  warn(message: string, fields?: LogFields): void { this.write('warn', message, fields); }
  error(message: string, fields?: LogFields): void { this.write('error', message, fields); }

  private write(level: LogLevel, message: string, fields?: LogFields): void {
    if (levelRank[level] < (levelRank[this.minLevel] ?? 20)) return;
    const line = JSON.stringify(redact({ level, message, ...this.base, ...fields }));
    this.sink[level](line);
  }
}

/** Logger for a function invocation; every line carries the invocation id. */
export function invocationLogger(context: InvocationContext, fields: LogFields = {}): Logger {
  return new Logger(context, { invocationId: context.invocationId, functionName: context.functionName, ...fields });
}

/** Logger for code that runs outside an invocation (start-up, CLI, sim). */
export function consoleLogger(fields: LogFields = {}): Logger {
  return new Logger(console, fields);
}

/** Short text of an error for logs and activity results, with its cause chain. */
export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}
