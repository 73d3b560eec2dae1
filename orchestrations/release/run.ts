import * as df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';

import { releaseActivities } from '../../activities/releaseContract';
import { ledgerOperations } from '../../src/contracts/ledger';
import type { ReleaseActionEvent, ReleasePhase, ReleaseStatus } from '../../src/contracts/phases';
import { actionRefusal } from '../../src/contracts/phases';
import type { ReleaseRequest } from '../../src/contracts/release';
import { endpointEntityName } from '../../src/contracts/release';
import type { ReleaseEventKind, ReleaseLifecycleEvent } from '../../src/contracts/releaseEvents';
import type { LogSink } from '../../src/observability/log';
import { Logger } from '../../src/observability/log';
import type { ReleaseSignal } from '../../src/release/machine';
import { isTerminal, transition } from '../../src/release/machine';
import type { ReleasePlan } from '../../src/release/plan';
import type { Step } from './call';
import { callActivity, timerAfter } from './call';
import { ActionInbox } from './inbox';

/** How a wait ended: its time elapsed, a manual action arrived, or the ledger handed over the endpoint. */
export type WaitResult = { kind: 'elapsed' } | { kind: 'action'; event: ReleaseActionEvent } | { kind: 'turn' };

/** Name of the external event that a finishing release raises on the release that gets the endpoint next. */
export const turnEventName = 'turn';

/**
 * State of one release inside its orchestration: the custom status, the plan,
 * the action inbox and the ledger entity. Every method is replay-safe.
 */
export class ReleaseRun {
  readonly status: ReleaseStatus;
  readonly inbox: ActionInbox;
  readonly ledger: df.EntityId;
  readonly log: Logger;
  plan: ReleasePlan | undefined;

  constructor(
    readonly context: OrchestrationContext,
    readonly request: ReleaseRequest,
  ) {
    this.inbox = new ActionInbox(context);
    this.ledger = new df.EntityId(endpointEntityName, request.endpoint);
    this.log = new Logger(replaySafeSink(context), { releaseId: request.instanceId, releaseKey: request.releaseKey, endpoint: request.endpoint });
    this.status = {
      releaseId: request.instanceId,
      releaseKey: request.releaseKey,
      endpoint: request.endpoint,
      phase: 'Queued',
      canaryWeight: 0,
      step: -1,
      totalSteps: 0,
      failedChecks: 0,
      updatedAt: this.now(),
    };
    this.context.df.setCustomStatus(this.status);
  }

  /** Current orchestration time as ISO text. */
  now(): string {
    return this.context.df.currentUtcDateTime.toISOString();
  }

  get phase(): ReleasePhase {
    return this.status.phase;
  }

  /** Changes status fields and writes the custom status. */
  setStatus(change: Partial<ReleaseStatus>): void {
    Object.assign(this.status, change, { updatedAt: this.now() });
    this.context.df.setCustomStatus(this.status);
  }

  /**
   * Moves to the phase that `signal` leads to, records the reason, tells the
   * ledger and publishes the change. Throws on a transition the state machine
   * does not allow, because that is a bug in the orchestrator.
   */
  *signal(signal: ReleaseSignal, reason?: string): Step<void> {
    const next = transition(this.status.phase, signal);
    if (!next.ok) throw new Error(`release ${this.request.instanceId}: ${next.reason}`);

    if (reason === undefined) delete this.status.reason;
    this.setStatus({ phase: next.phase, ...(reason ? { reason } : {}) });
    this.log.info('release phase changed', { phase: next.phase, signal, ...(reason ? { reason } : {}) });
    // A terminal phase goes to the ledger with callEntity in finishRelease, which needs the reply.
    if (!isTerminal(next.phase)) {
      this.context.df.signalEntity(this.ledger, ledgerOperations.update, { releaseId: this.request.instanceId, phase: next.phase, ...(reason ? { reason } : {}) });
    }
    yield* this.publish('phase');
  }

