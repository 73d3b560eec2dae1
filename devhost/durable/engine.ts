/**
 * The Durable engine: feeds durable-functions its history, carries out the
 * actions it returns and keeps everything in SQLite, so a killed devhost
 * resumes where it stopped. One orchestration turn runs at a time per
 * instance; activities run in parallel up to a limit.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { DatabaseSync, StatementSync } from 'node:sqlite';

import type { DevhostClock } from '../clock';
import type { RegisteredFunction } from '../core';
import { decodeTypedData, type InvocationInput, type InvocationResult, jsonData } from '../invoke';
import { transaction } from '../store';
import { applyAction, type TurnWork } from './actions';
import { ActionType, actionSignature, EventType, flattenActions, type HistoryEvent, longRunningTimerInterval, maximumShortTimerDuration, nextTimerStepMs, type OrchestratorState, retryDelayMs, type RetryOptions, terminalStatuses } from './protocol';

/** Host services the engine uses: function lookup, logged invocation and error logging. */
export interface EngineHost {
  findFunction(name: string, triggerType: string): RegisteredFunction | undefined;
  run(fn: RegisteredFunction, input: InvocationInput, ids: { instanceId?: string }): Promise<InvocationResult>;
  logError(message: string, fields: Record<string, unknown>): void;
}

export interface EngineOptions {
  activityConcurrency: number;
  orchestrationConcurrency: number;
  entityConcurrency: number;
}

/** A retried activity or sub-orchestration between attempts. */
export interface RetryState {
  kind: 'activity' | 'suborchestration';
  name: string;
  input: unknown;
  instanceId?: string;
  options: RetryOptions;
  attempt: number;
}

/** Per-execution bookkeeping kept beside the history. */
export interface EngineState {
  nextId: number;
  /** Signature and task id (or -1) of every action handled so far, in flattened order. */
  actions: { sig: string; id: number; canceled?: boolean }[];
  retries: Record<string, RetryState>;
  retryTimers: Record<string, RetryState>;
  /** Pending sub-timers of timers longer than maximumShortTimerDuration, by sub-timer id. */
  longTimers?: Record<string, { finalMs: number; actionId: number }>;
}

export type InboxMessage =
  | { kind: 'start' }
  | { kind: 'event'; event: HistoryEvent }
  | { kind: 'terminate'; reason: string }
  | { kind: 'suspend'; reason: string }
  | { kind: 'resume'; reason: string };

export interface InstanceRow {
  instance_id: string;
  name: string;
  execution_id: string;
  status: string;
  input: string | null;
  output: string | null;
  custom_status: string | null;
  created_ms: number;
  updated_ms: number;
  parent_instance_id: string | null;
  parent_task_id: number | null;
  engine: string;
}

interface ActivityRow {
  id: number;
  instance_id: string;
  execution_id: string;
  task_id: number;
  name: string;
  input: string;
}

/** An operation waiting for an entity. `input` is JSON text or null. */
export interface EntityRequest {
  op: string;
  input: string | null;
  signal: boolean;
  requestId: string;
  parentInstanceId?: string;
}

export function newEngineState(): EngineState {
  return { nextId: 0, actions: [], retries: {}, retryTimers: {}, longTimers: {} };
}

/** Parses `@name@key` into its lower-cased name and key. */
export function parseEntityId(entityId: string): { name: string; key: string } {
  const match = /^@([^@]*)@(.*)$/s.exec(entityId);
  if (!match) throw new Error(`Invalid entity id "${entityId}"; expected "@<name>@<key>".`);
  return { name: (match[1] ?? '').toLowerCase(), key: match[2] ?? '' };
}

