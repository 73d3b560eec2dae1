/**
 * One function invocation over the core seam, in the order the Node.js worker
 * uses: invocation model, preInvocation hooks, handler, postInvocation hooks,
 * response.
 */
import { randomUUID } from 'node:crypto';

import type { CoreInvocationContext, CoreRegistry, RegisteredFunction, RpcTypedData } from './core';

/** Encodes a host-side value so that strings stay strings after the library's decoding. */
export function jsonData(value: unknown): RpcTypedData {
  return { json: JSON.stringify(value ?? null) };
}

/** Decodes a value the library returned (returnValue or outputData entry). */
export function decodeTypedData(data: RpcTypedData | undefined): unknown {
  if (!data) return undefined;
  if (data.json !== undefined) return JSON.parse(data.json);
  if (data.string !== undefined) return data.string;
  if (data.int !== undefined) return Number(data.int);
  if (data.double !== undefined) return Number(data.double);
  if (data.bytes !== undefined) return Buffer.from(data.bytes);
  if (data.stream !== undefined) return Buffer.from(data.stream);
  if (data.http !== undefined) return data.http;
  if (data.collectionString) return data.collectionString.string;
  if (data.collectionBytes) return data.collectionBytes.bytes.map((b) => Buffer.from(b));
  return undefined;
}

export interface InvocationInput {
  trigger: RpcTypedData;
  triggerMetadata?: Record<string, RpcTypedData>;
  /** Extra input data by binding type (for example `durableClient`). */
  extraInputsByType?: Record<string, RpcTypedData>;
  invocationId?: string;
}

export interface InvocationResult {
  invocationId: string;
  ok: boolean;
  error?: Error;
  /** The raw returnValue, still encoded. */
  returnValue?: RpcTypedData;
  /** Output binding values by binding name, still encoded. */
  outputs: Map<string, RpcTypedData>;
  durationMs: number;
}

/** Invokes `fn` with the given trigger data and returns its encoded outputs or its error. */
export async function invoke(registry: CoreRegistry, fn: RegisteredFunction, input: InvocationInput, onLog: (level: string, category: string, message: string, invocationId: string) => void): Promise<InvocationResult> {
  const invocationId = input.invocationId ?? randomUUID();
  const started = performance.now();
  const inputData = [{ name: fn.triggerName, data: input.trigger }];
  for (const [bindingName, binding] of Object.entries(fn.bindings)) {
    if (binding.direction !== 'in' || bindingName === fn.triggerName) continue;
    const data = input.extraInputsByType?.[binding.type];
    if (data) inputData.push({ name: bindingName, data });
  }

  const coreCtx: CoreInvocationContext = {
    invocationId,
    request: { invocationId, functionId: fn.functionId, inputData, triggerMetadata: input.triggerMetadata ?? {} },
    metadata: { name: fn.name, bindings: fn.bindings },
    state: undefined,
    log: (level, category, message) => onLog(level, category, message, invocationId),
  };
  const result: InvocationResult = { invocationId, ok: false, outputs: new Map(), durationMs: 0 };
  try {
    const model = registry.programmingModel;
    if (!model) throw new Error('No programming model was set; the app did not register any function through @azure/functions.');
    const invocationModel = await model.getInvocationModel(coreCtx);
    const args = await invocationModel.getArguments();
    const hookData: Record<string, unknown> = {};
    const preContext: Record<string, unknown> = { hookData, appHookData: registry.appHookData, invocationContext: args.context, inputs: args.inputs, functionCallback: fn.callback };
    await registry.runHooks('preInvocation', preContext);

    coreCtx.state = 'invocation';
    let value: unknown;
    let error: unknown;
    try {
      value = await invocationModel.invokeFunction(args.context, preContext.inputs as unknown[], preContext.functionCallback as typeof fn.callback);
    } catch (caught) {
      error = caught;
    }

    coreCtx.state = 'postInvocationHooks';
    const postContext: Record<string, unknown> = { hookData, appHookData: registry.appHookData, invocationContext: args.context, inputs: preContext.inputs, result: value, error };
    await registry.runHooks('postInvocation', postContext);
    if (postContext.error instanceof Error) throw postContext.error;
    if (postContext.error !== undefined && postContext.error !== null) throw new Error(`A postInvocation hook set a non-Error failure: ${JSON.stringify(postContext.error)}`);

    const response = await invocationModel.getResponse(args.context, postContext.result);
    for (const output of response.outputData ?? []) result.outputs.set(output.name, output.data);
    result.returnValue = response.returnValue;
    result.ok = true;
  } catch (caught) {
    result.error = caught instanceof Error ? caught : new Error(String(caught));
  } finally {
    coreCtx.state = undefined;
  }
  result.durationMs = performance.now() - started;
  return result;
}
