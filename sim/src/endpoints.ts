import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * File in which sim publishes, for the app, devhost and tests, where every
 * server listens. `npm run sim:up` writes it to `<SIM_STATE_DIR>/endpoints.json`
 * (default `.sim/endpoints.json` in the repository) and `sim:down` removes it.
 * Every URL is on loopback.
 */
export interface SimEndpoints {
  schemaVersion: 1;
  /** PID of the sim supervisor process; sim:down signals it. */
  pid: number;
  startedAt: string;
  /** PEM file of the self-signed CA that signs every sim HTTPS server; pass it as NODE_EXTRA_CA_CERTS. */
  caCertPath: string;
  kubernetes: {
    /** Kubeconfig of the kwok cluster; never the user's ~/.kube/config. */
    kubeconfigPath: string;
    server: string;
    clusterName: string;
  };
  /** App Service style managed-identity endpoint for DefaultAzureCredential. */
  identity: { endpoint: string; header: string };
  /** One HTTPS server that answers ARM for AKS, Azure ML and ACR management calls. */
  arm: { endpoint: string; subscriptionId: string };
  aks: { resourceGroup: string; clusterName: string };
  azureml: { resourceGroup: string; workspace: string; region: string };
  acr: { resourceGroup: string; name: string; loginServer: string; endpoint: string };
  /** IMDS stand-in; scheduled events live under /metadata/scheduledevents. */
  imds: { endpoint: string };
  prometheus: { url: string };
  /** Traffic generator: metrics, and the control API that chooses scenarios per deployment. */
  traffic: { url: string };
  /** Plain-HTTP control API of the Azure simulators (inject builds, models, scheduled events). */
  azureControl?: { url: string };
  /** Absolute state directory of this sim run. */
  stateDir?: string;
}

/** Default state directory of sim, relative to the repository root. */
export const defaultSimStateDir = '.sim';

/** Reads the endpoints file of a running sim; throws with the fix when sim is not up. */
export function readSimEndpoints(stateDir = process.env.SIM_STATE_DIR ?? defaultSimStateDir): SimEndpoints {
  const path = join(stateDir, 'endpoints.json');
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as SimEndpoints;
  } catch (error) {
    throw new Error(`cannot read sim endpoints from ${path}: run "npm run sim:up" first`, { cause: error });
  }
}

/**
 * Maps sim endpoints to the app settings that point the real SDK clients at
 * sim. The app reads only these settings; it never reads the endpoints file.
 */
export function appSettingsFromSim(sim: SimEndpoints): Record<string, string> {
  return {
    NODE_EXTRA_CA_CERTS: sim.caCertPath,
    IDENTITY_ENDPOINT: sim.identity.endpoint,
    IDENTITY_HEADER: sim.identity.header,
    AZURE_SUBSCRIPTION_ID: sim.arm.subscriptionId,
    AZURE_RESOURCE_MANAGER_ENDPOINT: sim.arm.endpoint,
    AML_RESOURCE_GROUP: sim.azureml.resourceGroup,
    AML_WORKSPACE: sim.azureml.workspace,
    AKS_RESOURCE_GROUP: sim.aks.resourceGroup,
    AKS_CLUSTER_NAME: sim.aks.clusterName,
    KUBE_AUTH_MODE: 'kubeconfig',
    KUBECONFIG_PATH: sim.kubernetes.kubeconfigPath,
    ACR_NAME: sim.acr.name,
    ACR_RESOURCE_GROUP: sim.acr.resourceGroup,
    ACR_LOGIN_SERVER: sim.acr.loginServer,
    ACR_ENDPOINT: sim.acr.endpoint,
    PROMETHEUS_URL: sim.prometheus.url,
    PROMETHEUS_AUTH: 'none',
    IMDS_ENDPOINT: sim.imds.endpoint,
  };
}
