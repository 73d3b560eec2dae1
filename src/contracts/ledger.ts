import type { ReleasePhase } from './phases';
import type { Actor, ReleaseRequest } from './release';

/** One line of the audit trail: who did what to which release, and when. */
export interface AuditEntry {
  at: string;
  releaseId: string;
  action: string;
  actor: Actor;
  detail?: string;
}

/** Summary of a release in the ledger's current, queue and history lists. */
export interface LedgerRelease {
  releaseId: string;
  releaseKey: string;
  request: ReleaseRequest;
  phase: ReleasePhase;
  updatedAt: string;
  reason?: string;
  /** Release id of the newer request that replaced this one, when its phase is Superseded. */
  supersededBy?: string;
}

/**
 * State of the `endpointLedger` entity, one per endpoint. The entity owns what
 * orchestrations cannot: which release runs, which wait, recent history, the
 * audit trail, and the digests that releases built so that the registry's push
 * event for such a digest joins its release instead of starting another.
 */
export interface EndpointLedgerState {
  endpoint: string;
  running?: LedgerRelease;
  /** Waiting requests, oldest first. */
  queue: LedgerRelease[];
  /** Finished releases, newest first, bounded. */
  history: LedgerRelease[];
  audit: AuditEntry[];
  /** Digest (`sha256:…`) of each image a release built, mapped to that release id. */
  builtDigests: Record<string, string>;
  /** Registry pushes recorded on a release instead of starting one. */
  recordedPushes: { digest: string; tag?: string; deliveryId: string; releaseId: string; at: string }[];
}

/** Operation names of the endpointLedger entity. */
export const ledgerOperations = {
  /**
   * Input ReleaseRequest. Returns { granted: true } or { granted: false, position }, or
   * { granted: false, superseded: true, supersededBy, position: 0 } when a newer request replaced it.
   */
  acquire: 'acquire',
  /**
   * Input { releaseId, phase, reason? }. Frees the endpoint when the phase is terminal and
   * returns { next?: { releaseId } }, the waiting release that now holds the endpoint.
   */
  update: 'update',
  /** Input { releaseId, digest }. */
  recordBuild: 'recordBuild',
  /** Input { digest, tag?, deliveryId }. Returns { releaseId } or null when no release built the digest. */
  recordRegistryPush: 'recordRegistryPush',
  /** Input AuditEntry. */
  audit: 'audit',
} as const;