export class DurableEngine {
  /** Emits `instance` with the instance id after every committed change to that instance. */
  readonly events = new EventEmitter();
  private readonly runningInstances = new Set<string>();
  private readonly runningActivities = new Set<number>();
  private readonly runningEntities = new Set<string>();
  private pumpScheduled = false;
  private timerHandle: NodeJS.Timeout | undefined;
  private timerDueMs = Number.POSITIVE_INFINITY;
  private stopped = false;
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    readonly db: DatabaseSync,
    private readonly host: EngineHost,
    readonly clock: DevhostClock,
    private readonly options: EngineOptions,
  ) {
    this.events.setMaxListeners(0);
    // An activity that was running when the process died runs again: at least once, as in Azure.
    db.prepare('UPDATE activities SET running = 0 WHERE running = 1').run();
  }

  private readonly statements = new Map<string, StatementSync>();
  private readonly historyCache = new Map<string, HistoryEvent[]>();

  /** Returns a cached prepared statement, because preparing one on every call was a large share of each step's CPU time. */
  sql(text: string): StatementSync {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  /** Schedules a dispatch pass; cheap to call after every change. */
  kick(): void {
    if (this.pumpScheduled || this.stopped) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Stops dispatching and waits for running work to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timerHandle) clearTimeout(this.timerHandle);
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  private track(work: Promise<void>): void {
    this.inflight.add(work);
    void work.finally(() => {
      this.inflight.delete(work);
      this.kick();
    });
  }

  private pump(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    const dueLimit = this.clock.mode === 'instant' ? Number.MAX_SAFE_INTEGER : now;

    const freeTurns = this.options.orchestrationConcurrency - this.runningInstances.size;
    if (freeTurns > 0) {
      // Oldest message first, so that no instance waits behind newer work.
      const ready = this.sql('SELECT instance_id AS id FROM inbox WHERE visible_ms <= ? GROUP BY instance_id ORDER BY MIN(id) LIMIT 500').all(dueLimit) as { id: string }[];
      let started = 0;
      for (const { id } of ready) {
        if (started >= freeTurns) break;
        if (this.runningInstances.has(id)) continue;
        started += 1;
        this.runningInstances.add(id);
        this.track(this.runTurn(id).catch((error: unknown) => this.host.logError('orchestration turn failed', { instanceId: id, error: String(error) })).finally(() => this.runningInstances.delete(id)));
      }
    }

    const freeActivities = this.options.activityConcurrency - this.runningActivities.size;
    if (freeActivities > 0) {
      const rows = this.sql('SELECT id, instance_id, execution_id, task_id, name, input FROM activities WHERE running = 0 ORDER BY id LIMIT ?').all(freeActivities) as unknown as ActivityRow[];
      const mark = this.sql('UPDATE activities SET running = 1 WHERE id = ?');
      for (const row of rows) {
        mark.run(row.id);
        this.runningActivities.add(row.id);
        this.track(this.runActivity(row).catch((error: unknown) => this.host.logError('activity dispatch failed', { instanceId: row.instance_id, error: String(error) })).finally(() => this.runningActivities.delete(row.id)));
      }
    }

    const entityIds = this.sql('SELECT entity_id AS id FROM entity_queue GROUP BY entity_id ORDER BY MIN(id) LIMIT 200').all() as { id: string }[];
    for (const { id } of entityIds) {
      if (this.runningEntities.size >= this.options.entityConcurrency) break;
      if (this.runningEntities.has(id)) continue;
      this.runningEntities.add(id);
      this.track(this.runEntityOperation(id).catch((error: unknown) => this.host.logError('entity dispatch failed', { entityId: id, error: String(error) })).finally(() => this.runningEntities.delete(id)));
    }

    this.armTimer(now);
  }

  private armTimer(now: number): void {
    if (this.clock.mode === 'instant') return;
    const row = this.sql('SELECT MIN(visible_ms) AS due FROM inbox WHERE visible_ms > ?').get(now) as { due: number | null } | undefined;
    const due = row?.due ?? Number.POSITIVE_INFINITY;
    if (due >= this.timerDueMs && this.timerHandle) return;
    if (this.timerHandle) clearTimeout(this.timerHandle);
    this.timerHandle = undefined;
    this.timerDueMs = due;
    if (!Number.isFinite(due)) return;
    // setTimeout takes at most a signed 32-bit delay; longer timers re-arm on wake-up.
    const delay = Math.min(Math.max(due - now, 0) + 5, 2_147_483_000);
    this.timerHandle = setTimeout(() => {
      this.timerHandle = undefined;
      this.timerDueMs = Number.POSITIVE_INFINITY;
      this.kick();
    }, delay);
    this.timerHandle.unref();
  }

  // ---- instance management -------------------------------------------------

  getInstance(instanceId: string): InstanceRow | undefined {
    return this.sql('SELECT * FROM instances WHERE instance_id = ?').get(instanceId) as InstanceRow | undefined;
  }

  /**
   * Returns the history of the current execution from memory, loading it once from SQLite.
   * Every write goes through this process, so the cache stays equal to the table.
   */
  historyFor(instanceId: string): HistoryEvent[] {
    let events = this.historyCache.get(instanceId);
    if (!events) {
      events = this.loadHistory(instanceId);
      if (this.historyCache.size >= 1000) this.historyCache.delete(this.historyCache.keys().next().value ?? '');
      this.historyCache.set(instanceId, events);
    }
    return events;
  }

  forgetHistory(instanceId: string): void {
    this.historyCache.delete(instanceId);
  }

  loadHistory(instanceId: string): HistoryEvent[] {
    const rows = this.sql('SELECT event FROM history WHERE instance_id = ? ORDER BY seq').all(instanceId) as { event: string }[];
    return rows.map((row) => JSON.parse(row.event) as HistoryEvent);
  }

  postMessage(instanceId: string, message: InboxMessage, visibleMs = 0, timerId: number | null = null): void {
    this.sql('INSERT INTO inbox (instance_id, visible_ms, timer_id, message) VALUES (?, ?, ?, ?)').run(instanceId, visibleMs, timerId, JSON.stringify(message));
  }

  /**
   * Creates an instance (or replaces a finished one with the same id) and queues its start.
   * Throws when the function is unknown or an unfinished instance has that id.
   */
  createInstance(name: string, instanceId: string, input: unknown, parent?: { instanceId: string; taskId: number }): void {
    const fn = this.host.findFunction(name, 'orchestrationTrigger');
    if (!fn) throw new OrchestratorNotFoundError(name);
    const existing = this.getInstance(instanceId);
    if (existing && !terminalStatuses.has(existing.status)) throw new InstanceExistsError(instanceId, existing.status);

    const now = this.clock.now();
    if (existing) this.deleteInstanceRows(instanceId);
    this.sql(
      `INSERT INTO instances (instance_id, name, execution_id, status, input, output, custom_status, created_ms, updated_ms, parent_instance_id, parent_task_id, engine)
       VALUES (?, ?, ?, 'Pending', ?, NULL, NULL, ?, ?, ?, ?, ?)`,
    ).run(instanceId, fn.name, randomUUID().replace(/-/g, ''), JSON.stringify(input ?? null), now, now, parent?.instanceId ?? null, parent?.taskId ?? null, JSON.stringify(newEngineState()));
    this.postMessage(instanceId, { kind: 'start' });
  }

  deleteInstanceRows(instanceId: string): void {
    this.forgetHistory(instanceId);
    this.sql('DELETE FROM instances WHERE instance_id = ?').run(instanceId);
    this.sql('DELETE FROM history WHERE instance_id = ?').run(instanceId);
    this.sql('DELETE FROM inbox WHERE instance_id = ?').run(instanceId);
    this.sql('DELETE FROM activities WHERE instance_id = ? AND running = 0').run(instanceId);
  }

  /** Runs `work` in a transaction, then wakes the dispatcher and waiters. */
  commit<T>(instanceIds: string[], work: () => T): T {
    const result = transaction(this.db, work);
    for (const id of instanceIds) this.events.emit('instance', id);
    this.kick();
    return result;
  }

  // ---- orchestration turns ---------------------------------------------------

  private async runTurn(instanceId: string): Promise<void> {
    const row = this.getInstance(instanceId);
    const dueLimit = this.clock.mode === 'instant' ? Number.MAX_SAFE_INTEGER : this.clock.now();
    const messages = (this.sql('SELECT id, message FROM inbox WHERE instance_id = ? AND visible_ms <= ? ORDER BY id').all(instanceId, dueLimit) as { id: number; message: string }[]).map((m) => ({ id: m.id, message: JSON.parse(m.message) as InboxMessage }));
    if (!row || terminalStatuses.has(row.status)) {
      // Late completions and timers of finished or purged instances are dropped, as DTFx drops them.
      if (messages.length > 0) this.commit([], () => this.deleteMessages(messages.map((m) => m.id)));
      return;
    }

    const turn = new Turn(this, row, this.historyFor(instanceId));
    const runOrchestrator = turn.takeMessages(messages);
    if (turn.terminated || !runOrchestrator) {
      if (turn.consumed.length > 0 || turn.terminated) turn.commit();
      return;
    }

    const outcome = await this.invokeOrchestrator(turn);
    turn.applyOutcome(outcome);
    turn.commit();
  }

  private async invokeOrchestrator(turn: Turn): Promise<OrchestratorOutcome> {
    const fn = this.host.findFunction(turn.row.name, 'orchestrationTrigger');
    if (!fn) return { failed: `The orchestrator function '${turn.row.name}' is not registered; the app no longer defines it.` };
    const payload = {
      history: turn.episodeHistory(),
      input: JSON.parse(turn.row.input ?? 'null') as unknown,
      instanceId: turn.row.instance_id,
      isReplaying: turn.history.length > 0,
      parentInstanceId: turn.row.parent_instance_id,
      upperSchemaVersion: 1,
      upperSchemaVersionNew: 2,
      // The extension's defaults: durable-functions splits longer timers into steps, which the host tracks.
      maximumShortTimerDuration: maximumShortTimerDuration.text,
      longRunningTimerIntervalDuration: longRunningTimerInterval.text,
      defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
    };
    const result = await this.host.run(fn, { trigger: jsonData(payload) }, { instanceId: turn.row.instance_id });
    if (result.ok) return { state: decodeTypedData(result.returnValue) as OrchestratorState };
    return failureFromError(turn.row.name, result.error);
  }

  private deleteMessages(ids: number[]): void {
    const stmt = this.sql('DELETE FROM inbox WHERE id = ?');
    for (const id of ids) stmt.run(id);
  }

  // ---- activities -------------------------------------------------------------

  private async runActivity(row: ActivityRow): Promise<void> {
    const fn = this.host.findFunction(row.name, 'activityTrigger');
    let event: HistoryEvent;
    const now = () => new Date(this.clock.now()).toISOString();
    if (!fn) {
      event = failureEvent(EventType.TaskFailed, row.task_id, `The activity function '${row.name}' doesn't exist.`, 'Register the activity or fix the name passed to callActivity.', now());
    } else {
      const result = await this.host.run(fn, { trigger: { json: row.input } }, { instanceId: row.instance_id });
      event = result.ok
        ? { EventType: EventType.TaskCompleted, EventId: -1, IsPlayed: false, Timestamp: now(), TaskScheduledId: row.task_id, Result: JSON.stringify(decodeTypedData(result.returnValue) ?? null) }
        : failureEvent(EventType.TaskFailed, row.task_id, `Activity function '${row.name}' failed: ${result.error?.message ?? 'unknown error'}`, result.error?.stack ?? '', now());
    }
    this.commit([row.instance_id], () => {
      // The result and the removal of the work item commit together, so a result is recorded once.
      this.sql('DELETE FROM activities WHERE id = ?').run(row.id);
      const instance = this.getInstance(row.instance_id);
      if (instance && instance.execution_id === row.execution_id && !terminalStatuses.has(instance.status)) this.postMessage(row.instance_id, { kind: 'event', event });
    });
  }

  scheduleActivity(instanceId: string, executionId: string, taskId: number, name: string, input: unknown): void {
    this.sql('INSERT INTO activities (instance_id, execution_id, task_id, name, input) VALUES (?, ?, ?, ?, ?)').run(instanceId, executionId, taskId, name, JSON.stringify(input ?? null));
  }

  // ---- entities -----------------------------------------------------------------

  enqueueEntityRequest(entityId: string, request: EntityRequest): void {
    this.sql('INSERT INTO entity_queue (entity_id, request) VALUES (?, ?)').run(entityId, JSON.stringify(request));
  }

  readEntity(entityId: string): { exists: boolean; state: string | null } {
    const row = this.sql('SELECT state FROM entities WHERE entity_id = ?').get(entityId) as { state: string | null } | undefined;
    return { exists: row !== undefined, state: row?.state ?? null };
  }

  private async runEntityOperation(entityId: string): Promise<void> {
    const next = this.sql('SELECT id, request FROM entity_queue WHERE entity_id = ? ORDER BY id LIMIT 1').get(entityId) as { id: number; request: string } | undefined;
    if (!next) return;
    const request = JSON.parse(next.request) as EntityRequest;
    const { name, key } = parseEntityId(entityId);
    const current = this.readEntity(entityId);
    const fn = this.host.findFunction(name, 'entityTrigger');

    let reply: { result?: string; exceptionType?: string };
    let newState: { exists: boolean; state: string | null } = current;
    let signals: EntitySignal[] = [];
    if (!fn) {
      reply = { result: JSON.stringify(`The entity function '${name}' is not registered.`), exceptionType: 'EntityFunctionNotFound' };
    } else {
      // One operation per batch keeps a failed operation's state changes out of storage.
      const trigger = { self: { name, key }, exists: current.exists, state: current.state, batch: [{ name: request.op, input: request.input, isSignal: request.signal, id: request.requestId }] };
      const result = await this.host.run(fn, { trigger: jsonData(trigger) }, { instanceId: entityId });
      const output = result.ok ? (decodeTypedData(result.returnValue) as EntityBatchResult | undefined) : undefined;
      const opResult = output?.results?.[0];
      if (!output || !opResult) {
        reply = { result: JSON.stringify(result.error?.message ?? 'entity returned no result'), exceptionType: 'EntityInvocationFailed' };
      } else if (opResult.isError) {
        reply = { result: opResult.result ?? 'null', exceptionType: 'Error' };
      } else {
        reply = { result: opResult.result ?? 'null' };
        newState = { exists: output.entityExists, state: output.entityState ?? null };
        signals = output.signals ?? [];
      }
    }

    this.commit(request.parentInstanceId ? [request.parentInstanceId] : [], () => {
      this.sql('DELETE FROM entity_queue WHERE id = ?').run(next.id);
      if (newState.exists) this.sql('INSERT INTO entities (entity_id, state, updated_ms) VALUES (?, ?, ?) ON CONFLICT(entity_id) DO UPDATE SET state = excluded.state, updated_ms = excluded.updated_ms').run(entityId, newState.state, this.clock.now());
      else this.sql('DELETE FROM entities WHERE entity_id = ?').run(entityId);
      for (const signal of signals) this.enqueueEntityRequest(`@${signal.target.name.toLowerCase()}@${signal.target.key}`, { op: signal.name, input: signal.input === '' ? null : signal.input, signal: true, requestId: randomUUID() });
      if (!request.signal && request.parentInstanceId) {
        const event: HistoryEvent = { EventType: EventType.EventRaised, EventId: -1, IsPlayed: false, Timestamp: new Date(this.clock.now()).toISOString(), Name: request.requestId, Input: JSON.stringify(reply) };
        this.postMessage(request.parentInstanceId, { kind: 'event', event });
      }
    });
  }

  /** Notifies a parent orchestration that a sub-orchestration finished. */
  notifyParent(row: InstanceRow, event: HistoryEvent): void {
    if (!row.parent_instance_id || row.parent_task_id === null) return;
    this.postMessage(row.parent_instance_id, { kind: 'event', event: { ...event, TaskScheduledId: row.parent_task_id } });
  }
}

