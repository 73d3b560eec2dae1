import * as df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';

import type { ActivityDescriptor } from '../../activities/contract';

/** Generator type of every orchestration step: it yields durable tasks and returns T. */
export type Step<T> = Generator<Task, T, unknown>;

/**
 * Retries of every activity call: 3 attempts, 2 s then 4 s apart. Activities
 * are idempotent reconcilers, so a retry after a half-done attempt is safe.
 */
export const activityRetry = (): df.RetryOptions => {
  const options = new df.RetryOptions(2000, 3);
  options.backoffCoefficient = 2;
  options.maxRetryIntervalInMilliseconds = 30000;
  return options;
};

/**
 * Calls an activity through its descriptor with retries and returns its typed
 * output. This is the one place where the untyped value from `yield` is cast.
 */
export function* callActivity<I, O>(context: OrchestrationContext, activity: ActivityDescriptor<I, O>, input: I): Step<O> {
  const output: unknown = yield context.df.callActivityWithRetry(activity.name, activityRetry(), input);
  return output as O;
}

/** Creates a durable timer that fires `seconds` after the orchestration's current time. */
export function timerAfter(context: OrchestrationContext, seconds: number): df.TimerTask {
  return context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + Math.max(0, seconds) * 1000));
}
