import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parseReleasePolicy } from '../../src/config/policy';
import { instanceIdOf, releaseKeyOf, type ReleaseRequest } from '../../src/contracts/release';
import { buildReleasePlan } from '../../src/release/plan';

const localPolicy = readFileSync(join(__dirname, '../../config/release-policy.local.yaml'), 'utf8');

function modelRequest(endpoint: string): ReleaseRequest {
  const releaseKey = releaseKeyOf({ source: 'azureml', endpoint, model: { name: 'sklearn_regression_model', version: '20' } });
  return {
    schemaVersion: 1,
    releaseKey,
    instanceId: instanceIdOf(releaseKey, endpoint),
    source: 'azureml',
    endpoint,
    model: { name: 'sklearn_regression_model', version: '20' },
    causedBy: { kind: 'event', id: 'test' },
    deliveryId: 'delivery-1',
    receivedAt: '2026-12-04T10:00:00.000Z',
  };
}

describe('release plan traffic provider', () => {
  test('setting applies when policy names none', () => {
    const policy = parseReleasePolicy(localPolicy.replace('traffic: { provider: gateway-api, gateway: gateways/inference }', 'traffic: { gateway: gateways/inference }'));
    const plan = buildReleasePlan(policy, modelRequest('regression'), { defaultTrafficProvider: 'nginx', registryLoginServer: 'contosocr.azurecr.io' });
    expect(plan.target.traffic.provider).toBe('nginx');
  });

  test('policy provider wins over setting', () => {
    const policy = parseReleasePolicy(localPolicy);
    const plan = buildReleasePlan(policy, modelRequest('regression'), { defaultTrafficProvider: 'nginx', registryLoginServer: 'contosocr.azurecr.io' });
    expect(plan.target.traffic.provider).toBe('gateway-api');
  });
});
