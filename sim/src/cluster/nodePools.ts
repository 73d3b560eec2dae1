import type * as k8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };

import { consoleLogger, errorText, type Logger } from '../../../src/observability/log';
import { delay } from '../support';
import { apiStatus, type KubeClients } from './kube';
import { agentPoolLabel, defaultNodeIdentity, nodeIndex, nodeManifest, type NodeIdentity, type NodePoolSpec } from './pools';

export interface ScaleResult {
  pool: string;
  added: string[];
  removed: string[];
  count: number;
}

export interface ScaleOptions {
  identity?: NodeIdentity;
  logger?: Logger;
  /** How long a scale-down keeps retrying evictions that a PodDisruptionBudget blocks, in milliseconds. */
  drainTimeoutMs?: number;
}

/** Lists the nodes of one agent pool, ordered by instance index. */
export async function poolNodes(clients: KubeClients, pool: string): Promise<k8s.V1Node[]> {
  const list = await clients.core.listNode({ labelSelector: `${agentPoolLabel}=${pool}` });
  return list.items.sort((a, b) => (nodeIndex(a.metadata?.name ?? '') ?? 0) - (nodeIndex(b.metadata?.name ?? '') ?? 0));
}

/**
 * Scales an agent pool to `count` kwok nodes. Scale-up creates the lowest free
 * instance indexes. Scale-down removes the highest indexes as the AKS
 * autoscaler does: cordon, evict every pod through the Eviction API (so
 * PodDisruptionBudgets apply) until `drainTimeoutMs`, then delete the node.
 */
export async function scaleNodePool(clients: KubeClients, pool: NodePoolSpec, count: number, options: ScaleOptions = {}): Promise<ScaleResult> {
  if (!Number.isInteger(count) || count < 0 || count > 1000) {
    throw new Error(`invalid node count ${count} for pool ${pool.name}: expected an integer from 0 to 1000`);
  }
  const logger = options.logger ?? consoleLogger({ component: 'sim-cluster' });
  const identity = options.identity ?? defaultNodeIdentity;
  const existing = await poolNodes(clients, pool.name);
  const used = new Set(existing.map((node) => nodeIndex(node.metadata?.name ?? '')));

  const added: string[] = [];
  for (let index = 0; added.length + existing.length < count; index++) {
    if (used.has(index)) continue;
    const node = nodeManifest(pool, index, identity);
    await createNode(clients, node);
    added.push(node.metadata?.name ?? '');
  }

  const removed: string[] = [];
  for (const node of existing.slice(count).reverse()) {
    const name = node.metadata?.name ?? '';
    await drainNode(clients, name, { logger, timeoutMs: options.drainTimeoutMs ?? 30_000 });
    await clients.core.deleteNode({ name }).catch((error: unknown) => {
      if (apiStatus(error) !== 404) throw error;
    });
    removed.push(name);
  }

  const result = { pool: pool.name, added, removed, count: existing.length + added.length - removed.length };
  logger.info('node pool scaled', { pool: pool.name, count: result.count, added: added.length, removed: removed.length });
  return result;
}

async function createNode(clients: KubeClients, node: k8s.V1Node): Promise<void> {
  try {
    // Create keeps status.capacity on a Node; kwok then fills conditions.
    await clients.core.createNode({ body: node, fieldManager: 'aks-mlops-sim' });
  } catch (error) {
    if (apiStatus(error) !== 409) {
      throw new Error(`cannot create node ${node.metadata?.name ?? ''}: ${errorText(error)}`, { cause: error });
    }
  }
}

/** Cordons a node and evicts its pods, retrying evictions that a PodDisruptionBudget blocks (HTTP 429) until the timeout. */
export async function drainNode(clients: KubeClients, name: string, options: { logger: Logger; timeoutMs: number }): Promise<void> {
  await clients.core.patchNode(
    { name, body: { spec: { unschedulable: true } } },
    clients.module.setHeaderOptions('Content-Type', clients.module.PatchStrategy.MergePatch),
  );
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const pods = await clients.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${name}` });
    const evictable = pods.items.filter((pod) => !pod.metadata?.deletionTimestamp && !isDaemonSetPod(pod));
    if (evictable.length === 0) return;

    const blocked = await evictPods(clients, evictable);
    if (blocked === 0) continue;
    if (Date.now() >= deadline) {
      options.logger.warn('drain timed out; deleting the node with pods that a PodDisruptionBudget protects', { nodeName: name, reason: `${blocked} evictions blocked` });
      return;
    }
    await delay(1000);
  }
}

async function evictPods(clients: KubeClients, pods: k8s.V1Pod[]): Promise<number> {
  let blocked = 0;
  for (const pod of pods) {
    const name = pod.metadata?.name ?? '';
    const namespace = pod.metadata?.namespace ?? 'default';
    try {
      await clients.core.createNamespacedPodEviction({ name, namespace, body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } } });
    } catch (error) {
      const status = apiStatus(error);
      if (status === 429) blocked++;
      else if (status !== 404) throw new Error(`cannot evict pod ${namespace}/${name}: ${errorText(error)}`, { cause: error });
    }
  }
  return blocked;
}

function isDaemonSetPod(pod: k8s.V1Pod): boolean {
  return pod.metadata?.ownerReferences?.some((owner) => owner.kind === 'DaemonSet') ?? false;
}