interface EntitySignal {
  target: { name: string; key: string };
  name: string;
  input: string;
}

interface EntityBatchResult {
  entityExists: boolean;
  entityState?: string;
  results?: { isError: boolean; result?: string }[];
  signals?: EntitySignal[];
}

export type OrchestratorOutcome = { state: OrchestratorState } | { failed: string; state?: OrchestratorState };

export class OrchestratorNotFoundError extends Error {
  constructor(readonly functionName: string) {
    super(`The function '${functionName}' doesn't exist, is disabled, or is not an orchestrator function.`);
  }
}

export class InstanceExistsError extends Error {
  constructor(readonly instanceId: string, readonly status: string) {
    super(`An orchestration instance with id '${instanceId}' already exists with status ${status}; wait for it to finish or terminate it before starting it again.`);
  }
}

export function failureEvent(type: number, taskId: number, reason: string, details: string, timestamp: string): HistoryEvent {
  return { EventType: type, EventId: -1, IsPlayed: false, Timestamp: timestamp, TaskScheduledId: taskId, Reason: reason, Details: details };
}

const outOfProcLabel = '$OutOfProcData$:';

/** Reads the orchestrator's error out of the OrchestrationFailureError that durable-functions throws. */
export function failureFromError(name: string, error: Error | undefined): OrchestratorOutcome {
  const message = error?.message ?? 'unknown error';
  const at = message.indexOf(outOfProcLabel);
  if (at >= 0) {
    try {
      const state = JSON.parse(message.slice(at + outOfProcLabel.length)) as OrchestratorState;
      return { failed: `Orchestrator function '${name}' failed: ${state.error ?? 'unknown error'}`, state };
    } catch {
      // Falls through to the raw message when the embedded state is not JSON.
    }
  }
  return { failed: `Orchestrator function '${name}' failed: ${message}` };
}

