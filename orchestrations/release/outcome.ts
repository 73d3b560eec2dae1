import type { ReleaseActionEvent } from '../../src/contracts/phases';

/** Where the canary part of a release leads. */
export type CanaryOutcome = { next: 'promote'; reason: string } | { next: 'rollback'; reason: string };

/** Names the person or system behind an action, for reasons in status. */
export function actorText(event: ReleaseActionEvent): string {
  return event.actor.displayName ?? event.actor.id;
}

/** Turns a manual promote, rollback or abort into the canary outcome it asks for. */
export function outcomeOfAction(event: ReleaseActionEvent): CanaryOutcome {
  const note = event.reason ? `: ${event.reason}` : '';
  switch (event.action) {
    case 'promote':
    case 'approve':
      return { next: 'promote', reason: `${event.action === 'promote' ? 'promoted' : 'approved'} by ${actorText(event)}${note}` };
    case 'reject':
      return { next: 'rollback', reason: `rejected by ${actorText(event)}${note}` };
    case 'rollback':
      return { next: 'rollback', reason: `rolled back by ${actorText(event)}${note}` };
    case 'abort':
      return { next: 'rollback', reason: `aborted by ${actorText(event)}${note}` };
  }
}
