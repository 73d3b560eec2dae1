/**
 * The host process: app settings, loading the app's entry point through the
 * core seam, invocation with one log line each, and the trigger services.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { errorText, Logger } from '../src/observability/log';
import type { DevhostClock } from './clock';
import { type BindingMetadata, CoreRegistry, type RegisteredFunction } from './core';
import { decodeTypedData, invoke, type InvocationInput, type InvocationResult } from './invoke';

/** Trigger type names as @azure/functions and durable-functions register them. */
export const TriggerType = {
  http: 'httpTrigger',
  timer: 'timerTrigger',
  serviceBus: 'serviceBusTrigger',
  eventGrid: 'eventGridTrigger',
  orchestration: 'orchestrationTrigger',
  activity: 'activityTrigger',
  entity: 'entityTrigger',
} as const;

export interface HostJson {
  extensions?: {
    http?: { routePrefix?: string };
    durableTask?: { hubName?: string; maxConcurrentActivityFunctions?: number; maxConcurrentOrchestratorFunctions?: number };
    serviceBus?: { messageHandlerOptions?: { maxConcurrentCalls?: number; autoComplete?: boolean }; maxConcurrentCalls?: number; autoCompleteMessages?: boolean };
  };
}

/** Reads JSON from `file`, or returns undefined when the file does not exist. */
export function readJsonFile<T>(file: string): T | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (error) {
    throw new Error(`Invalid JSON in ${file}: ${errorText(error)}. Fix the file or remove it.`, { cause: error });
  }
}

/**
 * Applies app settings: Values from <appDir>/local.settings.json where the
 * environment does not already set them, then `overrides`.
 */
export function applyAppSettings(appDir: string, overrides: Record<string, string> = {}): void {
  const settings = readJsonFile<{ Values?: Record<string, unknown> }>(path.join(appDir, 'local.settings.json'));
  for (const [key, value] of Object.entries(settings?.Values ?? {})) {
    if (process.env[key] === undefined) process.env[key] = String(value);
  }
  Object.assign(process.env, overrides);
}

/** Replaces `%Name%` binding expressions with app settings; throws on a missing setting. */
export function resolveSetting(value: string, owner: string): string {
  return value.replace(/%([^%]+)%/g, (_match, name: string) => {
    const resolved = process.env[name];
    if (resolved === undefined) throw new Error(`${owner} uses %${name}%, but the app setting ${name} is not set; add it to local.settings.json or the environment.`);
    return resolved;
  });
}