/** One orchestration turn: the messages it consumes, the events it appends and the work it schedules. */
export class Turn implements TurnWork {
  readonly state: EngineState;
  readonly consumed: number[] = [];
  readonly newEvents: HistoryEvent[] = [];
  readonly appended: HistoryEvent[] = [];
  /** ExecutionCompleted, ExecutionFailed or ExecutionTerminated, written last. */
  readonly closing: HistoryEvent[] = [];
  readonly touched = new Set<string>();
  nowIso: string;
  readonly deferred: (() => void)[] = [];
  status: string;
  terminated = false;
  output: string | null;
  customStatus: string | null;
  resetTo: { input: unknown } | undefined;

  constructor(
    readonly engine: DurableEngine,
    readonly row: InstanceRow,
    readonly history: HistoryEvent[],
  ) {
    this.state = JSON.parse(row.engine) as EngineState;
    this.status = row.status;
    this.output = row.output;
    this.customStatus = row.custom_status;
    this.nowIso = new Date(engine.clock.now()).toISOString();
    this.touched.add(row.instance_id);
  }

  event(type: number, fields: Record<string, unknown>, eventId = -1): HistoryEvent {
    return { EventType: type, EventId: eventId, IsPlayed: false, Timestamp: this.nowIso, ...fields };
  }

