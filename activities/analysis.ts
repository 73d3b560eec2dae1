import type { AnalysisSummary } from '../src/contracts/phases';
import { canaryChecks } from '../src/analysis/queries';
import { evaluateCheck, summarise } from '../src/analysis/verdict';
import { azureCredential } from '../src/clients/credential';
import { PrometheusClient } from '../src/clients/prometheus';
import { getSettings } from '../src/config/settings';
import type { InputOf } from './contract';
import { registerActivity } from './register';
import { releaseActivities } from './releaseContract';

/**
 * Runs every check of one canary analysis at the orchestration's time and
 * judges each against its limit. Queries run one after another to keep the
 * load on Prometheus low.
 */
export async function analyseCanary(prometheus: Pick<PrometheusClient, 'query'>, input: InputOf<typeof releaseActivities.analyseCanary>): Promise<AnalysisSummary> {
  const at = new Date(input.at);
  const outcomes = [];
  for (const check of canaryChecks(input.analysis, { namespace: input.namespace, deployment: input.deployment })) {
    outcomes.push(evaluateCheck(check, await prometheus.query(check.query, at)));
  }
  return summarise({ step: input.step, weight: input.weight, at: input.at, checks: outcomes });
}

let client: PrometheusClient | undefined;
function prometheus(): PrometheusClient {
  const settings = getSettings();
  client ??= new PrometheusClient({ url: settings.PROMETHEUS_URL, ...(settings.PROMETHEUS_AUTH === 'azure' ? { credential: azureCredential() } : {}) });
  return client;
}

registerActivity(releaseActivities.analyseCanary, (input) => analyseCanary(prometheus(), input));