/** Expands package.json `main` (a file or a glob) into entry files, as the worker does. */
export function entryFiles(appDir: string): string[] {
  const pkg = readJsonFile<{ main?: string }>(path.join(appDir, 'package.json'));
  if (!pkg?.main) throw new Error(`No "main" in ${path.join(appDir, 'package.json')}; set it to the compiled entry point (for example dist/src/index.js).`);
  const pattern = pkg.main;
  const files = /[*?[{]/.test(pattern) ? fs.globSync(pattern, { cwd: appDir }).map((file) => path.resolve(appDir, file)) : [path.resolve(appDir, pattern)];
  const missing = files.filter((file) => !fs.existsSync(file));
  if (files.length === 0 || missing.length > 0) throw new Error(`The app entry point "${pattern}" matches no file under ${appDir} (missing: ${missing.join(', ') || pattern}); run "npm run build" first.`);
  return files.sort();
}

/** Owns the registry and runs invocations with one structured log line each. */
export class FunctionHost {
  readonly registry = new CoreRegistry();
  readonly log: Logger;
  /** Extra input data by binding type, filled in by services (the durable client). */
  readonly extraInputs: Record<string, InvocationInput['extraInputsByType']> = {};
  /** Senders for output bindings by binding type (for example `serviceBus`). */
  readonly outputHandlers = new Map<string, (binding: BindingMetadata, value: unknown) => void>();
  private clientBinding: (() => string) | undefined;

  constructor(
    readonly appDir: string,
    readonly clock: DevhostClock,
  ) {
    // Writing straight to the streams skips console formatting, which was a large share of each invocation's CPU time in a profile.
    const sink = {
      debug: (line: unknown) => process.stdout.write(`${String(line)}\n`),
      info: (line: unknown) => process.stdout.write(`${String(line)}\n`),
      warn: (line: unknown) => process.stderr.write(`${String(line)}\n`),
      error: (line: unknown) => process.stderr.write(`${String(line)}\n`),
    };
    this.log = new Logger(sink, { component: 'devhost' });
    this.registry.logSink = (level, category, message) => this.writeAppLog(level, category, message);
  }

  /** Installs the core module, loads the entry files and runs appStart hooks. */
  async load(): Promise<void> {
    this.registry.install();
    for (const file of entryFiles(this.appDir)) {
      try {
        // createRequire loads through Module.prototype.require, where the core module is installed.
        createRequire(file)(file);
      } catch (error) {
        throw new Error(`The app failed to load from ${path.relative(this.appDir, file)}: ${errorText(error)}`, { cause: error });
      }
    }
    this.registry.started = true;
    const model = this.registry.programmingModel;
    if (!model) throw new Error(`The app at ${this.appDir} registered no functions; check that its entry point imports @azure/functions and calls app.*.`);
    const capabilities = await model.getCapabilities({});
    if (capabilities.HttpUri) throw new Error('The app enabled HTTP streaming (app.setup({ enableHttpStream: true })), which devhost does not support; disable it for local runs.');
    await this.registry.runHooks('appStart', { hookData: {}, appHookData: this.registry.appHookData, functionAppDirectory: this.appDir });
  }

  async terminate(): Promise<void> {
    await this.registry.runHooks('appTerminate', { hookData: {}, appHookData: this.registry.appHookData });
  }

  functions(): RegisteredFunction[] {
    return [...this.registry.functions.values()];
  }

  /** Finds a function by name (case-insensitive) with the given trigger type. */
  findFunction(name: string, triggerType?: string): RegisteredFunction | undefined {
    const fn = this.registry.functions.get(name.toLowerCase());
    if (!fn || (triggerType && fn.trigger.type !== triggerType)) return undefined;
    return fn;
  }

  logError(message: string, fields: Record<string, unknown>): void {
    this.log.error(message, fields);
  }

  setClientBinding(build: () => string): void {
    this.clientBinding = build;
  }

  /** Invokes `fn` and writes one structured log line with its outcome. */
  async run(fn: RegisteredFunction, input: InvocationInput, ids: { instanceId?: string } = {}): Promise<InvocationResult> {
    const extra = { ...input.extraInputsByType };
    if (this.clientBinding && Object.values(fn.bindings).some((b) => b.type === 'durableClient' || b.type === 'orchestrationClient')) {
      const data = { string: this.clientBinding() };
      extra.durableClient = data;
      extra.orchestrationClient = data;
    }
    const result = await invoke(this.registry, fn, { ...input, extraInputsByType: extra }, (level, category, message) => this.writeAppLog(level, category, message));
    if (result.ok) this.sendOutputs(fn, result);
    const fields = { functionName: fn.name, triggerType: fn.trigger.type, invocationId: result.invocationId, instanceId: ids.instanceId, durationMs: Math.round(result.durationMs * 100) / 100, outcome: result.ok ? 'succeeded' : 'failed' };
    if (result.ok) this.log.info('function invoked', fields);
    else this.log.error('function failed', { ...fields, error: errorText(result.error) });
    return result;
  }

  /** Hands output binding values to their senders; a failed send fails the invocation, as in the host. */
  private sendOutputs(fn: RegisteredFunction, result: InvocationResult): void {
    for (const [name, binding] of Object.entries(fn.bindings)) {
      if (binding.direction !== 'out') continue;
      const handler = this.outputHandlers.get(binding.type);
      const encoded = name === '$return' ? result.returnValue : result.outputs.get(name);
      if (!handler || encoded === undefined) continue;
      const value = decodeTypedData(encoded);
      if (value === undefined || value === null) continue;
      try {
        handler({ ...binding, name }, value);
      } catch (error) {
        result.ok = false;
        result.error = new Error(`Output binding '${name}' of function '${fn.name}' failed: ${errorText(error)}`, { cause: error });
      }
    }
  }

  /** Runs `log` hooks, which may change level and message, then writes the line as it came (app lines are already JSON). */
  private writeAppLog(originalLevel: string, category: string, originalMessage: string): void {
    const hookContext: Record<string, unknown> = { level: originalLevel, category, message: originalMessage, hookData: {}, appHookData: this.registry.appHookData };
    for (const hook of this.registry.hooks.get('log') ?? []) {
      try {
        // The worker runs log hooks synchronously; a returned promise is not awaited there either.
        void hook(hookContext);
      } catch (error) {
        process.stderr.write(`devhost: a log hook failed: ${errorText(error)}\n`);
      }
    }
    const level = String(hookContext.level);
    const message = String(hookContext.message);
    if (category === 'system' && (level === 'trace' || level === 'debug')) return;
    const stream = level === 'error' || level === 'critical' || level === 'warning' ? process.stderr : process.stdout;
    stream.write(`${message}\n`);
  }
}
