import type { AuditEntry, EndpointLedgerState, LedgerRelease } from '../contracts/ledger';
import { ledgerOperations } from '../contracts/ledger';
import type { ReleasePhase } from '../contracts/phases';
import { terminalPhases } from '../contracts/phases';
import type { ReleaseRequest } from '../contracts/release';

/** Finished releases kept in the ledger, newest first. */
export const historyLimit = 50;
/** Audit lines kept in the ledger, oldest dropped first. */
export const auditLimit = 500;

export type AcquireResult =
  | { granted: true }
  | { granted: false; position: number; superseded?: false }
  | { granted: false; superseded: true; supersededBy: string; position: 0 };

export interface UpdateInput {
  releaseId: string;
  phase: ReleasePhase;
  reason?: string;
}

/** The release that got the endpoint when another finished; the finishing release raises `turn` on it. */
export interface UpdateResult {
  next?: { releaseId: string };
}

export function emptyLedger(endpoint: string): EndpointLedgerState {
  return { endpoint, queue: [], history: [], audit: [], builtDigests: {}, recordedPushes: [] };
}

function entryOf(request: ReleaseRequest, now: string): LedgerRelease {
  return { releaseId: request.instanceId, releaseKey: request.releaseKey, request, phase: 'Queued', updatedAt: now };
}

function pushHistory(state: EndpointLedgerState, entry: LedgerRelease): void {
  state.history = [entry, ...state.history.filter((h) => h.releaseId !== entry.releaseId)].slice(0, historyLimit);
}

function addAudit(state: EndpointLedgerState, entry: AuditEntry): void {
  state.audit.push(entry);
  if (state.audit.length > auditLimit) state.audit.splice(0, state.audit.length - auditLimit);
}

function supersede(state: EndpointLedgerState, entry: LedgerRelease, by: string, now: string): void {
  const reason = `superseded by the newer request ${by} for endpoint ${state.endpoint}`;
  pushHistory(state, { ...entry, phase: 'Superseded', updatedAt: now, reason, supersededBy: by });
  addAudit(state, { at: now, releaseId: entry.releaseId, action: 'superseded', actor: { kind: 'event', id: 'endpointLedger' }, detail: reason });
}

/**
 * Gives the endpoint to the request when it is free, or queues it. Only one
 * request waits at a time: the request received last wins, and every other
 * waiting request is superseded. Asking again is safe: the running release is
 * granted again, a queued one gets its position, a superseded one learns by whom.
 */
export function acquire(state: EndpointLedgerState, request: ReleaseRequest, now: string): AcquireResult {
  const id = request.instanceId;
  if (state.running?.releaseId === id) return { granted: true };

  const finished = state.history.find((h) => h.releaseId === id);
  if (finished?.phase === 'Superseded') {
    return { granted: false, superseded: true, supersededBy: finished.supersededBy ?? 'a newer request', position: 0 };
  }

  if (!state.running) {
    state.queue = state.queue.filter((q) => q.releaseId !== id);
    state.running = { ...entryOf(request, now), phase: 'Validating' };
    return { granted: true };
  }

  const queued = state.queue.find((q) => q.releaseId === id);
  if (queued) return { granted: false, position: state.queue.indexOf(queued) + 1 };

  const newer = state.queue.find((q) => q.request.receivedAt > request.receivedAt);
  const entry = entryOf(request, now);
  if (newer) {
    supersede(state, entry, newer.releaseId, now);
    return { granted: false, superseded: true, supersededBy: newer.releaseId, position: 0 };
  }

  for (const older of state.queue) supersede(state, older, id, now);
  state.queue = [entry];
  return { granted: false, position: 1 };
}

/**
 * Records a phase change. A terminal phase frees the endpoint and hands it to
 * the waiting request, which the result names so that its orchestration can be
 * told at once.
 */
export function update(state: EndpointLedgerState, input: UpdateInput, now: string): UpdateResult {
  const terminal = terminalPhases.includes(input.phase);
  const changed = (entry: LedgerRelease): LedgerRelease => ({ ...entry, phase: input.phase, updatedAt: now, ...(input.reason ? { reason: input.reason } : {}) });

  if (state.running?.releaseId === input.releaseId) {
    if (!terminal) {
      state.running = changed(state.running);
      return {};
    }
    pushHistory(state, changed(state.running));
    state.running = undefined;
    const next = state.queue.shift();
    if (!next) return {};
    state.running = { ...next, phase: 'Validating', updatedAt: now };
    return { next: { releaseId: next.releaseId } };
  }

  const queued = state.queue.find((q) => q.releaseId === input.releaseId);
  if (queued && terminal) {
    state.queue = state.queue.filter((q) => q !== queued);
    pushHistory(state, changed(queued));
  }
  return {};
}

/** Remembers that a release built the image with this digest. */
export function recordBuild(state: EndpointLedgerState, input: { releaseId: string; digest: string }): void {
  state.builtDigests[input.digest] = input.releaseId;
}

/**
 * Attaches a registry push to the release that built the digest. Returns that
 * release id, or null when no release of this endpoint built it.
 */
export function recordRegistryPush(state: EndpointLedgerState, input: { digest: string; tag?: string; deliveryId: string }, now: string): { releaseId: string } | null {
  const releaseId = state.builtDigests[input.digest];
  if (!releaseId) return null;
  if (!state.recordedPushes.some((p) => p.deliveryId === input.deliveryId)) {
    state.recordedPushes.push({ digest: input.digest, deliveryId: input.deliveryId, releaseId, at: now, ...(input.tag ? { tag: input.tag } : {}) });
    if (state.recordedPushes.length > historyLimit) state.recordedPushes.splice(0, state.recordedPushes.length - historyLimit);
  }
  return { releaseId };
}


/** Every release the ledger knows, current first, for list queries. */
export function allReleases(state: EndpointLedgerState): LedgerRelease[] {
  return [...(state.running ? [state.running] : []), ...state.queue, ...state.history];
}

/**
 * Runs one operation on the ledger state and returns its result. Entity
 * operations run once each, not under replay, so the wall clock is safe here.
 */
export function applyLedgerOperation(state: EndpointLedgerState, operation: string, input: unknown, now: string): unknown {
  switch (operation) {
    case ledgerOperations.acquire:
      return acquire(state, input as ReleaseRequest, now);
    case ledgerOperations.update:
      return update(state, input as UpdateInput, now);
    case ledgerOperations.recordBuild:
      recordBuild(state, input as { releaseId: string; digest: string });
      return null;
    case ledgerOperations.recordRegistryPush:
      return recordRegistryPush(state, input as { digest: string; tag?: string; deliveryId: string }, now);
    case ledgerOperations.audit:
      addAudit(state, input as AuditEntry);
      return null;
    default:
      throw new Error(`endpointLedger has no operation "${operation}": expected one of ${Object.values(ledgerOperations).join(', ')}`);
  }
}
