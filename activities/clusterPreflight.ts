import type { V1Node, V1Pod, V1Taint, V1Toleration } from '../src/clients/kubeModule';
import type { ReleaseTarget } from '../src/contracts/target';
import { gpuResource, tolerationsOf } from './clusterManifests';

/** Node labels that name the node pool: AKS first, then the older and the generic forms. */
const poolLabels = ['kubernetes.azure.com/agentpool', 'agentpool', 'node.kubernetes.io/instance-type'];

/** Returns the pool name of a node, for messages that name the pool to scale. */
export function poolOf(node: V1Node): string {
  const labels = node.metadata?.labels ?? {};
  for (const key of poolLabels) {
    const value = labels[key];
    if (value) return value;
  }
  return node.metadata?.name ?? 'unknown';
}

/** Parses a Kubernetes quantity of whole devices; fractional or suffixed GPU counts do not exist. */
function count(quantity: string | undefined): number {
  const value = Number(quantity ?? '0');
  return Number.isFinite(value) ? value : 0;
}

/** Reports whether one toleration tolerates one taint, by the rules of the Kubernetes scheduler. */
export function tolerates(toleration: V1Toleration, taint: V1Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.operator === 'Exists') return !toleration.key || toleration.key === taint.key;
  return toleration.key === taint.key && (toleration.value ?? '') === (taint.value ?? '');
}

function isReady(node: V1Node): boolean {
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Returns why the pods of `target` cannot run on `node`, or undefined when they can. */
export function nodeMismatch(node: V1Node, target: ReleaseTarget): string | undefined {
  if (node.spec?.unschedulable) return 'cordoned';
  if (!isReady(node)) return 'not Ready';
  const labels = node.metadata?.labels ?? {};
  for (const [key, value] of Object.entries(target.scheduling.nodeSelector)) {
    if (labels[key] !== value) return `label ${key}=${value} missing`;
  }
  const tolerations = tolerationsOf(target);
  for (const taint of node.spec?.taints ?? []) {
    if (taint.effect === 'PreferNoSchedule') continue;
    if (!tolerations.some((t) => tolerates(t, taint))) return `taint ${taint.key}=${taint.value ?? ''}:${taint.effect} not tolerated`;
  }
  if (!target.scheduling.allowSpot && labels['kubernetes.azure.com/scalesetpriority'] === 'spot') return 'spot node, and the policy does not allow spot';
  return undefined;
}

/** GPUs that running and pending pods have requested on each node, by node name. */
export function gpuRequestsByNode(pods: V1Pod[]): Map<string, number> {
  const used = new Map<string, number>();
  for (const pod of pods) {
    const nodeName = pod.spec?.nodeName;
    if (!nodeName || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
    const gpus = (pod.spec?.containers ?? []).reduce((sum, c) => sum + count(c.resources?.requests?.[gpuResource] ?? c.resources?.limits?.[gpuResource]), 0);
    if (gpus > 0) used.set(nodeName, (used.get(nodeName) ?? 0) + gpus);
  }
  return used;
}

/**
 * Checks whether the cluster can place `pods` pods of `target` that request
 * `target.resources.gpu` GPUs each. Returns every reason it cannot, each with
 * the fix: install the device plugin, fix selectors or tolerations, scale a
 * pool, or choose a larger VM size. Returns no reasons when no GPU is requested.
 */
export function gpuPlacementProblems(nodes: V1Node[], pods: V1Pod[], target: ReleaseTarget, podCount: number): string[] {
  const perPod = target.resources.gpu;
  if (perPod <= 0) return [];
  const gpuNodes = nodes.filter((n) => count(n.status?.capacity?.[gpuResource]) > 0);
  if (gpuNodes.length === 0) {
    return [`no node reports ${gpuResource} capacity: the NVIDIA device plugin is missing or no GPU node pool exists; add a GPU node pool (AKS installs the plugin with the GPU driver) or deploy the NVIDIA device plugin DaemonSet`];
  }

  const eligible = gpuNodes.filter((n) => nodeMismatch(n, target) === undefined);
  if (eligible.length === 0) {
    const examples = gpuNodes.slice(0, 3).map((n) => `${n.metadata?.name ?? '?'} (pool ${poolOf(n)}): ${nodeMismatch(n, target) ?? ''}`);
    return [`no GPU node accepts the pods of endpoint ${target.endpoint}: ${examples.join('; ')}. Fix scheduling.nodeSelector or scheduling.tolerations in the policy, or add a matching GPU pool`];
  }

  const used = gpuRequestsByNode(pods);
  const allocatable = (n: V1Node) => count(n.status?.allocatable?.[gpuResource]);
  const big = eligible.filter((n) => allocatable(n) >= perPod);
  if (big.length === 0) {
    const largest = Math.max(...eligible.map(allocatable));
    const pools = [...new Set(eligible.map(poolOf))].join(', ');
    return [`no node in pool ${pools} has ${perPod} allocatable ${gpuResource} (largest: ${largest}): lower resources.gpu or add a pool with a larger GPU VM size`];
  }

  const fits = big.reduce((sum, n) => sum + Math.floor(Math.max(allocatable(n) - (used.get(n.metadata?.name ?? '') ?? 0), 0) / perPod), 0);
  if (fits >= podCount) return [];
  const pools = [...new Set(big.map(poolOf))].sort();
  const free = big.map((n) => `${n.metadata?.name ?? '?'}: ${Math.max(allocatable(n) - (used.get(n.metadata?.name ?? '') ?? 0), 0)} free`).slice(0, 5).join(', ');
  const podsPerNode = Math.max(1, Math.floor(Math.max(...big.map(allocatable)) / perPod));
  const nodesNeeded = Math.ceil((podCount - fits) / podsPerNode);
  return [`GPU nodes have room for ${fits} of ${podCount} pods with ${perPod} ${gpuResource} each (${free}): scale node pool ${pools.join(' or ')} up by ${nodesNeeded} node(s)`];
}
