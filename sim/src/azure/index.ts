import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import { type Logger, consoleLogger } from '../../../src/observability/log';
import type { SimEndpoints } from '../endpoints';
import { type IdentityRequestRecord, startIdentitySimulator } from '../identity/server';
import { TokenAuthority } from '../identity/tokens';
import { ScheduledEventsStore, startImdsSimulator } from '../imds/scheduledEvents';
import { createSimCertificates } from '../tls/certificates';
import { startAcrDataPlane } from './acr/dataPlane';
import { type ImagePush, RegistryStore } from './acr/registry';
import { type AgentPoolSeed, type AksSeed, kubeconfigFromFile } from './arm/aks';
import type { AcrSeed, BuildOutcome, RunRecord } from './arm/containerRegistry';
import type { ArmWriteRecord } from './arm/guard';
import type { AzureMlSeed, ModelVersionInput } from './arm/machineLearning';
import { startArmSimulator } from './arm/server';
import { startControlApi } from './control';

export type { AgentPoolSeed, AksSeed, AcrSeed, AzureMlSeed, BuildOutcome, ImagePush, ModelVersionInput, RunRecord };
export type { EventInjection, ScheduledEvent, ScheduledEventsDocument } from '../imds/scheduledEvents';

/** Ports of each server; 0 or absent picks a free port, so two runs never collide. */
export interface AzureSimulatorPorts {
  identity?: number;
  arm?: number;
  acr?: number;
  imds?: number;
  control?: number;
}

/** Starting state; every field has a default that matches config/release-policy.local.yaml. */
export interface AzureSimulatorSeed {
  subscriptionId?: string;
  tenantId?: string;
  aks?: Partial<AksSeed>;
  azureml?: Partial<AzureMlSeed>;
  acr?: Partial<AcrSeed> & { images?: ImagePush[] };
  /** Entra ID audience of the registry data plane (ACR_AUDIENCE). */
  acrAudience?: string;
}

/** Options of {@link startAzureSimulators}. */
export interface AzureSimulatorOptions {
  /** Directory for the CA file and uploaded build contexts. */
  stateDir: string;
  /** Loopback address to listen on; 127.0.0.1 by default. */
  host?: string;
  ports?: AzureSimulatorPorts;
  /** Called when an agent pool's node count changes; the ARM operation completes when it resolves. */
  onAgentPoolScaled?: (pool: string, count: number) => Promise<void>;
  /** Kubeconfig that listClusterUserCredential returns; read at call time. */
  kubeconfigPath?: string;
  seed?: AzureSimulatorSeed;
  log?: Logger;
}

/** Endpoints of the running simulators, shaped like the matching fields of SimEndpoints. */
export interface AzureSimulators extends Pick<SimEndpoints, 'caCertPath' | 'identity' | 'arm' | 'aks' | 'azureml' | 'acr' | 'imds'> {
  /** Plain-HTTP control API; see sim/azure-README.md. */
  control: { url: string };
  /** In-process access to what the control API serves, for tests in the same process. */
  inspect: {
    armWrites(): ArmWriteRecord[];
    runs(): RunRecord[];
    identityRequests(): IdentityRequestRecord[];
    agentPoolCounts(): Record<string, number>;
    queueBuild(outcome: BuildOutcome): void;
    registerModel(input: ModelVersionInput): Record<string, unknown>;
  };
  /** Stops every server and timer; safe to call twice. */
  stop(): Promise<void>;
}

export const defaultSubscriptionId = '00000000-0000-0000-0000-000000000000';
const defaultTenantId = '11111111-1111-4111-8111-111111111111';
const region = 'switzerlandnorth';

/** Default node pools, named as the sim cluster names its kwok node pools. */
export const defaultAgentPools: AgentPoolSeed[] = [
  { name: 'system', vmSize: 'Standard_D4ds_v5', count: 1, mode: 'System' },
  {
    name: 'gpu',
    vmSize: 'Standard_NC4as_T4_v3',
    count: 1,
    mode: 'User',
    nodeLabels: { 'kubernetes.azure.com/accelerator': 'nvidia' },
    nodeTaints: ['nvidia.com/gpu=true:NoSchedule'],
  },
  {
    name: 'gpuspot',
    vmSize: 'Standard_NC4as_T4_v3',
    count: 1,
    mode: 'User',
    scaleSetPriority: 'Spot',
    nodeLabels: { 'kubernetes.azure.com/scalesetpriority': 'spot', 'kubernetes.azure.com/accelerator': 'nvidia' },
    nodeTaints: ['kubernetes.azure.com/scalesetpriority=spot:NoSchedule', 'nvidia.com/gpu=true:NoSchedule'],
  },
];

/** Images the registry starts with: the serving image of the local policy and the corpus ImagePushed image. */
export const defaultImages: ImagePush[] = [
  { repository: 'serving/mlserver', digest: 'sha256:c29d0892e72bbea11cad9f2098fdfab443033a54085b71cb4fd0f9570ca55571', tag: 'latest' },
  { repository: 'samples/nginx', digest: 'sha256:57a94fc99816c6aa225678b738ac40d85422e75dbb96115f1bb9b6ed77176166', tag: 'latest', size: 1153, mediaType: 'application/vnd.docker.distribution.manifest.v2+json' },
];

