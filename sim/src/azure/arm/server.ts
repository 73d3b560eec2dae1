import type { Logger } from '../../../../src/observability/log';
import type { TokenAuthority } from '../../identity/tokens';
import type { RegistryStore } from '../acr/registry';
import { type ListeningServer, Router, type TlsOptions, listen, unknownRoute } from '../http';
import { type AksSeed, AksProvider } from './aks';
import { type AcrSeed, AcrManagementProvider } from './containerRegistry';
import type { ArmGuardOptions, ArmWriteRecord } from './guard';
import { type AzureMlSeed, AzureMlProvider } from './machineLearning';
import { AsyncOperations } from './operations';

/** Options of the ARM simulator. */
export interface ArmSimulatorOptions {
  host: string;
  port: number;
  tls: TlsOptions;
  subscriptionId: string;
  authority: TokenAuthority;
  stateDir: string;
  aks: AksSeed;
  azureml: AzureMlSeed;
  acr: AcrSeed;
  store: RegistryStore;
  onAgentPoolScaled?: (pool: string, count: number) => Promise<void>;
  kubeconfig?: () => Promise<string>;
  log: Logger;
}

/** The running ARM simulator and its resource providers, which the control API reads and drives. */
export interface ArmSimulator {
  server: ListeningServer;
  aks: AksProvider;
  azureml: AzureMlProvider;
  acr: AcrManagementProvider;
  writes: ArmWriteRecord[];
  close(): Promise<void>;
}

/**
 * Starts one HTTPS server that serves Azure Resource Manager for the AKS,
 * Azure ML and ACR calls the app makes. Management clients take its origin as
 * their `endpoint`; tokens must come from the identity simulator.
 */
export async function startArmSimulator(options: ArmSimulatorOptions): Promise<ArmSimulator> {
  let origin = '';
  const writes: ArmWriteRecord[] = [];
  // Clients built with a custom endpoint may ask for a token whose audience is that endpoint.
  const guard: ArmGuardOptions = { subscriptionId: options.subscriptionId, authority: options.authority, audiences: () => [origin], writes };
  const operations = new AsyncOperations(options.log);
  const aks = new AksProvider({
    guard,
    operations,
    origin: () => origin,
    seed: options.aks,
    ...(options.onAgentPoolScaled ? { onAgentPoolScaled: options.onAgentPoolScaled } : {}),
    ...(options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}),
  });
  const azureml = new AzureMlProvider(guard, options.azureml);
  const acr = new AcrManagementProvider({ guard, origin: () => origin, seed: options.acr, store: options.store, stateDir: options.stateDir, log: options.log });

  const router = new Router();
  aks.registerRoutes(router);
  azureml.registerRoutes(router);
  acr.registerRoutes(router);
  const server = await listen({ name: 'arm', host: options.host, port: options.port, tls: options.tls, router, fallback: unknownRoute, log: options.log });
  origin = server.origin;
  return {
    server,
    aks,
    azureml,
    acr,
    writes,
    close: async () => {
      acr.stop();
      await server.close();
    },
  };
}
