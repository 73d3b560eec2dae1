import { kubeClients } from './kube';
import { scaleNodePool as scalePool, type ScaleOptions, type ScaleResult } from './nodePools';
import { defaultNodePools, type NodePoolSpec } from './pools';

export { ensureBinaries, pinnedKubeVersion, type SimBinaries } from './binaries';
export { defaultClusterName, startCluster, type ClusterOptions, type SimCluster } from './cluster';
export { apiStatus, applyObject, kubeClients, simFieldManager, type KubeClients } from './kube';
export { podReadyDelayAnnotation } from './kwokConfig';
export { drainNode, poolNodes, type ScaleOptions, type ScaleResult } from './nodePools';
export {
  agentPoolLabel,
  defaultNodeIdentity,
  defaultNodePools,
  gpuTaint,
  nodeIndex,
  nodeManifest,
  nodeName,
  simRegion,
  spotTaint,
  type NodeIdentity,
  type NodePoolSpec,
} from './pools';
export { inferenceGateway, modelsNamespace, simGatewayClass } from './resources';

/**
 * Scales an agent pool of the cluster behind `kubeconfigPath` to `count` kwok
 * nodes. Throws for a pool that `pools` does not define.
 */
export async function scaleNodePool(kubeconfigPath: string, pool: string, count: number, options: ScaleOptions & { pools?: NodePoolSpec[] } = {}): Promise<ScaleResult> {
  const pools = options.pools ?? defaultNodePools();
  const spec = pools.find((candidate) => candidate.name === pool);
  if (!spec) throw new Error(`unknown node pool ${pool}; sim has pools ${pools.map((candidate) => candidate.name).join(', ')}`);
  return scalePool(await kubeClients(kubeconfigPath), spec, count, options);
}
