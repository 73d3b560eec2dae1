import type { ReleaseTarget } from '../../src/contracts/target';

/** Digest-addressed images as the build step produces them. */
export const imageV1 = `simacr.azurecr.io/models/sentiment@sha256:${'1'.repeat(64)}`;
export const imageV2 = `simacr.azurecr.io/models/sentiment@sha256:${'2'.repeat(64)}`;

/** A release target on the sim's GPU pool, with overrides per test. */
export function targetOf(overrides: Partial<ReleaseTarget> = {}): ReleaseTarget {
  const endpoint = overrides.endpoint ?? 'sentiment';
  const stable = overrides.stableDeployment ?? endpoint;
  return {
    releaseId: 'rel-sentiment-0123456789abcdef01234567',
    endpoint,
    namespace: 'models',
    stableDeployment: stable,
    canaryDeployment: `${stable}-canary`,
    service: endpoint,
    port: 8080,
    replicas: 2,
    resources: { gpu: 1, cpu: '500m', memory: '1Gi' },
    scheduling: { nodeSelector: { 'kubernetes.azure.com/accelerator': 'nvidia' }, tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }], allowSpot: false },
    traffic: { provider: 'gateway-api', routeName: endpoint, gateway: 'gateways/inference' },
    model: { name: 'sentiment', version: '3' },
    ...overrides,
  };
}
