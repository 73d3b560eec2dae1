import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { parse } from 'yaml';

import { consoleLogger, errorText, type Logger } from '../../../src/observability/log';
import { delay, freeLoopbackPorts, run, waitFor } from '../support';
import { ensureBinaries, type SimBinaries } from './binaries';
import { kubeClients, type KubeClients } from './kube';
import { kwokConfigYaml } from './kwokConfig';
import { scaleNodePool, type ScaleResult } from './nodePools';
import { defaultNodeIdentity, defaultNodePools, type NodeIdentity, type NodePoolSpec } from './pools';
import { applyBaseObjects, installGatewayApiCrds } from './resources';

export interface ClusterOptions {
  /** sim state directory; the cluster lives in `<stateDir>/kwok` and its kubeconfig in `<stateDir>/kubeconfig`. */
  stateDir: string;
  /** kwokctl cluster name. */
  name?: string;
  binaries?: SimBinaries;
  pools?: NodePoolSpec[];
  identity?: NodeIdentity;
  /** Delay before a scheduled pod turns Running and Ready, in milliseconds; default 2000. */
  podReadyDelayMs?: number;
  /** Random extra pod-ready delay, 0 to this many milliseconds; default 0. */
  podReadyJitterMs?: number;
  logger?: Logger;
  /** Receives progress lines of a binary build and of cluster start-up. */
  onProgress?: (line: string) => void;
}

/** A running kwok cluster. */
export interface SimCluster {
  name: string;
  /** KWOK_WORKDIR of this cluster. */
  workdir: string;
  kubeconfigPath: string;
  /** https URL of kube-apiserver on 127.0.0.1. */
  server: string;
  pools: NodePoolSpec[];
  /** Scales an agent pool, adding or removing kwok nodes; throws for an unknown pool. */
  scaleNodePool(pool: string, count: number): Promise<ScaleResult>;
  /** Deletes the cluster and stops every process of it. Safe to call twice. */
  stop(): Promise<void>;
}

/** kwokctl cluster name; the AKS simulator serves a managed cluster of the same name. */
export const defaultClusterName = 'aks-inference';

/**
 * Starts a kwok cluster with kwokctl's binary runtime on 127.0.0.1, from
 * cached local binaries only, with its own work directory and kubeconfig.
 * It installs the Gateway API CRDs and base objects, creates the node pools
 * and waits until every node is Ready. kwokctl picks free ports, so two
 * clusters on one machine do not collide.
 */
export async function startCluster(options: ClusterOptions): Promise<SimCluster> {
  const logger = options.logger ?? consoleLogger({ component: 'sim-cluster' });
  const progress = options.onProgress ?? (() => undefined);
  const name = options.name ?? defaultClusterName;
  const workdir = join(options.stateDir, 'kwok');
  const kubeconfigPath = join(options.stateDir, 'kubeconfig');
  const pools = options.pools ?? defaultNodePools();
  const identity = options.identity ?? defaultNodeIdentity;
  mkdirSync(workdir, { recursive: true });

  const binaries = options.binaries ?? (await ensureBinaries({ onProgress: progress }));
  const env = kwokctlEnv(workdir, binaries.binDir);
  await deleteLeftoverCluster(name, workdir, env, logger);

  const configPath = join(workdir, 'kwok.yaml');
  const [etcdPort = 0, etcdPeerPort = 0, kubeApiserverPort = 0, kubeControllerManagerPort = 0, kubeSchedulerPort = 0, kwokControllerPort = 0] = await freeLoopbackPorts(6);
  const ports = { etcdPort, etcdPeerPort, kubeApiserverPort, kubeControllerManagerPort, kubeSchedulerPort, kwokControllerPort };
  writeFileSync(configPath, kwokConfigYaml({ binaries, podReadyDelayMs: options.podReadyDelayMs ?? 2000, podReadyJitterMs: options.podReadyJitterMs ?? 0, ports }));

  const started = Date.now();
  progress(`sim cluster: starting ${name} (kwokctl binary runtime, workdir ${workdir})`);
  await run(join(binaries.binDir, 'kwokctl'), ['create', 'cluster', '--name', name, '--config', configPath, '--kubeconfig', kubeconfigPath, '--timeout', '3m', '--wait', '2m'], {
    env,
    onStderrLine: (line) => logger.debug('kwokctl output', { line }),
    timeoutMs: 4 * 60_000,
  }).catch(async (error: unknown) => {
    await stopCluster(name, binaries.binDir, env, logger);
    throw new Error(`kwokctl could not create cluster ${name}; its components log to ${join(workdir, 'clusters', name, 'logs')}`, { cause: error });
  });

  progress(`sim cluster: control plane up in ${seconds(started)} s`);

  const cluster = await prepareCluster({ name, workdir, kubeconfigPath, pools, identity, binaries, env, logger, progress }).catch(async (error: unknown) => {
    await stopCluster(name, binaries.binDir, env, logger);
    throw error;
  });
  progress(`sim cluster: ${name} ready at ${cluster.server} in ${seconds(started)} s`);
  return cluster;
}

