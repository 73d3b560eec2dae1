import { loadReleasePolicy } from './config/policy';
import { getSettings } from './config/settings';
import { consoleLogger } from './observability/log';

/**
 * Parses settings and the release policy once. Throws with every problem
 * listed, which stops the host before any trigger runs.
 */
export function startupCheck(): void {
  const settings = getSettings();
  const policy = loadReleasePolicy(settings.RELEASE_POLICY_FILE);
  consoleLogger().info('app settings and release policy loaded', {
    policyFile: settings.RELEASE_POLICY_FILE,
    endpoints: policy.endpoints.map((e) => e.name),
  });
}
