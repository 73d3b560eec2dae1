import type { FunctionOutput, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { FunctionInput } from '@azure/functions';

import { errorText, invocationLogger } from '../src/observability/log';
import type { ActivityDescriptor } from './contract';

/** Maximum length of an error message that crosses the activity boundary into orchestration history. */
export const maxActivityErrorLength = 300;

export type ActivityHandler<I, O> = (input: I, context: InvocationContext) => O | Promise<O>;

/** Shortens an error for orchestration history: first line, at most maxActivityErrorLength characters. */
export function shortMessage(error: unknown): string {
  const text = errorText(error);
  const line = text.split('\n').find((l) => l.trim() !== '') ?? text;
  return line.length > maxActivityErrorLength ? `${line.slice(0, maxActivityErrorLength - 3)}...` : line;
}

/**
 * Registers an activity under its descriptor's name. A thrown error is logged
 * in full with the release id and crosses into history shortened, so that
 * history stays small while the log keeps the detail.
 */
export function registerActivity<I, O>(
  activity: ActivityDescriptor<I, O>,
  handler: ActivityHandler<I, O>,
  bindings: { extraInputs?: FunctionInput[]; extraOutputs?: FunctionOutput[] } = {},
): void {
  df.app.activity(activity.name, {
    ...bindings,
    handler: async (input: unknown, context: InvocationContext) => {
      try {
        return await handler(input as I, context);
      } catch (error) {
        const releaseId = (input as { releaseId?: string; instanceId?: string } | null)?.releaseId ?? (input as { instanceId?: string } | null)?.instanceId;
        invocationLogger(context, { releaseId }).error('activity failed', { activity: activity.name, error: errorText(error), stack: (error as Error).stack });
        throw new Error(shortMessage(error), { cause: error });
      }
    },
  });
}