  /**
   * Publishes a lifecycle event. A failure to publish is logged and the release
   * goes on, because the topic informs and the release must not stop on it.
   */
  *publish(kind: ReleaseEventKind, extra: Partial<ReleaseLifecycleEvent> = {}): Step<void> {
    const event: ReleaseLifecycleEvent = {
      schemaVersion: 1,
      kind,
      releaseId: this.request.instanceId,
      releaseKey: this.request.releaseKey,
      endpoint: this.request.endpoint,
      phase: this.status.phase,
      at: this.now(),
      canaryWeight: this.status.canaryWeight,
      step: this.status.step,
      ...(this.status.image ? { image: this.status.image } : {}),
      ...(this.status.reason ? { reason: this.status.reason } : {}),
      ...(this.request.model ? { model: { name: this.request.model.name, version: this.request.model.version } } : {}),
      ...extra,
    };
    try {
      yield* callActivity(this.context, releaseActivities.publishReleaseEvent, event);
    } catch (error) {
      this.log.warn('release event not published', { kind, error: (error as Error).message });
    }
  }

  /** Writes an audit line to the ledger without waiting. */
  audit(action: string, actor: ReleaseActionEvent['actor'], detail?: string): void {
    this.context.df.signalEntity(this.ledger, ledgerOperations.audit, { at: this.now(), releaseId: this.request.instanceId, action, actor, ...(detail ? { detail } : {}) });
  }

  /**
   * Returns the first action that arrived and that the current phase allows.
   * Actions the phase does not allow are ignored and audited, because intake
   * checked the phase when it raised them and the phase has moved on since.
   */
  acceptedAction(): ReleaseActionEvent | undefined {
    let accepted: ReleaseActionEvent | undefined;
    for (const event of this.inbox.take()) {
      const refusal = actionRefusal(event.action, this.status.phase);
      if (refusal || accepted) {
        const why = refusal ?? `another action (${accepted?.action ?? ''}) was taken first`;
        this.log.warn('release action ignored', { action: event.action, reason: why });
        this.audit(`${event.action}-ignored`, event.actor, why);
        continue;
      }
      accepted = event;
      this.log.info('release action accepted', { action: event.action, actor: event.actor.id });
      this.audit(event.action, event.actor, event.reason);
    }
    return accepted;
  }

  /**
   * Returns an allowed action that arrived so far, including one that the
   * library buffered because no wait for its name existed yet. Buffered
   * events reach a wait only when it is yielded, so this yields the inbox
   * against a timer that is already due.
   */
  *poll(): Step<ReleaseActionEvent | undefined> {
    const early = this.acceptedAction();
    if (early) return early;
    const timer = timerAfter(this.context, 0);
    const winner: unknown = yield this.context.df.Task.any([timer, ...this.inbox.arm()]);
    if (winner !== timer) timer.cancel();
    return this.acceptedAction();
  }

  /**
   * Waits `seconds` unless an allowed manual action (or, with `turn`, the
   * ledger's hand-over) arrives first. The losing timer is cancelled.
   */
  *wait(seconds: number, options: { turn?: boolean } = {}): Step<WaitResult> {
    const deadline = this.context.df.currentUtcDateTime.getTime() + seconds * 1000;
    for (;;) {
      const early = this.acceptedAction();
      if (early) return { kind: 'action', event: early };
      const remaining = (deadline - this.context.df.currentUtcDateTime.getTime()) / 1000;
      if (remaining <= 0) return { kind: 'elapsed' };

      const timer = timerAfter(this.context, remaining);
      const turn = options.turn ? this.context.df.waitForExternalEvent(turnEventName) : undefined;
      const racers: Task[] = [timer, ...this.inbox.arm(), ...(turn ? [turn] : [])];
      const winner: unknown = yield this.context.df.Task.any(racers);
      if (winner !== timer) timer.cancel();
      if (turn !== undefined && winner === turn) return { kind: 'turn' };
      if (winner === timer) {
        const late = this.acceptedAction();
        return late ? { kind: 'action', event: late } : { kind: 'elapsed' };
      }
    }
  }
}

function replaySafeSink(context: OrchestrationContext): LogSink {
  const quiet = (): boolean => context.df.isReplaying;
  return {
    debug: (...args: unknown[]) => { if (!quiet()) context.debug(...args); },
    info: (...args: unknown[]) => { if (!quiet()) context.info(...args); },
    warn: (...args: unknown[]) => { if (!quiet()) context.warn(...args); },
    error: (...args: unknown[]) => { if (!quiet()) context.error(...args); },
  };
}
