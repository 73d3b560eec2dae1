import type { OrchestrationContext, Task } from 'durable-functions';

import type { ReleaseAction, ReleaseActionEvent } from '../../src/contracts/phases';
import { releaseActions } from '../../src/contracts/phases';

interface Waiter {
  action: ReleaseAction;
  task: Task;
  taken: boolean;
}

/**
 * Collects manual actions raised as external events, so that none is lost.
 *
 * NOTE: durable-functions 3.5.0 hands an EventRaised to the newest open wait of
 * that name, and a wait stays open after the race it was part of ended (for
 * example when a timer won). An event that arrives while the orchestrator runs
 * an activity therefore completes such an older wait. The inbox keeps every
 * wait it created and reads all completed ones, so those events are seen at
 * the next check. Each wait is yielded in exactly one race, because yielding it
 * again would enter it twice in the library's open-event list. Events raised
 * before any wait exists are buffered by the library and delivered to the
 * first wait of that name.
 */
export class ActionInbox {
  private readonly waiters: Waiter[] = [];

  constructor(private readonly context: OrchestrationContext) {}

  /** Creates a fresh wait for every action name; the caller must yield them in one race. */
  arm(): Task[] {
    return releaseActions.map((action) => {
      const task = this.context.df.waitForExternalEvent(action);
      this.waiters.push({ action, task, taken: false });
      return task;
    });
  }

  /** Returns the actions that arrived and were not taken yet, oldest request first, and marks them taken. */
  take(): ReleaseActionEvent[] {
    const arrived = this.waiters.filter((w) => !w.taken && w.task.isCompleted);
    for (const waiter of arrived) waiter.taken = true;
    return arrived
      .map((w) => normaliseEvent(w.action, w.task.result))
      .sort((a, b) => (a.requestedAt < b.requestedAt ? -1 : a.requestedAt > b.requestedAt ? 1 : 0));
  }
}

/** Fills an event payload that lacks fields, so that a hand-raised event still carries its action and actor. */
export function normaliseEvent(action: ReleaseAction, payload: unknown): ReleaseActionEvent {
  const body = typeof payload === 'object' && payload !== null ? (payload as Partial<ReleaseActionEvent>) : {};
  return {
    action,
    actor: body.actor ?? { kind: 'function-key', id: 'unknown' },
    requestedAt: typeof body.requestedAt === 'string' ? body.requestedAt : '',
    ...(typeof body.reason === 'string' ? { reason: body.reason } : {}),
  };
}
