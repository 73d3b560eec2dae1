/**
 * A small Durable engine for orchestrator tests. It feeds the real
 * durable-functions 3.5.0 replay (the same handler that df.app.orchestration
 * registers) hand-built histories, carries out the actions it returns with
 * typed fake activities and the real ledger entity code, and moves a virtual
 * clock from timer to timer, so a release of many minutes replays in
 * milliseconds.
 */
import { InvocationContext } from '@azure/functions';
import type { OrchestrationContext } from 'durable-functions';
// The package exports no handler factory for tests; this is the function df.app.orchestration wraps.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createOrchestrator } = require('durable-functions/lib/src/util/testingUtils') as {
  createOrchestrator: (fn: (context: OrchestrationContext) => Generator<unknown, unknown, unknown>) => (trigger: unknown, context: InvocationContext) => Promise<OrchestratorState>;
};

import type { ActivityDescriptor } from '../../../activities/contract';
import type { EndpointLedgerState } from '../../../src/contracts/ledger';
import { applyLedgerOperation, emptyLedger } from '../../../src/entities/ledgerState';

interface OrchestratorState {
  isDone: boolean;
  actions: RawAction[][];
  output?: unknown;
  customStatus?: unknown;
  error?: string;
}

interface RawAction {
  actionType: number;
  functionName?: string;
  input?: unknown;
  retryOptions?: { firstRetryIntervalInMilliseconds: number; maxNumberOfAttempts: number; backoffCoefficient?: number; maxRetryIntervalInMilliseconds?: number };
  fireAt?: Date;
  isCanceled?: boolean;
  externalEventName?: string;
  instanceId?: string;
  operation?: string;
  compoundActions?: RawAction[];
}

type HistoryEvent = Record<string, unknown> & { EventType: number; EventId: number; IsPlayed: boolean; Timestamp: string };

const ActionType = { CallActivity: 0, CallActivityWithRetry: 1, ContinueAsNew: 4, CreateTimer: 5, WaitForExternalEvent: 6, CallEntity: 7, SignalEntity: 9, WhenAny: 11, WhenAll: 12 } as const;
const EventType = { ExecutionStarted: 0, TaskScheduled: 4, TaskCompleted: 5, TaskFailed: 6, TimerCreated: 10, TimerFired: 11, OrchestratorStarted: 12, OrchestratorCompleted: 13, EventSent: 14, EventRaised: 15 } as const;

/** What a fake activity sees besides its input. */
export interface FakeCall {
  now: Date;
  attempt: number;
}

export type FakeActivity<I, O> = (input: I, call: FakeCall) => O;

/** A scheduled external event: at a virtual time, or as soon as the custom status matches. */
export interface ScheduledEvent {
  name: string;
  data: unknown;
  atMs?: number;
  when?: (status: unknown) => boolean;
  /** Delivered in the same batch as the next completion of this activity, right after it. */
  duringActivity?: string;
}

interface PendingActivity {
  id: number;
  name: string;
  input: unknown;
  attempt: number;
  retry?: RawAction['retryOptions'];
}

interface PendingTimer {
  id: number;
  fireAt: number;
  canceled: boolean;
  /** Set for retry timers: the activity to schedule again when the timer fires. */
  retryOf?: PendingActivity & { failed: boolean };
}

/** One orchestration instance under test. */
export class ReplayInstance {
  readonly history: HistoryEvent[] = [];
  readonly calls: { name: string; input: unknown; at: number; attempt: number }[] = [];
  readonly statuses: unknown[] = [];
  readonly logs: string[] = [];
  output: unknown;
  error: string | undefined;
  done = false;
  customStatus: unknown;

  nextId = 0;
  processedActions = 0;
  readonly activities: PendingActivity[] = [];
  readonly timers: PendingTimer[] = [];
  readonly entityReplies: { guid: string; result: unknown; error?: string }[] = [];
  readonly timerByAction = new Map<number, PendingTimer>();
  readonly events: ScheduledEvent[] = [];
  episodes = 0;

  constructor(
    readonly engine: ReplayEngine,
    readonly instanceId: string,
    readonly fn: (context: OrchestrationContext) => Generator<unknown, unknown, unknown>,
    readonly input: unknown,
  ) {}
}