/**
 * Starts the Azure simulators (identity, ARM, registry data plane, IMDS and
 * the control API) on loopback with a fresh CA. These are simulators: they
 * speak the wire format of the real services to the real Azure SDK clients
 * and keep all state in memory.
 */
export async function startAzureSimulators(options: AzureSimulatorOptions): Promise<AzureSimulators> {
  const host = options.host ?? '127.0.0.1';
  const ports = options.ports ?? {};
  const log = options.log ?? consoleLogger({ source: 'sim-azure' });
  const seed = options.seed ?? {};
  const subscriptionId = seed.subscriptionId ?? defaultSubscriptionId;
  const aks: AksSeed = { resourceGroup: 'aks-rg', clusterName: 'aks-inference', location: region, kubernetesVersion: '1.34.8', agentPools: defaultAgentPools, ...seed.aks };
  const azureml: AzureMlSeed = { resourceGroup: 'ml-rg', workspace: 'ml-prod', region, models: [], ...seed.azureml };
  if (!seed.azureml?.models) azureml.models = [defaultModel(subscriptionId, azureml)];
  const acr: AcrSeed = { resourceGroup: 'acr-rg', name: 'contosocr', loginServer: 'contosocr.azurecr.io', location: region, ...seed.acr };

  await mkdir(options.stateDir, { recursive: true });
  const certificates = await createSimCertificates(join(options.stateDir, 'tls'));
  const tls = { cert: certificates.serverCertPem, key: certificates.serverKeyPem };
  const principal = { tenantId: seed.tenantId ?? defaultTenantId, clientId: '22222222-2222-4222-8222-222222222222', objectId: '33333333-3333-4333-8333-333333333333' };
  const authority = TokenAuthority.create(principal);
  const store = new RegistryStore(acr.loginServer);
  for (const image of seed.acr?.images ?? defaultImages) store.push(image);
  const events = new ScheduledEventsStore(log, aks.location);

  const stops: (() => Promise<void>)[] = [];
  try {
    const identity = await startIdentitySimulator({ host, port: ports.identity ?? 0, tls, authority, log });
    stops.push(() => identity.close());
    const arm = await startArmSimulator({
      host, port: ports.arm ?? 0, tls, subscriptionId, authority, stateDir: options.stateDir, aks, azureml, acr, store, log,
      ...(options.onAgentPoolScaled ? { onAgentPoolScaled: options.onAgentPoolScaled } : {}),
      ...(options.kubeconfigPath ? { kubeconfig: kubeconfigFromFile(options.kubeconfigPath) } : {}),
    });
    stops.push(() => arm.close());
    const dataPlane = await startAcrDataPlane({
      host, port: ports.acr ?? 0, tls, store, identity: authority,
      registryTokens: TokenAuthority.create(principal, 'Azure Container Registry'),
      audience: seed.acrAudience ?? 'https://containerregistry.azure.net', log,
    });
    stops.push(() => dataPlane.close());
    const imds = await startImdsSimulator({ host, port: ports.imds ?? 0, store: events, log });
    stops.push(async () => {
      events.stop();
      await imds.close();
    });
    const control = await startControlApi({ host, port: ports.control ?? 0, targets: { arm, store, events, identity, defaultWorkspace: azureml.workspace }, log });
    stops.push(() => control.close());

    let stopped = false;
    return {
      caCertPath: certificates.caCertPath,
      identity: { endpoint: identity.endpoint, header: identity.header },
      arm: { endpoint: arm.server.origin, subscriptionId },
      aks: { resourceGroup: aks.resourceGroup, clusterName: aks.clusterName },
      azureml: { resourceGroup: azureml.resourceGroup, workspace: azureml.workspace, region: azureml.region },
      acr: { resourceGroup: acr.resourceGroup, name: acr.name, loginServer: acr.loginServer, endpoint: dataPlane.origin },
      imds: { endpoint: imds.endpoint },
      control: { url: control.origin },
      inspect: {
        armWrites: () => arm.writes,
        runs: () => arm.acr.runRecords(),
        identityRequests: () => identity.requests,
        agentPoolCounts: () => arm.aks.poolCounts(),
        queueBuild: (outcome) => arm.acr.queueOutcome(outcome),
        registerModel: (input) => arm.azureml.register(input),
      },
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await stopAll(stops);
      },
    };
  } catch (error) {
    await stopAll(stops);
    throw new Error(`cannot start the Azure simulators on ${host}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

async function stopAll(stops: (() => Promise<void>)[]): Promise<void> {
  for (const stop of stops.reverse()) await stop();
}

/** Builds the model of the corpus ModelRegistered event, so that event resolves against the simulator. */
function defaultModel(subscriptionId: string, azureml: AzureMlSeed): ModelVersionInput {
  return {
    name: 'sklearn_regression_model',
    version: '20',
    tags: { area: 'diabetes', type: 'regression' },
    properties: { type: 'test' },
    modelUri: `azureml://subscriptions/${subscriptionId}/resourcegroups/${azureml.resourceGroup}/workspaces/${azureml.workspace}/datastores/workspaceblobstore/paths/models/sklearn_regression_model/20/`,
    region: azureml.region,
  };
}
