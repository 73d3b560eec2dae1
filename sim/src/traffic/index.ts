import type { AddressInfo } from 'node:net';

import { consoleLogger, type Logger } from '../../../src/observability/log';
import { kubeClients } from '../cluster/kube';
import { TrafficGenerator, type TrafficGeneratorOptions } from './generator';
import { createTrafficServer } from './server';

export { TrafficGenerator, type DeploymentTraffic, type TrafficGeneratorOptions } from './generator';
export { latencyBuckets, TrafficMetrics } from './metrics';
export { computeRouting, endpointOf, type EndpointRouting, type RoutingObjects } from './routing';
export { scenarioFrom, scenarioNames, type Scenario, type ScenarioName } from './scenarios';

export interface TrafficOptions extends Omit<TrafficGeneratorOptions, 'clients' | 'logger'> {
  kubeconfigPath: string;
  /** Port on 127.0.0.1; 0 or absent takes a free one. */
  port?: number;
  logger?: Logger;
}

/** A running traffic generator and its HTTP server. */
export interface SimTraffic {
  /** Base URL, for example http://127.0.0.1:43117; metrics at `${url}/metrics`. */
  url: string;
  generator: TrafficGenerator;
  stop(): Promise<void>;
}

/** Starts the traffic generator against a cluster and serves its metrics and control API on 127.0.0.1. */
export async function startTraffic(options: TrafficOptions): Promise<SimTraffic> {
  const logger = options.logger ?? consoleLogger({ component: 'sim-traffic' });
  const clients = await kubeClients(options.kubeconfigPath);
  const generator = new TrafficGenerator({ ...options, clients, logger });
  await generator.start();

  const server = createTrafficServer(generator, logger);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
  } catch (error) {
    generator.stop();
    throw new Error(`cannot listen on 127.0.0.1:${options.port ?? 0} for the traffic generator`, { cause: error });
  }
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  logger.info('traffic generator started', { url, requestsPerSecond: generator.requestsPerSecond });

  return {
    url,
    generator,
    stop: async () => {
      generator.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