/**
 * The engine: owns the virtual clock, the fake activities and the ledger
 * entity state, and runs any number of instances until all are done.
 */
export class ReplayEngine {
  now: number;
  readonly instances = new Map<string, ReplayInstance>();
  readonly entities = new Map<string, EndpointLedgerState>();
  readonly entityOps: { key: string; operation: string; input: unknown }[] = [];
  private readonly fakes = new Map<string, FakeActivity<unknown, unknown>>();
  private guid = 0;

  constructor(start = Date.parse('2026-12-04T10:00:00.000Z')) {
    this.now = start;
  }

  /** Registers the fake of one activity, typed from its descriptor. */
  fake<I, O>(activity: ActivityDescriptor<I, O>, impl: FakeActivity<I, O>): this {
    this.fakes.set(activity.name, impl as FakeActivity<unknown, unknown>);
    return this;
  }

  start(instanceId: string, fn: ReplayInstance['fn'], input: unknown): ReplayInstance {
    const instance = new ReplayInstance(this, instanceId, fn, input);
    this.instances.set(instanceId, instance);
    instance.history.push(this.event(EventType.OrchestratorStarted, -1, {}), this.event(EventType.ExecutionStarted, -1, { Name: 'releaseOrchestrator', Input: JSON.stringify(input) }));
    return instance;
  }

  /** Schedules an external event on an instance. */
  raise(instance: ReplayInstance, event: ScheduledEvent): void {
    instance.events.push(event);
  }

  /** Runs every instance until all are done, or throws after `maxEpisodes`. */
  async run(maxEpisodes = 2000): Promise<void> {
    const fresh = new Set([...this.instances.values()].filter((i) => i.episodes === 0));
    for (const instance of fresh) await this.episode(instance);

    for (let n = 0; n < maxEpisodes; n++) {
      const open = [...this.instances.values()].filter((i) => !i.done);
      if (open.length === 0) return;
      const progressed = await this.deliverReady(open);
      if (progressed) continue;
      if (!(await this.advanceClock(open))) {
        throw new Error(`replay stalled at ${new Date(this.now).toISOString()}: instances ${open.map((i) => i.instanceId).join(', ')} wait for nothing that can happen`);
      }
    }
    throw new Error(`replay did not finish within ${maxEpisodes} episodes`);
  }

  private event(type: number, id: number, fields: Record<string, unknown>): HistoryEvent {
    return { EventType: type, EventId: id, IsPlayed: false, Timestamp: new Date(this.now).toISOString(), ...fields };
  }

  /** Delivers activity results, entity replies and due events; returns false when nothing was ready. */
  private async deliverReady(open: ReplayInstance[]): Promise<boolean> {
    for (const instance of open) {
      const completions = this.completions(instance);
      if (completions.length > 0) {
        await this.append(instance, completions);
        return true;
      }
    }
    return false;
  }

  private completions(instance: ReplayInstance): HistoryEvent[] {
    const out: HistoryEvent[] = [];
    for (const activity of instance.activities.splice(0)) {
      out.push(...this.runActivity(instance, activity));
      const riders = instance.events.filter((e) => e.duringActivity === activity.name);
      for (const event of riders) {
        instance.events.splice(instance.events.indexOf(event), 1);
        out.push(this.event(EventType.EventRaised, -1, { Name: event.name, Input: JSON.stringify(event.data) }));
      }
    }
    for (const reply of instance.entityReplies.splice(0)) {
      const body = reply.error ? { result: JSON.stringify(reply.error), exceptionType: 'Error' } : { result: JSON.stringify(reply.result ?? null) };
      out.push(this.event(EventType.EventRaised, -1, { Name: reply.guid, Input: JSON.stringify(body) }));
    }
    const due = instance.events.filter((e) => (e.atMs !== undefined && e.atMs <= this.now) || (e.when !== undefined && e.when(instance.customStatus)));
    for (const event of due) {
      instance.events.splice(instance.events.indexOf(event), 1);
      out.push(this.event(EventType.EventRaised, -1, { Name: event.name, Input: JSON.stringify(event.data) }));
    }
    return out;
  }

