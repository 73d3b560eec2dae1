import { loadReleasePolicy, type ReleasePolicy } from '../config/policy';
import { getSettings } from '../config/settings';
import type { Logger } from '../observability/log';
import type { IntakeOutcome } from './outcome';
import type { ReleaseStarter } from './starter';

/** What every intake handler needs; triggers build it per invocation, tests build it by hand. */
export interface IntakeDeps {
  starter: ReleaseStarter;
  policy: ReleasePolicy;
  log: Logger;
  /** Clock for receivedAt; injectable so that tests can fix it. */
  now?: () => Date;
}

let policyCache: { path: string; policy: ReleasePolicy } | undefined;

/** Returns the release policy named by RELEASE_POLICY_FILE, read once per path. */
export function currentPolicy(): ReleasePolicy {
  const path = getSettings().RELEASE_POLICY_FILE;
  if (policyCache?.path !== path) policyCache = { path, policy: loadReleasePolicy(path) };
  return policyCache.policy;
}

export function receivedAt(deps: IntakeDeps): string {
  return (deps.now ?? (() => new Date()))().toISOString();
}

/** Writes one log line per outcome that did not start or find a release; those log themselves. */
export function logOutcomes(log: Logger, outcomes: readonly IntakeOutcome[]): void {
  for (const outcome of outcomes) {
    if (outcome.outcome === 'ignored') log.info('event ignored', { outcome: 'ignored', reason: outcome.reason, endpoint: outcome.endpoint });
    if (outcome.outcome === 'rejected') log.warn('event rejected', { outcome: 'rejected', reason: outcome.reason, problems: outcome.problems });
  }
}
