/**
 * Typed activity contracts. Each activity file exports a descriptor made with
 * defineActivity; orchestrators call activities only through the descriptor,
 * so a changed input or output type breaks the build, not a running release.
 */
export interface ActivityDescriptor<Input, Output> {
  readonly name: string;
  /** Phantom fields that carry the types; never set at run time. */
  readonly __input?: Input;
  readonly __output?: Output;
}

/** Declares an activity's name with its input and output types. */
export function defineActivity<Input, Output>(name: string): ActivityDescriptor<Input, Output> {
  return { name };
}

export type InputOf<D> = D extends ActivityDescriptor<infer I, unknown> ? I : never;
export type OutputOf<D> = D extends ActivityDescriptor<unknown, infer O> ? O : never;
