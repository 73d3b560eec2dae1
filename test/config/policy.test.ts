import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parseReleasePolicy, PolicyError } from '../../src/config/policy';

const localPolicy = readFileSync(join(__dirname, '../../config/release-policy.local.yaml'), 'utf8');

describe('release policy', () => {
  test('local policy parses with defaults filled in', () => {
    const policy = parseReleasePolicy(localPolicy);
    const regression = policy.endpoints.find((e) => e.name === 'regression');
    expect(regression?.canary.bake).toBe(20);
    expect(regression?.traffic.provider).toBe('gateway-api');
    expect(regression?.approval.timeout).toBe(300);
  });

  test('invalid policy lists every field path', () => {
    const bad = localPolicy.replace('provider: gateway-api', 'provider: istio').replace('bake: 20s', 'bake: soon');
    let message = '';
    try {
      parseReleasePolicy(bad, 'test policy');
    } catch (error) {
      expect(error).toBeInstanceOf(PolicyError);
      message = (error as Error).message;
    }
    expect(message).toContain('endpoints.0.traffic.provider');
    expect(message).toContain('endpoints.0.canary.bake');
  });

  test('region outside allowedRegions is rejected', () => {
    const bad = localPolicy.replace('region: switzerlandnorth\n    deployment: regression-server', 'region: westeurope\n    deployment: regression-server');
    expect(() => parseReleasePolicy(bad)).toThrow(/endpoints\.0\.region: region "westeurope" is not in allowedRegions/);
  });
});
