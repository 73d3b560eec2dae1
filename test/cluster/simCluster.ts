import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { clusterActivityHandlers } from '../../activities/clusterHandlers';
import type { RolloutState } from '../../activities/clusterContract';
import { KubeClient, loadKubeConfigFile } from '../../src/clients/kube';
import type { KubernetesObject } from '../../src/clients/kubeModule';
import type { ReleaseTarget } from '../../src/contracts/target';
import { Logger } from '../../src/observability/log';
import type { LogSink } from '../../src/observability/log';
import { ensureBinaries, startCluster } from '../../sim/src/cluster';
import type { SimCluster } from '../../sim/src/cluster';
import { run, waitFor } from '../../sim/src/support';

/** Log lines the activities wrote, kept for assertions and for reading after a failure. */
export class MemorySink implements LogSink {
  lines: string[] = [];
  debug(line: unknown): void { this.lines.push(String(line)); }
  info(line: unknown): void { this.lines.push(String(line)); }
  warn(line: unknown): void { this.lines.push(String(line)); }
  error(line: unknown): void { this.lines.push(String(line)); }
}

export interface ClusterFixture {
  cluster: SimCluster;
  kube: KubeClient;
  handlers: ReturnType<typeof clusterActivityHandlers>;
  sink: MemorySink;
  stop(): Promise<void>;
}

/**
 * Starts a kwok cluster from the cached sim binaries. Fails instead of
 * building them, because a cold build takes half an hour; run
 * `bash sim/scripts/build-binaries.sh` first.
 */
export async function startClusterFixture(name: string): Promise<ClusterFixture> {
  await run('bash', [join('sim', 'scripts', 'build-binaries.sh'), '--print-dir']).catch((error: unknown) => {
    throw new Error('sim binaries are not built: run `bash sim/scripts/build-binaries.sh` once, then rerun the cluster tests', { cause: error });
  });
  const binaries = await ensureBinaries();
  const stateDir = mkdtempSync(join(tmpdir(), `${name}-`));
  const cluster = await startCluster({ stateDir, name, binaries, podReadyDelayMs: 300 });
  const sink = new MemorySink();
  const kube = new KubeClient(loadKubeConfigFile(cluster.kubeconfigPath), { dryRun: false });
  const handlers = clusterActivityHandlers({ kube, log: new Logger(sink, {}, 'debug') });
  return {
    cluster,
    kube,
    handlers,
    sink,
    stop: async () => {
      await cluster.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** Polls checkRollout until `done` accepts the state; fails with the last state after 60 s. */
export async function waitForRollout(fixture: ClusterFixture, target: ReleaseTarget, track: 'canary' | 'stable', done: (state: RolloutState) => boolean): Promise<RolloutState> {
  let last: RolloutState | undefined;
  try {
    return await waitFor(`${track} rollout of ${target.namespace}`, async () => {
      last = await fixture.handlers.checkRollout({ target, track });
      return done(last) ? last : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });
  } catch (error) {
    throw new Error(`${(error as Error).message}; last state ${JSON.stringify(last)}`, { cause: error });
  }
}

/**
 * Reads the desired state of every object the pipeline writes in a
 * namespace: spec, labels and annotations by kind and name. Status and
 * resourceVersion are left out because controllers change them on their own.
 */
export async function namespaceState(kube: KubeClient, namespace: string): Promise<Record<string, string>> {
  const kinds = [
    { apiVersion: 'apps/v1', kind: 'Deployment' },
    { apiVersion: 'v1', kind: 'Service' },
    { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' },
    { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' },
  ];
  const state: Record<string, string> = {};
  for (const kind of kinds) {
    const items = await kube.list<KubernetesObject & { spec?: unknown }>({ ...kind, namespace });
    for (const item of items) {
      // The Deployment controller writes its revision annotation after a rollout, on its own schedule.
      const annotations = Object.fromEntries(Object.entries(item.metadata?.annotations ?? {}).filter(([key]) => !key.startsWith('deployment.kubernetes.io/')));
      state[`${kind.kind}/${item.metadata?.name ?? ''}`] = JSON.stringify({ spec: item.spec, labels: item.metadata?.labels, annotations, generation: item.metadata?.generation });
    }
  }
  return state;
}

/** Creates a namespace for one scenario. */
export async function createNamespace(kube: KubeClient, name: string): Promise<void> {
  await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}
