import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { consoleLogger, errorText, type Logger } from '../../src/observability/log';
import { startAzureSimulators, type AgentPoolSeed, type AzureSimulators } from './azure';
import { ensureBinaries, startCluster, type NodePoolSpec, type SimCluster } from './cluster';
import { defaultNodePools } from './cluster/pools';
import type { SimEndpoints } from './endpoints';
import { startPrometheus, type SimPrometheus } from './prometheus';
import { resolveStateDir } from './support';
import { startTraffic, type SimTraffic } from './traffic';

export interface SimOptions {
  /** Default: SIM_STATE_DIR, else `.sim` in the repository. */
  stateDir?: string;
  pools?: NodePoolSpec[];
  /** Delay before a scheduled pod turns Ready, in milliseconds; default 2000. */
  podReadyDelayMs?: number;
  /** Requests per second per endpoint that the traffic generator plays; default 20. */
  requestsPerSecond?: number;
  scrapeIntervalSeconds?: number;
  /** Start the Azure simulators (ARM, identity, IMDS, ACR); default true. */
  azure?: boolean;
  /** Write `<stateDir>/endpoints.json`; default true. */
  writeEndpointsFile?: boolean;
  logger?: Logger;
  onProgress?: (line: string) => void;
}

/** A running sim in this process. */
export interface RunningSim {
  stateDir: string;
  endpoints: SimEndpoints;
  cluster: SimCluster;
  traffic: SimTraffic;
  prometheus: SimPrometheus;
  azure?: AzureSimulators;
  /** Stops every part in reverse start order and removes endpoints.json; safe to call twice. */
  stop(): Promise<void>;
}

let current: RunningSim | undefined;

/**
 * Starts the whole sim in this process: cluster, traffic generator,
 * Prometheus and the Azure simulators, and writes endpoints.json. A part
 * that fails to start stops the parts started before it.
 */
export async function startSim(options: SimOptions = {}): Promise<RunningSim> {
  const stateDir = resolveStateDir(options.stateDir);
  const logger = options.logger ?? consoleLogger({ component: 'sim' });
  const progress = options.onProgress ?? ((line: string) => logger.info(line));
  const pools = options.pools ?? defaultNodePools();
  mkdirSync(stateDir, { recursive: true });

  const stops: (() => Promise<void>)[] = [];
  try {
    const binaries = await ensureBinaries({ onProgress: progress });
    const cluster = await startCluster({ stateDir, pools, binaries, podReadyDelayMs: options.podReadyDelayMs, logger, onProgress: progress });
    stops.push(() => cluster.stop());

    const traffic = await startTraffic({ kubeconfigPath: cluster.kubeconfigPath, requestsPerSecond: options.requestsPerSecond, logger });
    stops.push(() => traffic.stop());
    progress(`sim traffic: generator at ${traffic.url}`);

    const prometheus = await startPrometheus({ stateDir, targets: [new URL(traffic.url).host], scrapeIntervalSeconds: options.scrapeIntervalSeconds, logger });
    stops.push(() => prometheus.stop());
    writeFileSync(join(stateDir, 'prometheus', 'pid'), `${prometheus.pid}\n`);
    progress(`sim prometheus: ${prometheus.url}`);

    const azure = options.azure === false ? undefined : await startAzure(stateDir, cluster, binaries.kubeVersion, logger);
    if (azure) {
      stops.push(() => azure.stop());
      progress(`sim azure: ARM ${azure.arm.endpoint}, identity ${azure.identity.endpoint}, IMDS ${azure.imds.endpoint}`);
    }

    const endpoints = endpointsOf({ stateDir, cluster, traffic, prometheus, azure });
    if (options.writeEndpointsFile !== false) writeEndpoints(stateDir, endpoints);
    const sim: RunningSim = { stateDir, endpoints, cluster, traffic, prometheus, ...(azure ? { azure } : {}), stop: once(() => stopParts(stateDir, stops, logger)) };
    current = sim;
    return sim;
  } catch (error) {
    await stopParts(stateDir, stops, logger);
    throw error;
  }
}