  /** Consumes inbox messages in order; returns whether the orchestrator has new events to see. */
  takeMessages(messages: { id: number; message: InboxMessage }[]): boolean {
    let forOrchestrator = false;
    for (const { id, message } of messages) {
      if (message.kind === 'terminate') {
        this.consumed.push(id);
        this.terminate(message.reason);
        return false;
      }
      if (this.status === 'Suspended' && message.kind !== 'resume' && message.kind !== 'suspend') continue;
      if (message.kind === 'suspend' || message.kind === 'resume') {
        this.consumed.push(id);
        const suspend = message.kind === 'suspend';
        this.newEvents.push(this.event(suspend ? EventType.ExecutionSuspended : EventType.ExecutionResumed, { Reason: message.reason }));
        this.status = suspend ? 'Suspended' : 'Running';
        continue;
      }
      if (message.kind === 'start') {
        this.consumed.push(id);
        if (this.history.length > 0) continue;
        this.newEvents.push(this.event(EventType.ExecutionStarted, { Name: this.row.name, Version: '', Input: this.row.input ?? 'null', OrchestrationInstance: { InstanceId: this.row.instance_id, ExecutionId: this.row.execution_id }, ParentInstance: this.row.parent_instance_id ? { OrchestrationInstance: { InstanceId: this.row.parent_instance_id }, TaskScheduleId: this.row.parent_task_id } : null }));
        this.status = 'Running';
        forOrchestrator = true;
        continue;
      }
      // A retry failure, retry timer or long-timer step makes durable-functions take a task id as soon as it
      // reads the event. Starting a new episode there keeps the host's id counter in step with the library's.
      const retryKey = this.retryKey(message.event);
      if (retryKey && forOrchestrator) break;
      this.consumed.push(id);
      this.newEvents.push({ ...message.event, IsPlayed: false });
      const completed = message.event.EventType === EventType.TaskCompleted || message.event.EventType === EventType.SubOrchestrationInstanceCompleted;
      if (completed) delete this.state.retries[String(message.event.TaskScheduledId)];
      forOrchestrator = true;
      if (message.event.EventType === EventType.TimerFired) {
        // The instant clock jumps to the timer's due time, so the episode starts no earlier than it.
        this.engine.clock.reached(Date.parse(String(message.event.FireAt)));
        this.nowIso = new Date(this.engine.clock.now()).toISOString();
      }
      if (retryKey === 'failure') this.scheduleRetryTimer(message.event);
      if (retryKey === 'timer') this.retryAfterTimer(message.event);
      if (retryKey === 'longTimer') {
        this.continueLongTimer(message.event);
        // The library decides on the next step with this episode's start time, so no later event may move it.
        break;
      }
    }
    return forOrchestrator && this.status !== 'Suspended';
  }

