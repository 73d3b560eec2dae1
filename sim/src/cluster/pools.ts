import type { V1Node, V1Taint } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };

/** Region whose labels every simulated node carries. */
export const simRegion = 'switzerlandnorth';

export interface NodePoolSpec {
  /** Agent pool name, as in `kubernetes.azure.com/agentpool`; lower-case letters and digits, at most 12. */
  name: string;
  mode: 'System' | 'User';
  /** Azure VM size, for example Standard_NC4as_T4_v3. */
  vmSize: string;
  priority: 'Regular' | 'Spot';
  /** Node count at start-up. */
  count: number;
  /** Capacity of one node; allocatable is what is left after the AKS reservations below. */
  cpu: number;
  memoryGi: number;
  gpu: number;
  /** Availability zones the nodes spread over, as numbers (1, 2, 3). */
  zones: number[];
  /** Taints besides the spot taint, which a Spot pool always gets. */
  taints: V1Taint[];
}

/** Taint AKS users put on GPU pools so that only pods that ask for GPUs land there. */
export const gpuTaint: V1Taint = { key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' };
/** Taint AKS puts on every node of a Spot pool. */
export const spotTaint: V1Taint = { key: 'kubernetes.azure.com/scalesetpriority', value: 'spot', effect: 'NoSchedule' };

/**
 * Default pools: a system pool, a regular GPU pool and a Spot GPU pool. The
 * GPU size is Standard_NC4as_T4_v3 (4 vCPU, 28 GiB, one T4), a current AKS GPU
 * size; the NCv3 sizes were retired in September 2025.
 */
export function defaultNodePools(): NodePoolSpec[] {
  return [
    { name: 'system', mode: 'System', vmSize: 'Standard_D4ds_v5', priority: 'Regular', count: 1, cpu: 4, memoryGi: 16, gpu: 0, zones: [1, 2, 3], taints: [] },
    { name: 'gpu', mode: 'User', vmSize: 'Standard_NC4as_T4_v3', priority: 'Regular', count: 2, cpu: 4, memoryGi: 28, gpu: 1, zones: [1, 2, 3], taints: [gpuTaint] },
    { name: 'gpuspot', mode: 'User', vmSize: 'Standard_NC4as_T4_v3', priority: 'Spot', count: 2, cpu: 4, memoryGi: 28, gpu: 1, zones: [1, 2, 3], taints: [gpuTaint] },
  ];
}

/** Label that names a node's pool; sim selects a pool's nodes by it. */
export const agentPoolLabel = 'kubernetes.azure.com/agentpool';

/**
 * Node name as AKS forms it for a VM scale set instance:
 * `aks-<pool>-<8 digits>-vmss<instance id in base 36, 6 characters>`.
 */
export function nodeName(pool: string, index: number, clusterId = '31415926'): string {
  return `aks-${pool}-${clusterId}-vmss${index.toString(36).padStart(6, '0')}`;
}

/** Index of a node within its pool, read back from its name; undefined for other names. */
export function nodeIndex(name: string): number | undefined {
  const match = /-vmss([0-9a-z]{6})$/.exec(name);
  return match?.[1] ? parseInt(match[1], 36) : undefined;
}

export interface NodeIdentity {
  /** Eight digits in node names; AKS derives it from the cluster. */
  clusterId: string;
  subscriptionId: string;
  /** Resource group that contains the scale sets, `MC_<rg>_<cluster>_<region>` on AKS. */
  nodeResourceGroup: string;
}

export const defaultNodeIdentity: NodeIdentity = {
  clusterId: '31415926',
  subscriptionId: '00000000-0000-0000-0000-000000000000',
  // Matches the resource group and cluster that the AKS simulator serves by default.
  nodeResourceGroup: `MC_aks-rg_aks-inference_${simRegion}`,
};

/**
 * Builds the Node object of instance `index` of `pool` with the labels, taints,
 * provider id and capacity that AKS gives such a node. kwok keeps the
 * capacity and allocatable given here when it initialises the node.
 */
export function nodeManifest(pool: NodePoolSpec, index: number, identity: NodeIdentity = defaultNodeIdentity): V1Node {
  const name = nodeName(pool.name, index, identity.clusterId);
  const zone = pool.zones.length > 0 ? `${simRegion}-${pool.zones[index % pool.zones.length]}` : '0';
  const scaleSet = `aks-${pool.name}-${identity.clusterId}-vmss`;
  const labels: Record<string, string> = {
    'kubernetes.io/hostname': name,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    'kubernetes.io/role': 'agent',
    'node.kubernetes.io/instance-type': pool.vmSize,
    'beta.kubernetes.io/instance-type': pool.vmSize,
    'topology.kubernetes.io/region': simRegion,
    'topology.kubernetes.io/zone': zone,
    'failure-domain.beta.kubernetes.io/region': simRegion,
    'failure-domain.beta.kubernetes.io/zone': zone,
    agentpool: pool.name,
    [agentPoolLabel]: pool.name,
    'kubernetes.azure.com/mode': pool.mode.toLowerCase(),
    'kubernetes.azure.com/role': 'agent',
    'kubernetes.azure.com/os-sku': 'Ubuntu',
    'kubernetes.azure.com/cluster': identity.nodeResourceGroup,
    type: 'kwok',
  };
  if (pool.gpu > 0) labels['kubernetes.azure.com/accelerator'] = 'nvidia';
  if (pool.priority === 'Spot') labels['kubernetes.azure.com/scalesetpriority'] = 'spot';

  const taints = pool.priority === 'Spot' ? [...pool.taints, spotTaint] : [...pool.taints];
  const capacity: Record<string, string> = { cpu: String(pool.cpu), memory: `${pool.memoryGi}Gi`, pods: '110', 'ephemeral-storage': '128Gi' };
  // AKS reserves CPU and memory for the kubelet and system daemons; these are
  // round figures of that reservation, not the exact AKS formula.
  const allocatable: Record<string, string> = {
    cpu: `${pool.cpu * 1000 - 140 - pool.cpu * 10}m`,
    memory: `${Math.floor(pool.memoryGi * 1024 * 0.85)}Mi`,
    pods: '110',
    'ephemeral-storage': '118Gi',
  };
  if (pool.gpu > 0) {
    capacity['nvidia.com/gpu'] = String(pool.gpu);
    allocatable['nvidia.com/gpu'] = String(pool.gpu);
  }

  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
    },
    spec: {
      providerID: `azure:///subscriptions/${identity.subscriptionId}/resourceGroups/${identity.nodeResourceGroup.toLowerCase()}/providers/Microsoft.Compute/virtualMachineScaleSets/${scaleSet}/virtualMachines/${index}`,
      taints: taints.length > 0 ? taints : undefined,
    },
    status: {
      capacity,
      allocatable,
      // kwok fills the versions it leaves out here with its own.
      nodeInfo: { architecture: 'amd64', operatingSystem: 'linux', osImage: 'Ubuntu 22.04.5 LTS' } as NonNullable<V1Node['status']>['nodeInfo'],
    },
  };
}
