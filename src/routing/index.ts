import type { ConflictRetryOptions, KubeClient } from '../clients/kube';
import { trafficProviders } from '../config/policy';
import type { TrafficProviderName } from '../config/policy';
import { GatewayApiRouter } from './gatewayApi';
import { NginxRouter } from './nginx';
import { ReplicaRatioRouter } from './replicaRatio';
import type { TrafficRouter } from './router';

export type { TrafficRouter, TrafficWeights } from './router';

/** Raised at start-up when a configured traffic provider name is unknown. */
export class UnknownTrafficProviderError extends Error {
  override name = 'UnknownTrafficProviderError';
}

/** Throws UnknownTrafficProviderError unless `name` is a provider in src/routing. */
export function assertTrafficProvider(name: string, origin: string): asserts name is TrafficProviderName {
  if (!(trafficProviders as readonly string[]).includes(name)) {
    throw new UnknownTrafficProviderError(`${origin}: traffic provider "${name}" is unknown; expected one of ${trafficProviders.join(', ')}`);
  }
}

/** Creates the router for a provider name; throws UnknownTrafficProviderError for an unknown name instead of falling back. */
export function createTrafficRouter(name: string, kube: KubeClient, options: { conflictRetry?: ConflictRetryOptions } = {}): TrafficRouter {
  assertTrafficProvider(name, 'createTrafficRouter');
  switch (name) {
    case 'gateway-api':
      return new GatewayApiRouter(kube, options.conflictRetry);
    case 'nginx':
      return new NginxRouter(kube);
    case 'replica-ratio':
      return new ReplicaRatioRouter(kube);
  }
}