  private retryKey(event: HistoryEvent): 'failure' | 'timer' | 'longTimer' | undefined {
    const isFailure = event.EventType === EventType.TaskFailed || event.EventType === EventType.SubOrchestrationInstanceFailed;
    if (isFailure && this.state.retries[String(event.TaskScheduledId)]) return 'failure';
    if (event.EventType === EventType.TimerFired && this.state.retryTimers[String(event.TimerId)]) return 'timer';
    if (event.EventType === EventType.TimerFired && this.state.longTimers?.[String(event.TimerId)]) return 'longTimer';
    return undefined;
  }

  /** Schedules the next sub-timer of a long timer, as durable-functions' LongTimerTask expects. */
  private continueLongTimer(event: HistoryEvent): void {
    const longTimers = (this.state.longTimers ??= {});
    const key = String(event.TimerId);
    const long = longTimers[key];
    if (!long) return;
    delete longTimers[key];
    const nowMs = Date.parse(this.nowIso);
    if (long.finalMs <= nowMs) return;
    const timerId = this.state.nextId++;
    this.scheduleTimer(timerId, nextTimerStepMs(nowMs, long.finalMs), long.finalMs, long.actionId, this.newEvents);
  }

  /**
   * Appends TimerCreated and queues TimerFired for the timer `id` due at `dueMs`. A timer whose final
   * time is further than maximumShortTimerDuration is tracked as a long timer with more steps to come.
   */
  scheduleTimer(id: number, dueMs: number, finalMs: number, actionId: number, events: HistoryEvent[]): void {
    const fireAt = new Date(dueMs).toISOString();
    events.push(this.event(EventType.TimerCreated, { FireAt: fireAt }, id));
    if (dueMs < finalMs) (this.state.longTimers ??= {})[String(id)] = { finalMs, actionId };
    this.deferred.push(() => this.engine.postMessage(this.row.instance_id, { kind: 'event', event: this.event(EventType.TimerFired, { TimerId: id, FireAt: fireAt }) }, dueMs, id));
  }

  /** After every failed attempt durable-functions waits for a timer, even after the last attempt. */
  private scheduleRetryTimer(event: HistoryEvent): void {
    const key = String(event.TaskScheduledId);
    const retry = this.state.retries[key];
    if (!retry) return;
    delete this.state.retries[key];
    const timerId = this.state.nextId++;
    const fireAtMs = this.engine.clock.now() + retryDelayMs(retry.options, retry.attempt);
    const fireAt = new Date(fireAtMs).toISOString();
    this.newEvents.push(this.event(EventType.TimerCreated, { FireAt: fireAt }, timerId));
    this.state.retryTimers[String(timerId)] = retry;
    this.deferred.push(() => this.engine.postMessage(this.row.instance_id, { kind: 'event', event: this.event(EventType.TimerFired, { TimerId: timerId, FireAt: fireAt }) }, fireAtMs, timerId));
  }

