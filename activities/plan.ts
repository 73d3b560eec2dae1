import { loadReleasePolicy } from '../src/config/policy';
import { getSettings } from '../src/config/settings';
import { buildReleasePlan, PlanError } from '../src/release/plan';
import { releaseActivities } from './releaseContract';
import { registerActivity } from './register';

registerActivity(releaseActivities.loadReleasePlan, (request) => {
  const settings = getSettings();
  const policy = loadReleasePolicy(settings.RELEASE_POLICY_FILE);
  try {
    const plan = buildReleasePlan(policy, request, { defaultTrafficProvider: settings.DEFAULT_TRAFFIC_PROVIDER, registryLoginServer: settings.ACR_LOGIN_SERVER });
    return { ok: true as const, plan };
  } catch (error) {
    if (error instanceof PlanError) return { ok: false as const, reason: error.message };
    throw error;
  }
});