interface PrepareInput {
  name: string;
  workdir: string;
  kubeconfigPath: string;
  pools: NodePoolSpec[];
  identity: NodeIdentity;
  binaries: SimBinaries;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  progress: (line: string) => void;
}

async function prepareCluster(input: PrepareInput): Promise<SimCluster> {
  const server = serverOf(input.kubeconfigPath);
  const clients = await kubeClients(input.kubeconfigPath);

  const crdsStarted = Date.now();
  const crds = await installGatewayApiCrds(clients, input.binaries.assetsDir);
  input.progress(`sim cluster: installed ${crds.length} Gateway API CRDs in ${seconds(crdsStarted)} s`);
  await applyBaseObjects(clients);

  const nodesStarted = Date.now();
  for (const pool of input.pools) await scaleNodePool(clients, pool, pool.count, { identity: input.identity, logger: input.logger });
  const expected = input.pools.reduce((sum, pool) => sum + pool.count, 0);
  await waitForReadyNodes(clients, expected);
  input.progress(`sim cluster: ${expected} nodes Ready in ${seconds(nodesStarted)} s, pools ${input.pools.map((pool) => `${pool.name}=${pool.count}`).join(', ')}`);

  let stopped = false;
  return {
    name: input.name,
    workdir: input.workdir,
    kubeconfigPath: input.kubeconfigPath,
    server,
    pools: input.pools,
    scaleNodePool: async (poolName, count) => {
      const pool = input.pools.find((candidate) => candidate.name === poolName);
      if (!pool) throw new Error(`unknown node pool ${poolName}; sim has pools ${input.pools.map((candidate) => candidate.name).join(', ')}`);
      return scaleNodePool(clients, pool, count, { identity: input.identity, logger: input.logger });
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopCluster(input.name, input.binaries.binDir, input.env, input.logger);
    },
  };
}

async function waitForReadyNodes(clients: KubeClients, expected: number): Promise<void> {
  await waitFor(`${expected} Ready nodes`, async () => {
    const nodes = await clients.core.listNode();
    const ready = nodes.items.filter((node) => node.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True'));
    return ready.length >= expected ? true : undefined;
  }, { timeoutMs: 60_000, intervalMs: 250 });
}

/** Environment for kwokctl: this cluster's work directory, the cached binaries first on PATH, and no KWOK_* setting of the user's. */
function kwokctlEnv(workdir: string, binDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('KWOK_')) env[key] = value;
  env.KWOK_WORKDIR = workdir;
  env.PATH = `${binDir}:${process.env.PATH ?? ''}`;
  return env;
}

async function deleteLeftoverCluster(name: string, workdir: string, env: NodeJS.ProcessEnv, logger: Logger): Promise<void> {
  if (!existsSync(join(workdir, 'clusters', name))) return;
  logger.warn('deleting a cluster left by an earlier run', { cluster: name, workdir });
  const binDir = (env.PATH ?? '').split(':')[0] ?? '';
  await stopCluster(name, binDir, env, logger);
}

/**
 * Deletes the cluster with kwokctl, then waits until its component processes
 * have exited: kwokctl signals them and returns without waiting. A component
 * still running after 20 s gets SIGKILL.
 */
async function stopCluster(name: string, binDir: string, env: NodeJS.ProcessEnv, logger: Logger): Promise<void> {
  const pids = componentPids(join(env.KWOK_WORKDIR ?? '', 'clusters', name, 'pids'));
  try {
    await run(join(binDir, 'kwokctl'), ['delete', 'cluster', '--name', name], { env, timeoutMs: 60_000 });
  } catch (error) {
    logger.error('cannot delete cluster; killing its processes', { cluster: name, error: errorText(error) });
    for (const pid of pids.filter(isAlive)) killQuietly(pid);
    throw error;
  }

  const deadline = Date.now() + 20_000;
  while (pids.some(isAlive) && Date.now() < deadline) await delay(100);
  const stuck = pids.filter(isAlive);
  if (stuck.length > 0) {
    logger.warn('cluster processes outlived kwokctl delete; killing them', { cluster: name, pids: stuck });
    for (const pid of stuck) killQuietly(pid);
  }
  logger.info('cluster deleted', { cluster: name });
}

function componentPids(dir: string): number[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((file) => Number.parseInt(readFileSync(join(dir, file), 'utf8').trim(), 10))
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // It exited between the check and the signal.
  }
}

/** True while a process exists and is not a zombie. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function serverOf(kubeconfigPath: string): string {
  const config = parse(readFileSync(kubeconfigPath, 'utf8')) as { clusters?: { cluster?: { server?: string } }[] };
  const server = config.clusters?.[0]?.cluster?.server;
  if (!server) throw new Error(`kubeconfig ${kubeconfigPath} names no cluster server`);
  return server;
}

function seconds(since: number): string {
  return ((Date.now() - since) / 1000).toFixed(1);
}