  private retryAfterTimer(event: HistoryEvent): void {
    const key = String(event.TimerId);
    const retry = this.state.retryTimers[key];
    if (!retry) return;
    delete this.state.retryTimers[key];
    if (retry.attempt >= retry.options.maxNumberOfAttempts) return;
    const next = { ...retry, attempt: retry.attempt + 1 };
    const taskId = this.state.nextId++;
    this.state.retries[String(taskId)] = next;
    if (next.kind === 'activity') {
      this.newEvents.push(this.event(EventType.TaskScheduled, { Name: next.name, Version: '', Input: JSON.stringify(next.input ?? null) }, taskId));
      this.deferred.push(() => this.engine.scheduleActivity(this.row.instance_id, this.row.execution_id, taskId, next.name, next.input));
    } else {
      this.newEvents.push(this.startSubOrchestration(taskId, next.name, next.instanceId, next.input));
    }
  }

  /** Appends the creation event of a sub-orchestration and queues the child's start (or its failure). */
  startSubOrchestration(taskId: number, name: string, requestedId: string | undefined, input: unknown): HistoryEvent {
    const childId = requestedId ?? randomUUID().replace(/-/g, '');
    this.deferred.push(() => {
      try {
        this.engine.createInstance(name, childId, input, { instanceId: this.row.instance_id, taskId });
        this.touched.add(childId);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        this.engine.postMessage(this.row.instance_id, { kind: 'event', event: failureEvent(EventType.SubOrchestrationInstanceFailed, taskId, reason, '', this.nowIso) });
      }
    });
    return this.event(EventType.SubOrchestrationInstanceCreated, { Name: name, Version: '', InstanceId: childId, Input: JSON.stringify(input ?? null) }, taskId);
  }

  /** Builds the history durable-functions replays: past events marked as played, then this episode. */
  episodeHistory(): HistoryEvent[] {
    const past = this.history.map((event) => ({ ...event, IsPlayed: true }));
    return [...past, this.event(EventType.OrchestratorStarted, {}), ...this.newEvents];
  }

  applyOutcome(outcome: OrchestratorOutcome): void {
    if ('failed' in outcome) {
      this.fail(outcome.failed, outcome.state);
      return;
    }
    const state = outcome.state;
    if (!state || !Array.isArray(state.actions)) {
      this.fail(`Orchestrator function '${this.row.name}' returned no orchestrator state; it must be registered with df.app.orchestration.`);
      return;
    }
    if (state.customStatus !== undefined) this.customStatus = JSON.stringify(state.customStatus);

    const flat = flattenActions(state.actions.flat());
    const problem = this.checkDeterminism(flat, state.isDone);
    if (problem) {
      this.fail(problem);
      return;
    }
    this.cancelTimers(flat);
    for (const action of flat.slice(this.state.actions.length)) applyAction(this, action);
    if (!state.isDone) return;

    const continueAsNew = flat.find((action) => action.actionType === ActionType.ContinueAsNew);
    if (continueAsNew) {
      this.resetTo = { input: continueAsNew.input };
      return;
    }
    this.complete(state.output);
  }

  private checkDeterminism(flat: ReturnType<typeof flattenActions>, isDone: boolean): string | undefined {
    const known = this.state.actions;
    for (let i = 0; i < Math.min(flat.length, known.length); i++) {
      const action = flat[i];
      const expected = known[i]?.sig;
      if (action && actionSignature(action) !== expected) {
        return `Non-deterministic workflow detected in orchestration '${this.row.name}' (instance ${this.row.instance_id}): action ${i} was "${expected}" in history but the orchestrator now issued "${actionSignature(action)}". Orchestrator code must not change while instances are running; deploy changed code under a new orchestrator name.`;
      }
    }
    if (!isDone && flat.length < known.length) {
      return `Non-deterministic workflow detected in orchestration '${this.row.name}' (instance ${this.row.instance_id}): history has ${known.length} actions but the orchestrator now issued ${flat.length}.`;
    }
    return undefined;
  }

  /** Drops pending fires of timers that lost a race, so they do not wake the instance. */
  private cancelTimers(flat: ReturnType<typeof flattenActions>): void {
    flat.slice(0, this.state.actions.length).forEach((action, index) => {
      const known = this.state.actions[index];
      if (!known || known.canceled || action.actionType !== ActionType.CreateTimer || !action.isCanceled) return;
      known.canceled = true;
      const timerIds = [known.id];
      for (const [id, long] of Object.entries(this.state.longTimers ?? {})) {
        if (long.actionId !== known.id) continue;
        timerIds.push(Number(id));
        delete this.state.longTimers?.[id];
      }
      const remove = this.engine.sql('DELETE FROM inbox WHERE instance_id = ? AND timer_id = ?');
      this.deferred.push(() => timerIds.forEach((timerId) => remove.run(this.row.instance_id, timerId)));
    });
  }

