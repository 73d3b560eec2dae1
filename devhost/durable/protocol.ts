/**
 * Shapes of the Durable out-of-process protocol as durable-functions 3.5.0
 * reads and writes them: history events (DTFx names, numeric EventType) and
 * the actions an orchestrator returns.
 */

export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionFailed: 2,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventSent: 14,
  EventRaised: 15,
  ContinueAsNew: 16,
  GenericEvent: 17,
  HistoryState: 18,
  ExecutionSuspended: 19,
  ExecutionResumed: 20,
} as const;

export const eventTypeNames: Record<number, string> = Object.fromEntries(Object.entries(EventType).map(([name, id]) => [id, name]));

export interface HistoryEvent {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  [field: string]: unknown;
}

export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  ScheduledSignalEntity: 10,
  WhenAny: 11,
  WhenAll: 12,
  LockEntities: 13,
  ReleaseEntities: 14,
} as const;

export interface RetryOptions {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

export interface OrchestratorAction {
  actionType: number;
  functionName?: string;
  input?: unknown;
  retryOptions?: RetryOptions;
  instanceId?: string;
  version?: string;
  fireAt?: string;
  isCanceled?: boolean;
  externalEventName?: string;
  operation?: string;
  compoundActions?: OrchestratorAction[];
  lockSet?: unknown[];
}

export interface OrchestratorState {
  isDone: boolean;
  actions: OrchestratorAction[][];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
  schemaVersion?: number;
}

/** Flattens compound actions depth-first, the order in which durable-functions hands out task ids. */
export function flattenActions(actions: OrchestratorAction[]): OrchestratorAction[] {
  const flat: OrchestratorAction[] = [];
  for (const action of actions) {
    if (action.actionType === ActionType.WhenAll || action.actionType === ActionType.WhenAny) {
      flat.push(...flattenActions(action.compoundActions ?? []));
    } else {
      flat.push(action);
    }
  }
  return flat;
}

/** Whether an action takes a task id (WaitForExternalEvent and ContinueAsNew do not). */
export function consumesTaskId(action: OrchestratorAction): boolean {
  return action.actionType !== ActionType.WaitForExternalEvent && action.actionType !== ActionType.ContinueAsNew;
}

/** The identity of an action used to detect a changed orchestrator (non-determinism). */
export function actionSignature(action: OrchestratorAction): string {
  const target = action.functionName ?? action.externalEventName ?? (action.instanceId !== undefined ? `${action.instanceId}:${action.operation ?? ''}` : '');
  return `${action.actionType}:${target}`;
}

/**
 * Undoes durable-functions' extra JSON encoding of string inputs to activities
 * and continue-as-new (`"Tokyo"` arrives as `"\"Tokyo\""`).
 */
export function unwrapStringInput(input: unknown): unknown {
  if (typeof input !== 'string') return input;
  try {
    return JSON.parse(input);
  } catch {
    return input;
  }
}

/** Retry delay after `attempt` failed attempts, in milliseconds, as DTFx computes it. */
export function retryDelayMs(options: RetryOptions, attempt: number): number {
  const coefficient = options.backoffCoefficient ?? 1;
  const delay = options.firstRetryIntervalInMilliseconds * Math.pow(coefficient, attempt - 1);
  const max = options.maxRetryIntervalInMilliseconds;
  return max !== undefined && max > 0 ? Math.min(delay, max) : delay;
}

/** Timers further away than this are split into steps (the extension's default, 6 days). */
export const maximumShortTimerDuration = { text: '6.00:00:00', ms: 6 * 86_400_000 };
/** Length of each step of a split timer (the extension's default, 3 days). */
export const longRunningTimerInterval = { text: '3.00:00:00', ms: 3 * 86_400_000 };

/** Due time of the next step toward `finalMs`, computed as durable-functions' LongTimerTask does. */
export function nextTimerStepMs(nowMs: number, finalMs: number): number {
  return finalMs - nowMs > maximumShortTimerDuration.ms ? nowMs + longRunningTimerInterval.ms : finalMs;
}

export const terminalStatuses = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);