  private runActivity(instance: ReplayInstance, activity: PendingActivity): HistoryEvent[] {
    const impl = this.fakes.get(activity.name);
    instance.calls.push({ name: activity.name, input: activity.input, at: this.now, attempt: activity.attempt });
    try {
      if (!impl) throw new Error(`no fake registered for activity ${activity.name}`);
      const result = impl(activity.input, { now: new Date(this.now), attempt: activity.attempt });
      return [this.event(EventType.TaskCompleted, -1, { TaskScheduledId: activity.id, Result: JSON.stringify(result ?? null) })];
    } catch (error) {
      const failed = this.event(EventType.TaskFailed, -1, { TaskScheduledId: activity.id, Reason: (error as Error).message, Details: '' });
      if (!activity.retry) return [failed];
      // After every failed attempt the retry policy waits on a timer that takes the next task id.
      const r = activity.retry;
      const delay = Math.min(r.firstRetryIntervalInMilliseconds * (r.backoffCoefficient ?? 1) ** (activity.attempt - 1), r.maxRetryIntervalInMilliseconds ?? Number.MAX_SAFE_INTEGER);
      const timer: PendingTimer = { id: instance.nextId++, fireAt: this.now + delay, canceled: false, retryOf: { ...activity, failed: true } };
      instance.timers.push(timer);
      return [failed, this.event(EventType.TimerCreated, timer.id, { FireAt: new Date(timer.fireAt).toISOString() })];
    }
  }

  /** Moves the clock to the next timer or timed event; false when there is none. */
  private async advanceClock(open: ReplayInstance[]): Promise<boolean> {
    const candidates: number[] = [];
    for (const instance of open) {
      for (const timer of instance.timers) if (!timer.canceled) candidates.push(timer.fireAt);
      for (const event of instance.events) if (event.atMs !== undefined) candidates.push(event.atMs);
    }
    if (candidates.length === 0) return false;
    this.now = Math.max(this.now, Math.min(...candidates));
    for (const instance of open) {
      const fired = instance.timers.filter((t) => !t.canceled && t.fireAt <= this.now);
      if (fired.length === 0) continue;
      for (const t of fired) instance.timers.splice(instance.timers.indexOf(t), 1);
      const events = fired.map((t) => this.event(EventType.TimerFired, -1, { TimerId: t.id, FireAt: new Date(t.fireAt).toISOString() }));
      for (const t of fired) {
        if (t.retryOf && t.retryOf.attempt < (t.retryOf.retry?.maxNumberOfAttempts ?? 1)) {
          const again: PendingActivity = { id: -1, name: t.retryOf.name, input: t.retryOf.input, attempt: t.retryOf.attempt + 1, retry: t.retryOf.retry };
          pendingRetries.set(instance, [...(pendingRetries.get(instance) ?? []), again]);
        }
      }
      await this.append(instance, events);
    }
    return true;
  }

  private async append(instance: ReplayInstance, events: HistoryEvent[]): Promise<void> {
    for (const e of instance.history) e.IsPlayed = true;
    instance.history.push(this.event(EventType.OrchestratorStarted, -1, {}), ...events);
    await this.episode(instance);
  }

  private async episode(instance: ReplayInstance): Promise<void> {
    instance.episodes++;
    // Retries scheduled by fired timers take their ids in history order, right after the TimerFired.
    for (const again of pendingRetries.get(instance) ?? []) {
      again.id = instance.nextId++;
      instance.history.push(this.event(EventType.TaskScheduled, again.id, { Name: again.name, Input: JSON.stringify(again.input) }));
      instance.activities.push(again);
    }
    pendingRetries.delete(instance);

    const handler = createOrchestrator(instance.fn);
    const context = new InvocationContext({
      functionName: 'releaseOrchestrator',
      invocationId: `${instance.instanceId}-${instance.episodes}`,
      logHandler: (_level, ...args) => instance.logs.push(args.map(String).join(' ')),
    });
    const trigger = {
      history: instance.history,
      input: instance.input,
      instanceId: instance.instanceId,
      isReplaying: false,
      parentInstanceId: null,
      upperSchemaVersion: 1,
      upperSchemaVersionNew: 2,
      longRunningTimerIntervalDuration: '3.00:00:00',
      maximumShortTimerDuration: '3650.00:00:00',
      defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
    };

    let state: OrchestratorState;
    try {
      state = await handler(trigger, context);
    } catch (error) {
      const text = (error as Error).message;
      const marker = text.indexOf('$OutOfProcData$:');
      const data = marker >= 0 ? (JSON.parse(text.slice(marker + '$OutOfProcData$:'.length)) as OrchestratorState) : undefined;
      instance.error = data?.error ?? text;
      instance.done = true;
      return;
    }

    instance.customStatus = state.customStatus;
    instance.statuses.push(JSON.parse(JSON.stringify(state.customStatus ?? null)));
    const all = state.actions[0] ?? [];
    this.markCanceled(instance, all);
    const fresh = all.slice(instance.processedActions);
    instance.processedActions = all.length;
    this.schedule(instance, all, fresh);
    instance.history.push(this.event(EventType.OrchestratorCompleted, -1, {}));

    if (state.isDone) {
      instance.done = true;
      instance.output = state.output;
    }
  }

