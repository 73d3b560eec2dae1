/**
 * Turns each new orchestrator action into history events and scheduled work,
 * handing out task ids in the order durable-functions 3.5.0 expects.
 */
import { randomUUID } from 'node:crypto';

import type { DurableEngine, EngineState, InstanceRow } from './engine';
import { failureEvent } from './engine';
import { ActionType, actionSignature, consumesTaskId, EventType, type HistoryEvent, nextTimerStepMs, type OrchestratorAction, unwrapStringInput } from './protocol';

/** The part of a turn that actions write to. */
export interface TurnWork {
  readonly engine: DurableEngine;
  readonly row: InstanceRow;
  readonly state: EngineState;
  readonly appended: HistoryEvent[];
  readonly deferred: (() => void)[];
  readonly nowIso: string;
  event(type: number, fields: Record<string, unknown>, eventId?: number): HistoryEvent;
  startSubOrchestration(taskId: number, name: string, requestedId: string | undefined, input: unknown): HistoryEvent;
  scheduleTimer(id: number, dueMs: number, finalMs: number, actionId: number, events: HistoryEvent[]): void;
  fail(message: string): void;
}

/** Records one new action: takes its task id, appends its history event and queues its work. */
export function applyAction(turn: TurnWork, action: OrchestratorAction): void {
  const id = consumesTaskId(action) ? turn.state.nextId++ : -1;
  turn.state.actions.push({ sig: actionSignature(action), id });
  const instanceId = turn.row.instance_id;

  switch (action.actionType) {
    case ActionType.CallActivity:
    case ActionType.CallActivityWithRetry: {
      const name = action.functionName ?? '';
      const input = unwrapStringInput(action.input);
      turn.appended.push(turn.event(EventType.TaskScheduled, { Name: name, Version: '', Input: JSON.stringify(input ?? null) }, id));
      turn.deferred.push(() => turn.engine.scheduleActivity(instanceId, turn.row.execution_id, id, name, input));
      if (action.retryOptions) turn.state.retries[String(id)] = { kind: 'activity', name, input, options: action.retryOptions, attempt: 1 };
      return;
    }
    case ActionType.CallSubOrchestrator:
    case ActionType.CallSubOrchestratorWithRetry: {
      const name = action.functionName ?? '';
      turn.appended.push(turn.startSubOrchestration(id, name, action.instanceId || undefined, action.input));
      if (action.retryOptions) turn.state.retries[String(id)] = { kind: 'suborchestration', name, input: action.input, instanceId: action.instanceId || undefined, options: action.retryOptions, attempt: 1 };
      return;
    }
    case ActionType.CreateTimer: {
      const finalMs = Date.parse(action.fireAt ?? turn.nowIso);
      if (action.isCanceled) {
        turn.appended.push(turn.event(EventType.TimerCreated, { FireAt: new Date(finalMs).toISOString() }, id));
        return;
      }
      // A long timer's first step takes this action's id; later steps take ids without actions.
      turn.scheduleTimer(id, nextTimerStepMs(Date.parse(turn.nowIso), finalMs), finalMs, id, turn.appended);
      return;
    }
    case ActionType.CallEntity:
    case ActionType.SignalEntity: {
      const entityId = action.instanceId ?? '';
      const signal = action.actionType === ActionType.SignalEntity;
      const requestId = randomUUID();
      const input = action.input === undefined ? null : JSON.stringify(action.input);
      const request = { id: requestId, op: action.operation ?? '', signal, input, parent: signal ? null : instanceId };
      turn.appended.push(turn.event(EventType.EventSent, { InstanceId: entityId, Name: action.operation ?? '', Input: JSON.stringify(request) }, id));
      turn.deferred.push(() => turn.engine.enqueueEntityRequest(normaliseEntityId(entityId), { op: action.operation ?? '', input, signal, requestId, ...(signal ? {} : { parentInstanceId: instanceId }) }));
      return;
    }
    case ActionType.CallHttp: {
      // NOTE: devhost does not make outbound durable HTTP calls; the task fails so the orchestrator sees why.
      turn.appended.push(turn.event(EventType.TaskScheduled, { Name: 'BuiltIn::HttpActivity', Version: '' }, id));
      turn.deferred.push(() => turn.engine.postMessage(instanceId, { kind: 'event', event: failureEvent(EventType.TaskFailed, id, 'callHttp is not supported by devhost.', 'Call the endpoint from an activity instead.', turn.nowIso) }));
      return;
    }
    case ActionType.WaitForExternalEvent:
    case ActionType.ContinueAsNew:
      return;
    default:
      turn.fail(`Orchestrator '${turn.row.name}' issued action type ${action.actionType} (for example entity locks), which devhost does not support.`);
  }
}

/** Lower-cases the entity name part of `@name@key`; durable-functions already does, this guards hand-built ids. */
function normaliseEntityId(entityId: string): string {
  const match = /^@([^@]*)@(.*)$/s.exec(entityId);
  return match ? `@${(match[1] ?? '').toLowerCase()}@${match[2] ?? ''}` : entityId;
}