  complete(output: unknown): void {
    this.status = 'Completed';
    this.output = JSON.stringify(output ?? null);
    this.closing.push(this.event(EventType.ExecutionCompleted, { OrchestrationStatus: 1, Result: this.output }));
    this.deferred.push(() => this.engine.notifyParent(this.row, this.event(EventType.SubOrchestrationInstanceCompleted, { Result: this.output })));
  }

  fail(message: string, state?: OrchestratorState): void {
    this.status = 'Failed';
    this.output = JSON.stringify(message);
    if (state?.customStatus !== undefined) this.customStatus = JSON.stringify(state.customStatus);
    this.closing.push(this.event(EventType.ExecutionFailed, { OrchestrationStatus: 3, Reason: message, Details: '' }));
    this.deferred.push(() => this.engine.notifyParent(this.row, failureEvent(EventType.SubOrchestrationInstanceFailed, -1, message, '', this.nowIso)));
  }

  terminate(reason: string): void {
    this.terminated = true;
    this.status = 'Terminated';
    this.output = JSON.stringify(reason);
    this.closing.push(this.event(EventType.ExecutionTerminated, { Input: JSON.stringify(reason) }));
    this.deferred.push(() => this.engine.sql('DELETE FROM inbox WHERE instance_id = ?').run(this.row.instance_id));
  }

  /** Writes the turn in one transaction: history, consumed messages, new work, instance row. */
  commit(): void {
    const engine = this.engine;
    const id = this.row.instance_id;
    let written: HistoryEvent[] = [];
    engine.commit([...this.touched], () => {
      const deleteMessage = engine.sql('DELETE FROM inbox WHERE id = ?');
      for (const messageId of this.consumed) deleteMessage.run(messageId);

      const ran = this.newEvents.length > 0 && !this.terminated && this.status !== 'Suspended';
      const events = this.terminated || !ran
        ? [...this.newEvents, ...this.closing]
        : [this.event(EventType.OrchestratorStarted, {}), ...this.newEvents, ...this.appended, ...this.closing, this.event(EventType.OrchestratorCompleted, {})];
      let seq = (engine.sql('SELECT COALESCE(MAX(seq), -1) AS seq FROM history WHERE instance_id = ?').get(id) as { seq: number }).seq;
      const insert = engine.sql('INSERT INTO history (instance_id, seq, event) VALUES (?, ?, ?)');
      written = events.map((event) => ({ ...event, IsPlayed: false }));
      for (const event of written) insert.run(id, ++seq, JSON.stringify(event));
      for (const work of this.deferred) work();

      if (this.resetTo) {
        this.continueAsNew(this.resetTo.input);
        return;
      }
      engine.sql('UPDATE instances SET status = ?, output = ?, custom_status = ?, updated_ms = ?, engine = ? WHERE instance_id = ?').run(this.status, this.output, this.customStatus, engine.clock.now(), JSON.stringify(this.state), id);
    });
    // Only a committed turn reaches the cache; continue-as-new dropped the old execution's entry.
    if (!this.resetTo) this.history.push(...written);
  }

  /** Starts a new execution with a fresh history and task-id counter; the status stays Running. */
  private continueAsNew(input: unknown): void {
    const db = this.engine.db;
    const id = this.row.instance_id;
    this.engine.sql('DELETE FROM history WHERE instance_id = ?').run(id);
    this.engine.forgetHistory(id);
    // Timers and results of the old execution must not reach the new one, whose task ids restart at 0.
    // External events are kept so that a raised event is not lost across the restart.
    const pending = db.prepare('SELECT id, message FROM inbox WHERE instance_id = ?').all(id) as { id: number; message: string }[];
    for (const row of pending) {
      const message = JSON.parse(row.message) as InboxMessage;
      const keep = message.kind === 'event' && message.event.EventType === EventType.EventRaised;
      if (!keep) db.prepare('DELETE FROM inbox WHERE id = ?').run(row.id);
    }
    db.prepare('UPDATE instances SET status = ?, input = ?, output = NULL, custom_status = ?, updated_ms = ?, execution_id = ?, engine = ? WHERE instance_id = ?').run('Running', JSON.stringify(input ?? null), this.customStatus, this.engine.clock.now(), randomUUID().replace(/-/g, ''), JSON.stringify(newEngineState()), id);
    this.engine.postMessage(id, { kind: 'start' });
  }
}