  /** Cancelled timers come back as isCanceled on the same action; leaf positions are stable across replays. */
  private markCanceled(instance: ReplayInstance, all: RawAction[]): void {
    const leaves = flatten(all);
    for (const [index, timer] of instance.timerByAction) {
      if (leaves[index]?.isCanceled) timer.canceled = true;
    }
  }

  private schedule(instance: ReplayInstance, all: RawAction[], fresh: RawAction[]): void {
    let index = flatten(all.slice(0, all.length - fresh.length)).length;
    for (const leaf of flatten(fresh)) {
      const timer = this.scheduleLeaf(instance, leaf);
      if (timer) instance.timerByAction.set(index, timer);
      index++;
    }
  }

  private scheduleLeaf(instance: ReplayInstance, leaf: RawAction): PendingTimer | undefined {
    switch (leaf.actionType) {
      case ActionType.CallActivity:
      case ActionType.CallActivityWithRetry: {
        const id = instance.nextId++;
        instance.history.push(this.event(EventType.TaskScheduled, id, { Name: leaf.functionName, Input: JSON.stringify(leaf.input) }));
        instance.activities.push({ id, name: leaf.functionName ?? '', input: leaf.input, attempt: 1, ...(leaf.retryOptions ? { retry: leaf.retryOptions } : {}) });
        return undefined;
      }
      case ActionType.CreateTimer: {
        const id = instance.nextId++;
        const timer: PendingTimer = { id, fireAt: (leaf.fireAt as Date).getTime(), canceled: Boolean(leaf.isCanceled) };
        instance.timers.push(timer);
        instance.history.push(this.event(EventType.TimerCreated, id, { FireAt: (leaf.fireAt as Date).toISOString() }));
        return timer;
      }
      case ActionType.CallEntity:
      case ActionType.SignalEntity: {
        const id = instance.nextId++;
        const guid = `request-${++this.guid}`;
        const signal = leaf.actionType === ActionType.SignalEntity;
        const key = (leaf.instanceId ?? '').split('@')[2] ?? '';
        instance.history.push(this.event(EventType.EventSent, id, {
          InstanceId: leaf.instanceId,
          Name: leaf.operation,
          Input: JSON.stringify({ id: guid, op: leaf.operation, signal, input: JSON.stringify(leaf.input ?? null), parent: instance.instanceId }),
        }));
        const state = this.entities.get(key) ?? emptyLedger(key);
        this.entities.set(key, state);
        this.entityOps.push({ key, operation: leaf.operation ?? '', input: leaf.input });
        try {
          const result = applyLedgerOperation(state, leaf.operation ?? '', leaf.input, new Date(this.now).toISOString());
          if (!signal) instance.entityReplies.push({ guid, result });
        } catch (error) {
          if (!signal) instance.entityReplies.push({ guid, result: null, error: (error as Error).message });
        }
        return undefined;
      }
      case ActionType.WaitForExternalEvent:
        return undefined;
      default:
        throw new Error(`replay harness does not support action type ${leaf.actionType}`);
    }
  }
}

const pendingRetries = new WeakMap<ReplayInstance, PendingActivity[]>();

function flatten(actions: RawAction[]): RawAction[] {
  return actions.flatMap((a) => (a.compoundActions ? flatten(a.compoundActions) : [a]));
}
