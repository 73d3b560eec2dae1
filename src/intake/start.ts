import { ledgerOperations } from '../contracts/ledger';
import type { ReleaseRequest } from '../contracts/release';
import type { Logger } from '../observability/log';
import type { IntakeOutcome, StartedOrDuplicate } from './outcome';
import type { ReleaseStarter } from './starter';

/** Starts in flight in this process, by instance id, so that concurrent copies of one event wait for the first. */
const inFlight = new Map<string, Promise<StartedOrDuplicate>>();

/**
 * Starts the release unless an instance with its id exists. Durable restarts
 * a completed instance when asked to start it again, so the status is read
 * first and any existing instance, running or finished, counts as a
 * duplicate. Throws TransientError when the Durable backend is unreachable.
 */
export async function startRelease(starter: ReleaseStarter, request: ReleaseRequest, log: Logger): Promise<StartedOrDuplicate> {
  const pending = inFlight.get(request.instanceId);
  if (pending) {
    await pending.catch(() => undefined);
    return startOnce(starter, request, log);
  }
  const attempt = startOnce(starter, request, log);
  inFlight.set(request.instanceId, attempt);
  try {
    return await attempt;
  } finally {
    inFlight.delete(request.instanceId);
  }
}

async function startOnce(starter: ReleaseStarter, request: ReleaseRequest, log: Logger): Promise<StartedOrDuplicate> {
  const fields = { releaseId: request.instanceId, releaseKey: request.releaseKey, endpoint: request.endpoint, deliveryId: request.deliveryId, source: request.source };
  const existing = await starter.getRelease(request.instanceId);
  if (existing) {
    log.info('release exists; nothing started', { ...fields, outcome: 'duplicate', runtimeStatus: existing.runtimeStatus, phase: existing.customStatus?.phase });
    return duplicateOf(request, existing.runtimeStatus, existing.customStatus?.phase);
  }

  // NOTE: two app instances that read "no instance" at the same moment can both start;
  // Durable rejects the second start of a running instance, which lands in the catch below.
  try {
    await starter.startRelease(request);
  } catch (error) {
    const raced = await starter.getRelease(request.instanceId);
    if (!raced) throw error;
    log.info('release started by a concurrent delivery; nothing started', { ...fields, outcome: 'duplicate', runtimeStatus: raced.runtimeStatus });
    return duplicateOf(request, raced.runtimeStatus, raced.customStatus?.phase);
  }
  log.info('release started', { ...fields, outcome: 'started' });
  return { outcome: 'started', endpoint: request.endpoint, releaseId: request.instanceId, releaseKey: request.releaseKey };
}

function duplicateOf(request: ReleaseRequest, runtimeStatus: string, phase: string | undefined): StartedOrDuplicate {
  const outcome: StartedOrDuplicate = { outcome: 'duplicate', endpoint: request.endpoint, releaseId: request.instanceId, releaseKey: request.releaseKey, runtimeStatus };
  if (phase !== undefined) outcome.phase = phase;
  return outcome;
}

/** Starts one release per request, in order, and returns one outcome per request. */
export async function startReleases(starter: ReleaseStarter, requests: ReleaseRequest[], log: Logger): Promise<IntakeOutcome[]> {
  const outcomes: IntakeOutcome[] = [];
  for (const request of requests) outcomes.push(await startRelease(starter, request, log));
  return outcomes;
}

/** A registry push to record on the release that built its digest. */
export interface BuiltPush {
  endpoint: string;
  digest: string;
  tag?: string;
  deliveryId: string;
}

/**
 * Records a push on the release that built the digest, when the endpoint's
 * ledger lists it. Returns the outcome, or undefined when no release of the
 * endpoint built the digest.
 */
export async function recordBuiltPush(starter: ReleaseStarter, push: BuiltPush, log: Logger): Promise<IntakeOutcome | undefined> {
  const ledger = await starter.readLedger(push.endpoint);
  const releaseId = ledger?.builtDigests?.[push.digest];
  if (releaseId === undefined) return undefined;

  const input: { digest: string; tag?: string; deliveryId: string } = { digest: push.digest, deliveryId: push.deliveryId };
  if (push.tag !== undefined) input.tag = push.tag;
  await starter.signalLedger(push.endpoint, ledgerOperations.recordRegistryPush, input);
  log.info('registry push of a built image recorded on its release', { releaseId, endpoint: push.endpoint, deliveryId: push.deliveryId, digest: push.digest, outcome: 'recorded' });
  return { outcome: 'recorded', endpoint: push.endpoint, releaseId, digest: push.digest };
}