/** Stops the sim that startSim started last in this process; does nothing when none runs. */
export async function stopSim(): Promise<void> {
  const sim = current;
  current = undefined;
  await sim?.stop();
}

async function startAzure(stateDir: string, cluster: SimCluster, kubeVersion: string, logger: Logger): Promise<AzureSimulators> {
  return startAzureSimulators({
    stateDir: join(stateDir, 'azure'),
    kubeconfigPath: cluster.kubeconfigPath,
    // Scaling an agent pool through ARM adds or removes kwok nodes of that pool.
    onAgentPoolScaled: async (pool, count) => {
      await cluster.scaleNodePool(pool, count);
    },
    seed: { aks: { clusterName: cluster.name, kubernetesVersion: kubeVersion.replace(/^v/, ''), agentPools: cluster.pools.map(agentPoolSeed) } },
    log: logger.with({ component: 'sim-azure' }),
  });
}

function agentPoolSeed(pool: NodePoolSpec): AgentPoolSeed {
  const spot = pool.priority === 'Spot';
  const taints = pool.taints.map((taint) => `${taint.key}=${taint.value ?? ''}:${taint.effect}`);
  const labels: Record<string, string> = {};
  if (pool.gpu > 0) labels['kubernetes.azure.com/accelerator'] = 'nvidia';
  if (spot) labels['kubernetes.azure.com/scalesetpriority'] = 'spot';
  return {
    name: pool.name,
    vmSize: pool.vmSize,
    count: pool.count,
    mode: pool.mode,
    scaleSetPriority: pool.priority,
    nodeLabels: labels,
    nodeTaints: spot ? [...taints, 'kubernetes.azure.com/scalesetpriority=spot:NoSchedule'] : taints,
  };
}

interface Parts {
  stateDir: string;
  cluster: SimCluster;
  traffic: SimTraffic;
  prometheus: SimPrometheus;
  azure: AzureSimulators | undefined;
}

function endpointsOf(parts: Parts): SimEndpoints {
  const base = {
    schemaVersion: 1 as const,
    pid: process.pid,
    startedAt: new Date().toISOString(),
    stateDir: parts.stateDir,
    kubernetes: { kubeconfigPath: parts.cluster.kubeconfigPath, server: parts.cluster.server, clusterName: parts.cluster.name },
    prometheus: { url: parts.prometheus.url },
    traffic: { url: parts.traffic.url },
  };
  const azure = parts.azure;
  // NOTE: without the Azure simulators the file leaves their fields out, so it
  // does not satisfy SimEndpoints fully; appSettingsFromSim needs them.
  if (!azure) return base as SimEndpoints;
  return {
    ...base,
    caCertPath: azure.caCertPath,
    identity: azure.identity,
    arm: azure.arm,
    aks: azure.aks,
    azureml: azure.azureml,
    acr: azure.acr,
    imds: azure.imds,
    azureControl: azure.control,
  };
}

/** Writes endpoints.json through a temporary file, so a reader never sees half of it. */
export function writeEndpoints(stateDir: string, endpoints: SimEndpoints): void {
  const path = join(stateDir, 'endpoints.json');
  writeFileSync(`${path}.tmp`, `${JSON.stringify(endpoints, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

async function stopParts(stateDir: string, stops: (() => Promise<void>)[], logger: Logger): Promise<void> {
  const failures: string[] = [];
  for (const stop of [...stops].reverse()) {
    try {
      await stop();
    } catch (error) {
      failures.push(errorText(error));
      logger.error('cannot stop a sim part; continuing with the others', { error: errorText(error) });
    }
  }
  rmSync(join(stateDir, 'endpoints.json'), { force: true });
  rmSync(join(stateDir, 'prometheus', 'pid'), { force: true });
  if (failures.length > 0) throw new Error(`sim stopped with ${failures.length} failures: ${failures.join('; ')}`);
}

function once(action: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= action());
}
