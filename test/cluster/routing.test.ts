import { parentRefOf, weightedRules, weightsFromRules } from '../../src/routing/gatewayApi';
import { buildCanaryIngress, weightOfCanaryIngress } from '../../src/routing/nginx';
import { checkWeight, percentOf, replicaSplit } from '../../src/routing/router';
import { UnknownTrafficProviderError, createTrafficRouter } from '../../src/routing';
import type { KubeClient } from '../../src/clients/kube';
import type { V1Ingress } from '../../src/clients/kubeModule';
import { PermanentError } from '../../src/errors';
import { targetOf } from './fixtures';

describe('replica split', () => {
  test.each([
    [10, 0, { stable: 10, canary: 0 }],
    [10, 10, { stable: 9, canary: 1 }],
    [10, 25, { stable: 7, canary: 3 }],
    [10, 50, { stable: 5, canary: 5 }],
    [10, 99, { stable: 1, canary: 9 }],
    [10, 100, { stable: 0, canary: 10 }],
    [2, 10, { stable: 1, canary: 1 }],
    [1, 10, { stable: 1, canary: 1 }],
    [4, 1, { stable: 3, canary: 1 }],
  ])('%i pods at %i %%', (total, weight, expected) => {
    expect(replicaSplit(total, weight)).toEqual(expected);
  });

  test('percent of counts rounds', () => {
    expect(percentOf(7, 3)).toEqual({ stable: 70, canary: 30 });
    expect(percentOf(2, 1)).toEqual({ stable: 67, canary: 33 });
    expect(percentOf(0, 0)).toEqual({ stable: 100, canary: 0 });
  });
});

describe('weight check', () => {
  test.each([-1, 101, 12.5, Number.NaN])('rejects %p', (weight) => {
    expect(() => checkWeight(weight, { endpoint: 'e' })).toThrow(PermanentError);
  });

  test('accepts bounds', () => {
    expect(checkWeight(0, { endpoint: 'e' })).toBe(0);
    expect(checkWeight(100, { endpoint: 'e' })).toBe(100);
  });
});

describe('gateway rules', () => {
  const target = targetOf();
  const stableRef = { group: '', kind: 'Service', name: 'sentiment', port: 8080, weight: 1 };
  const otherRule = { matches: [{ path: { type: 'PathPrefix', value: '/admin' } }], backendRefs: [{ name: 'admin', port: 80 }] };

  test('adds canary ref with weight', () => {
    const rules = weightedRules([{ backendRefs: [stableRef] }, otherRule], target, 25);
    expect(rules[0]?.backendRefs).toEqual([{ ...stableRef, weight: 75 }, { ...stableRef, name: 'sentiment-canary', weight: 25 }]);
    expect(rules[1]).toBe(otherRule);
  });

  test('updates an existing canary ref', () => {
    const first = weightedRules([{ backendRefs: [stableRef] }], target, 10);
    const second = weightedRules(first, target, 50);
    expect(second[0]?.backendRefs).toHaveLength(2);
    expect(weightsFromRules(second, target)).toEqual({ stable: 50, canary: 50 });
  });

  test('finalise drops canary ref', () => {
    const weighted = weightedRules([{ backendRefs: [stableRef] }], target, 40);
    const final = weightedRules(weighted, target, undefined);
    expect(final[0]?.backendRefs).toEqual([{ ...stableRef, weight: 100 }]);
    expect(weightsFromRules(final, target)).toEqual({ stable: 100, canary: 0 });
  });

  test('weights default to one', () => {
    expect(weightsFromRules([{ backendRefs: [{ name: 'sentiment' }, { name: 'sentiment-canary' }] }], target)).toEqual({ stable: 50, canary: 50 });
  });

  test('no stable rule reads undefined', () => {
    expect(weightsFromRules([otherRule], target)).toBeUndefined();
  });

  test('ignores refs in other namespaces', () => {
    const rules = weightedRules([{ backendRefs: [{ name: 'sentiment', namespace: 'elsewhere' }] }], target, 30);
    expect(rules[0]?.backendRefs).toEqual([{ name: 'sentiment', namespace: 'elsewhere' }]);
  });

  test('parent ref parses namespace', () => {
    expect(parentRefOf('gateways/inference')).toEqual({ namespace: 'gateways', name: 'inference' });
    expect(parentRefOf('inference')).toEqual({ name: 'inference' });
  });
});

describe('nginx canary ingress', () => {
  const target = targetOf({ traffic: { provider: 'nginx', routeName: 'sentiment' } });
  const primary: V1Ingress = {
    metadata: { name: 'sentiment', namespace: 'models' },
    spec: {
      ingressClassName: 'nginx',
      rules: [
        { host: 'ml.example.com', http: { paths: [
          { path: '/score', pathType: 'Prefix', backend: { service: { name: 'sentiment', port: { number: 80 } } } },
          { path: '/docs', pathType: 'Prefix', backend: { service: { name: 'docs', port: { number: 80 } } } },
        ] } },
        { host: 'other.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'other', port: { number: 80 } } } }] } },
      ],
    },
  };

  test('copies stable paths to canary service', () => {
    const canary = buildCanaryIngress(primary, target, 20);
    expect(canary.metadata?.name).toBe('sentiment-canary');
    expect(canary.spec?.ingressClassName).toBe('nginx');
    expect(canary.spec?.rules).toEqual([{ host: 'ml.example.com', http: { paths: [{ path: '/score', pathType: 'Prefix', backend: { service: { name: 'sentiment-canary', port: { number: 8080 } } } }] } }]);
    expect(canary.metadata?.annotations).toEqual({
      'nginx.ingress.kubernetes.io/canary': 'true',
      'nginx.ingress.kubernetes.io/canary-weight': '20',
      'nginx.ingress.kubernetes.io/canary-weight-total': '100',
    });
  });

  test('primary without stable path is rejected', () => {
    expect(() => buildCanaryIngress({ spec: { rules: [] } }, target, 20)).toThrow(/no path with backend Service sentiment/);
  });

  test('reads weight with total', () => {
    expect(weightOfCanaryIngress(buildCanaryIngress(primary, target, 35))).toBe(35);
    expect(weightOfCanaryIngress({ metadata: { annotations: { 'nginx.ingress.kubernetes.io/canary': 'true', 'nginx.ingress.kubernetes.io/canary-weight': '1', 'nginx.ingress.kubernetes.io/canary-weight-total': '4' } } })).toBe(25);
    expect(weightOfCanaryIngress({ metadata: { annotations: { 'nginx.ingress.kubernetes.io/canary-weight': '50' } } })).toBe(0);
    expect(weightOfCanaryIngress(undefined)).toBe(0);
  });
});

describe('router factory', () => {
  const kube = {} as KubeClient;

  test('creates each provider', () => {
    expect(createTrafficRouter('gateway-api', kube).provider).toBe('gateway-api');
    expect(createTrafficRouter('nginx', kube).provider).toBe('nginx');
    expect(createTrafficRouter('replica-ratio', kube).provider).toBe('replica-ratio');
  });

  test('unknown name throws', () => {
    expect(() => createTrafficRouter('istio', kube)).toThrow(UnknownTrafficProviderError);
    expect(() => createTrafficRouter('istio', kube)).toThrow(/"istio" is unknown; expected one of gateway-api, nginx, replica-ratio/);
  });
});
