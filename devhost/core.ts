/**
 * The `@azure/functions-core` module that @azure/functions 4.x looks for at its
 * first registration. devhost provides it before the app loads, the way the
 * Node.js worker does, and keeps every registration and hook it receives.
 */
import Module from 'node:module';

/** Binding metadata as @azure/functions 4.16.5 hands it to `registerFunction`. */
export interface BindingMetadata {
  type: string;
  direction: 'in' | 'out' | 'inout';
  name?: string;
  [option: string]: unknown;
}

/** RpcTypedData: the worker protocol's tagged value. */
export interface RpcTypedData {
  string?: string;
  json?: string;
  bytes?: Uint8Array;
  stream?: Uint8Array;
  http?: unknown;
  int?: number;
  double?: number;
  collectionString?: { string: string[] };
  collectionBytes?: { bytes: Uint8Array[] };
}

export interface CoreInvocationRequest {
  invocationId: string;
  functionId: string;
  inputData: { name: string; data: RpcTypedData }[];
  triggerMetadata: Record<string, RpcTypedData>;
}

export interface CoreInvocationContext {
  invocationId: string;
  request: CoreInvocationRequest;
  metadata: { name: string; bindings: Record<string, BindingMetadata> };
  state?: string;
  log(level: string, category: string, message: string): void;
}

export interface InvocationResponse {
  invocationId: string;
  outputData?: { name: string; data: RpcTypedData }[];
  returnValue?: RpcTypedData;
}

export interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], callback: FunctionCallback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<InvocationResponse>;
}

export interface ProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(coreCtx: CoreInvocationContext): InvocationModel | Promise<InvocationModel>;
  getCapabilities(capabilities: Record<string, string>): Record<string, string> | Promise<Record<string, string>>;
}

export type FunctionCallback = (...args: unknown[]) => unknown;
export type HookCallback = (context: Record<string, unknown>) => unknown;

/** One registered function: its metadata and the handler the library wrapped. */
export interface RegisteredFunction {
  name: string;
  functionId: string;
  bindings: Record<string, BindingMetadata>;
  callback: FunctionCallback;
  triggerName: string;
  trigger: BindingMetadata;
  retryOptions?: unknown;
}

export class Disposable {
  constructor(private readonly onDispose: () => void) {}
  static from(...items: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => items.forEach((item) => item.dispose()));
  }
  dispose(): void {
    this.onDispose();
  }
}

export type CoreLogSink = (level: string, category: string, message: string) => void;

/** The registry behind the core module: functions, hooks and the programming model. */
export class CoreRegistry {
  readonly functions = new Map<string, RegisteredFunction>();
  readonly hooks = new Map<string, HookCallback[]>();
  programmingModel: ProgrammingModel | undefined;
  /** Shared by every hook, as `appHookData` is in the worker. */
  readonly appHookData: Record<string, unknown> = {};
  /** Set once the entry point has loaded; later registrations throw, as in the worker. */
  started = false;
  logSink: CoreLogSink = () => undefined;

  registerFunction(metadata: { name: string; bindings: Record<string, BindingMetadata>; retryOptions?: unknown }, callback: FunctionCallback): Disposable {
    if (this.started) throw new Error(`Function "${metadata.name}" was registered after app start-up; a function can only be registered during app startup.`);
    const key = metadata.name.toLowerCase();
    if (this.functions.has(key)) throw new Error(`Function "${metadata.name}" is registered twice; function names must be unique (case-insensitive).`);

    const triggerEntry = Object.entries(metadata.bindings).find(([, binding]) => /trigger$/i.test(binding.type));
    if (!triggerEntry) throw new Error(`Function "${metadata.name}" has no trigger binding; register it with exactly one trigger.`);

    this.functions.set(key, {
      name: metadata.name,
      functionId: `devhost-${key}`,
      bindings: metadata.bindings,
      callback,
      triggerName: triggerEntry[0],
      trigger: triggerEntry[1],
      retryOptions: metadata.retryOptions,
    });
    return new Disposable(() => this.functions.delete(key));
  }

  registerHook(name: string, callback: HookCallback): Disposable {
    const list = this.hooks.get(name) ?? [];
    list.push(callback);
    this.hooks.set(name, list);
    return new Disposable(() => {
      const index = list.indexOf(callback);
      if (index >= 0) list.splice(index, 1);
    });
  }

  /** Runs every hook of `name` in registration order, awaiting each. */
  async runHooks(name: string, context: Record<string, unknown>): Promise<void> {
    for (const hook of this.hooks.get(name) ?? []) await hook(context);
  }

  /** The object exported as `@azure/functions-core`. */
  moduleExports(): Record<string, unknown> {
    return {
      version: '4.0.0-devhost',
      hostVersion: '4.1040.0-devhost',
      registerFunction: this.registerFunction.bind(this),
      registerHook: this.registerHook.bind(this),
      setProgrammingModel: (model: ProgrammingModel) => {
        this.programmingModel = model;
      },
      getProgrammingModel: () => this.programmingModel,
      log: (level: string, category: string, message: string) => this.logSink(level, category, message),
      Disposable,
    };
  }

  /** Makes `require('@azure/functions-core')` return this registry's module, as the worker does. */
  install(): void {
    const exported = this.moduleExports();
    const proto = Module.prototype as unknown as { require: (id: string) => unknown };
    proto.require = new Proxy(proto.require, {
      apply: (target, self, args: unknown[]): unknown => (args[0] === '@azure/functions-core' ? exported : (Reflect.apply(target, self, args) as unknown)),
    });
  }
}
