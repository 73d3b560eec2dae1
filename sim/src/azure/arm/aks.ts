import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';

import { type Parsed, type Router, type SimRequest, type SimResponse, armError, isRecord, isStringMap, parseJsonObject } from '../http';
import { type ArmGuardOptions, armGuard } from './guard';
import type { AsyncOperations } from './operations';

/** One AKS agent pool to start with. */
export interface AgentPoolSeed {
  name: string;
  vmSize: string;
  count: number;
  mode: 'System' | 'User';
  scaleSetPriority?: 'Regular' | 'Spot';
  nodeLabels?: Record<string, string>;
  /** Taints in AKS's string form `key=value:Effect`. */
  nodeTaints?: string[];
  enableAutoScaling?: boolean;
  minCount?: number;
  maxCount?: number;
}

/** The managed cluster the AKS simulator serves. */
export interface AksSeed {
  resourceGroup: string;
  clusterName: string;
  location: string;
  kubernetesVersion: string;
  agentPools: AgentPoolSeed[];
}

/** Options of the AKS resource provider. */
export interface AksOptions {
  guard: ArmGuardOptions;
  operations: AsyncOperations;
  origin: () => string;
  seed: AksSeed;
  /** Called when a write changes a pool's node count; the operation succeeds when it resolves. */
  onAgentPoolScaled?: (pool: string, count: number) => Promise<void>;
  /** Kubeconfig that listClusterUserCredential returns, read at call time (the cluster may start later). */
  kubeconfig?: () => Promise<string>;
}

interface PoolState {
  name: string;
  properties: Record<string, unknown>;
  operationId?: string;
}

interface ClusterState {
  resourceGroup: string;
  name: string;
  location: string;
  tags: Record<string, string>;
  properties: Record<string, unknown>;
  principalId: string;
  pools: Map<string, PoolState>;
  operationId?: string;
}

const provider = '/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.ContainerService/managedClusters';
const poolNameForm = /^[a-z][a-z0-9]{0,11}$/;
const taintForm = /^[^=:\s]+(=[^:\s]*)?:(NoSchedule|PreferNoSchedule|NoExecute)$/;
const maxPoolCount = 1000;

/**
 * A simulator of the Microsoft.ContainerService resource provider for managed
 * clusters and agent pools: reads, lists, writes as long-running operations,
 * and user credentials. Scaling calls `onAgentPoolScaled`.
 */
export class AksProvider {
  private readonly clusters = new Map<string, ClusterState>();

  constructor(private readonly options: AksOptions) {
    const seed = options.seed;
    const cluster: ClusterState = {
      resourceGroup: seed.resourceGroup,
      name: seed.clusterName,
      location: seed.location,
      tags: {},
      properties: {
        kubernetesVersion: seed.kubernetesVersion,
        currentKubernetesVersion: seed.kubernetesVersion,
        dnsPrefix: seed.clusterName,
        fqdn: `${seed.clusterName}-dns.hcp.${seed.location}.azmk8s.io`,
        nodeResourceGroup: `MC_${seed.resourceGroup}_${seed.clusterName}_${seed.location}`,
        enableRBAC: true,
        aadProfile: { managed: true, enableAzureRBAC: true },
        networkProfile: { networkPlugin: 'azure', networkPluginMode: 'overlay' },
        powerState: { code: 'Running' },
        provisioningState: 'Succeeded',
      },
      principalId: randomUUID(),
      pools: new Map(),
    };
    for (const pool of seed.agentPools) cluster.pools.set(pool.name, { name: pool.name, properties: seedPoolProperties(pool, seed.kubernetesVersion) });
    this.clusters.set(clusterKey(seed.resourceGroup, seed.clusterName), cluster);
  }

  /** Registers the provider's routes on the ARM router. */
  registerRoutes(router: Router): void {
    const g = (handler: (request: SimRequest) => Promise<SimResponse> | SimResponse) => armGuard(this.options.guard, handler);
    router
      .add('GET', '/subscriptions/:subscriptionId/providers/Microsoft.ContainerService/managedClusters', g(() => this.listClusters()))
      .add('GET', provider, g((r) => this.listClusters(r.params.resourceGroupName)))
      .add('GET', `${provider}/:clusterName`, g((r) => this.getCluster(r)))
      .add('PUT', `${provider}/:clusterName`, g((r) => this.putCluster(r)))
      .add('POST', `${provider}/:clusterName/listClusterUserCredential`, g((r) => this.userCredential(r)))
      .add('GET', `${provider}/:clusterName/agentPools`, g((r) => this.listPools(r)))
      .add('GET', `${provider}/:clusterName/agentPools/:poolName`, g((r) => this.getPool(r)))
      .add('PUT', `${provider}/:clusterName/agentPools/:poolName`, g((r) => this.putPool(r)))
      .add('GET', '/subscriptions/:subscriptionId/providers/Microsoft.ContainerService/locations/:location/operations/:operationId', g((r) => this.options.operations.status(r.params.operationId ?? '')));
  }

  /** Current node count of each pool, for the control API. */
  poolCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const cluster of this.clusters.values()) {
      for (const pool of cluster.pools.values()) counts[`${cluster.name}/${pool.name}`] = Number(pool.properties.count);
    }
    return counts;
  }

  private listClusters(resourceGroup?: string): SimResponse {
    const value = [...this.clusters.values()]
      .filter((c) => resourceGroup === undefined || c.resourceGroup.toLowerCase() === resourceGroup.toLowerCase())
      .map((c) => this.clusterJson(c));
    return { status: 200, json: { value } };
  }

  private getCluster(request: SimRequest): SimResponse {
    const cluster = this.findCluster(request);
    return 'status' in cluster ? cluster : { status: 200, json: this.clusterJson(cluster) };
  }

  private async userCredential(request: SimRequest): Promise<SimResponse> {
    const cluster = this.findCluster(request);
    if ('status' in cluster) return cluster;
    if (!this.options.kubeconfig) {
      return armError(409, 'KubeconfigNotAvailable', `The simulator has no kubeconfig for managed cluster '${cluster.name}': start the sim cluster first, or pass aks.kubeconfigPath to startAzureSimulators.`);
    }
    const kubeconfig = await this.options.kubeconfig();
    return { status: 200, json: { kubeconfigs: [{ name: 'clusterUser', value: Buffer.from(kubeconfig).toString('base64') }] } };
  }

  private listPools(request: SimRequest): SimResponse {
    const cluster = this.findCluster(request);
    if ('status' in cluster) return cluster;
    return { status: 200, json: { value: [...cluster.pools.values()].map((p) => this.poolJson(cluster, p)) } };
  }

  private getPool(request: SimRequest): SimResponse {
    const cluster = this.findCluster(request);
    if ('status' in cluster) return cluster;
    const pool = cluster.pools.get(request.params.poolName ?? '');
    if (!pool) return poolNotFound(cluster, request.params.poolName ?? '');
    return { status: 200, json: this.poolJson(cluster, pool) };
  }

  private putPool(request: SimRequest): SimResponse {
    const cluster = this.findCluster(request);
    if ('status' in cluster) return cluster;
    const body = parseJsonObject(request);
    if (!body.ok) return body.response;
    const poolName = request.params.poolName ?? '';
    const existing = cluster.pools.get(poolName);
    if (!existing && !poolNameForm.test(poolName)) {
      return armError(400, 'InvalidParameter', `The agent pool name '${poolName}' is invalid: it must start with a lowercase letter and contain at most 12 lowercase letters and digits.`);
    }
    if (this.options.operations.isRunning(existing?.operationId) || this.options.operations.isRunning(cluster.operationId)) {
      return armError(409, 'OperationNotAllowed', `Operation is not allowed because there's an in progress operation on agent pool '${poolName}' of managed cluster '${cluster.name}'. Retry after it completes.`);
    }
    const merged = mergePoolProperties(existing?.properties, body.value.properties, poolName);
    if (!merged.ok) return merged.response;

    const pool: PoolState = existing ?? { name: poolName, properties: {} };
    const previousCount = existing ? Number(existing.properties.count) : undefined;
    let provisioningState = 'Creating';
    if (existing) provisioningState = previousCount === merged.value.count ? 'Updating' : 'Scaling';
    pool.properties = { ...merged.value, provisioningState };
    cluster.pools.set(poolName, pool);
    pool.operationId = this.startPoolOperation(cluster, pool, previousCount);
    return this.accepted(cluster, pool.operationId, existing ? 200 : 201, this.poolJson(cluster, pool), request);
  }

  private startPoolOperation(cluster: ClusterState, pool: PoolState, previousCount: number | undefined): string {
    const count = Number(pool.properties.count);
    return this.options.operations.start(this.operationScope(cluster), `scaling agent pool ${cluster.name}/${pool.name} to ${count}`, async () => {
      try {
        if (previousCount !== count && this.options.onAgentPoolScaled) await this.options.onAgentPoolScaled(pool.name, count);
        pool.properties.provisioningState = 'Succeeded';
      } catch (error) {
        pool.properties.provisioningState = 'Failed';
        throw error;
      }
    });
  }

  private putCluster(request: SimRequest): SimResponse {
    const cluster = this.findCluster(request);
    if ('status' in cluster) return cluster;
    const body = parseJsonObject(request);
    if (!body.ok) return body.response;
    const { location, tags, properties } = body.value;
    if (typeof location !== 'string' || location.toLowerCase() !== cluster.location.toLowerCase()) {
      return armError(400, 'LocationChangeNotAllowed', `The location of managed cluster '${cluster.name}' is '${cluster.location}'; the request has '${String(location)}'. Send the existing location.`);
    }
    if (tags !== undefined && !isStringMap(tags)) return armError(400, 'InvalidParameter', 'The value of parameter tags is invalid: every tag value must be a string.');
    if (!isRecord(properties)) return armError(400, 'InvalidParameter', 'The request body has no properties object.');
    if ([...cluster.pools.values()].some((p) => this.options.operations.isRunning(p.operationId)) || this.options.operations.isRunning(cluster.operationId)) {
      return armError(409, 'OperationNotAllowed', `Operation is not allowed because there's an in progress operation on managed cluster '${cluster.name}'. Retry after it completes.`);
    }

    const updates = clusterPoolUpdates(cluster, properties.agentPoolProfiles);
    if ('status' in updates) return updates;
    if (tags) cluster.tags = { ...tags };
    const scaled = updates.filter((u) => Number(u.pool.properties.count) !== u.properties.count);
    for (const update of updates) update.pool.properties = { ...update.properties, provisioningState: 'Succeeded' };
    cluster.properties.provisioningState = 'Updating';

    cluster.operationId = this.options.operations.start(this.operationScope(cluster), `updating managed cluster ${cluster.name}`, async () => {
      try {
        for (const update of scaled) {
          if (this.options.onAgentPoolScaled) await this.options.onAgentPoolScaled(update.pool.name, Number(update.properties.count));
        }
        cluster.properties.provisioningState = 'Succeeded';
      } catch (error) {
        cluster.properties.provisioningState = 'Failed';
        throw error;
      }
    });
    return this.accepted(cluster, cluster.operationId, 200, this.clusterJson(cluster), request);
  }

  private accepted(cluster: ClusterState, operationId: string, status: number, json: unknown, request: SimRequest): SimResponse {
    const apiVersion = request.url.searchParams.get('api-version') ?? '';
    return { status, json, headers: { 'azure-asyncoperation': this.options.operations.statusUrl(this.options.origin(), operationId, apiVersion) } };
  }

  private operationScope(cluster: ClusterState): string {
    return `/subscriptions/${this.options.guard.subscriptionId}/providers/Microsoft.ContainerService/locations/${cluster.location}`;
  }

  private findCluster(request: SimRequest): ClusterState | SimResponse {
    const resourceGroup = request.params.resourceGroupName ?? '';
    const name = request.params.clusterName ?? '';
    const cluster = this.clusters.get(clusterKey(resourceGroup, name));
    if (cluster) return cluster;
    return armError(404, 'ResourceNotFound', `The Resource 'Microsoft.ContainerService/managedClusters/${name}' under resource group '${resourceGroup}' was not found.`);
  }

  private clusterId(cluster: ClusterState): string {
    return `/subscriptions/${this.options.guard.subscriptionId}/resourcegroups/${cluster.resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${cluster.name}`;
  }

  private clusterJson(cluster: ClusterState): Record<string, unknown> {
    return {
      id: this.clusterId(cluster),
      name: cluster.name,
      type: 'Microsoft.ContainerService/ManagedClusters',
      location: cluster.location,
      tags: cluster.tags,
      sku: { name: 'Base', tier: 'Standard' },
      identity: { type: 'SystemAssigned', principalId: cluster.principalId, tenantId: this.options.guard.authority.principal.tenantId },
      properties: structuredClone({ ...cluster.properties, agentPoolProfiles: [...cluster.pools.values()].map((p) => ({ name: p.name, ...p.properties })) }),
    };
  }

  private poolJson(cluster: ClusterState, pool: PoolState): Record<string, unknown> {
    // A copy, so a response reports the state at the time of the request even if the operation finishes first.
    return { id: `${this.clusterId(cluster)}/agentPools/${pool.name}`, name: pool.name, type: 'Microsoft.ContainerService/managedClusters/agentPools', properties: structuredClone(pool.properties) };
  }
}

function clusterKey(resourceGroup: string, name: string): string {
  return `${resourceGroup.toLowerCase()}/${name.toLowerCase()}`;
}

function poolNotFound(cluster: ClusterState, name: string): SimResponse {
  return armError(404, 'ResourceNotFound', `The Resource 'Microsoft.ContainerService/managedClusters/${cluster.name}/agentPools/${name}' under resource group '${cluster.resourceGroup}' was not found.`);
}

function seedPoolProperties(pool: AgentPoolSeed, kubernetesVersion: string): Record<string, unknown> {
  const spot = pool.scaleSetPriority === 'Spot';
  return {
    count: pool.count,
    vmSize: pool.vmSize,
    osType: 'Linux',
    osSKU: 'Ubuntu',
    osDiskSizeGB: 128,
    maxPods: 30,
    type: 'VirtualMachineScaleSets',
    mode: pool.mode,
    orchestratorVersion: kubernetesVersion,
    currentOrchestratorVersion: kubernetesVersion,
    nodeImageVersion: 'AKSUbuntu-2204gen2containerd-202511.01.0',
    enableAutoScaling: pool.enableAutoScaling ?? false,
    ...(pool.minCount !== undefined ? { minCount: pool.minCount } : {}),
    ...(pool.maxCount !== undefined ? { maxCount: pool.maxCount } : {}),
    scaleSetPriority: pool.scaleSetPriority ?? 'Regular',
    ...(spot ? { scaleSetEvictionPolicy: 'Delete', spotMaxPrice: -1 } : {}),
    nodeLabels: pool.nodeLabels ?? {},
    nodeTaints: pool.nodeTaints ?? [],
    powerState: { code: 'Running' },
    provisioningState: 'Succeeded',
  };
}

/**
 * Applies the writable agent-pool fields of a request to the current
 * properties, with the checks AKS makes; returns the new properties or a 400.
 */
function mergePoolProperties(current: Record<string, unknown> | undefined, requested: unknown, poolName: string): Parsed<PoolProperties> {
  if (!isRecord(requested)) return rejected(400, 'InvalidParameter', `The request body of agent pool '${poolName}' has no properties object.`);
  const next: Record<string, unknown> = { ...(current ?? { osType: 'Linux', osSKU: 'Ubuntu', type: 'VirtualMachineScaleSets', scaleSetPriority: 'Regular', powerState: { code: 'Running' } }) };

  for (const immutable of ['vmSize', 'scaleSetPriority', 'osType']) {
    const value = requested[immutable];
    if (current && value !== undefined && value !== current[immutable]) {
      return rejected(400, 'PropertyChangeNotAllowed', `Changing property '${immutable}' of agent pool '${poolName}' is not allowed: it is ${JSON.stringify(current[immutable])}, the request has ${JSON.stringify(value)}.`);
    }
    if (value !== undefined) next[immutable] = value;
  }
  if (typeof next.vmSize !== 'string' || next.vmSize === '') return rejected(400, 'InvalidParameter', `The value of parameter agentPoolProfile.vmSize of new agent pool '${poolName}' is missing.`);

  const count = requested.count ?? current?.count;
  const mode = requested.mode ?? current?.mode ?? 'User';
  if (mode !== 'System' && mode !== 'User' && mode !== 'Gateway') return rejected(400, 'InvalidParameter', `The value of parameter agentPoolProfile.mode is invalid: ${JSON.stringify(mode)}. Use System, User or Gateway.`);
  const minimum = mode === 'System' ? 1 : 0;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < minimum || count > maxPoolCount) {
    return rejected(400, 'InvalidParameter', `The value of parameter agentPoolProfile.count of agent pool '${poolName}' is invalid: '${String(count)}'. It must be an integer from ${minimum} to ${maxPoolCount} for a ${mode} pool.`);
  }
  next.count = count;
  next.mode = mode;

  const autoscale = requested.enableAutoScaling ?? current?.enableAutoScaling ?? false;
  const minCount = requested.minCount ?? current?.minCount;
  const maxCount = requested.maxCount ?? current?.maxCount;
  if (autoscale === true) {
    if (typeof minCount !== 'number' || typeof maxCount !== 'number' || minCount > maxCount || count < minCount || count > maxCount) {
      return rejected(400, 'InvalidParameter', `Agent pool '${poolName}' enables autoscaling, so minCount and maxCount must be integers with minCount <= count (${count}) <= maxCount; the request has minCount ${String(minCount)} and maxCount ${String(maxCount)}.`);
    }
  }
  next.enableAutoScaling = autoscale;
  if (minCount !== undefined) next.minCount = minCount;
  if (maxCount !== undefined) next.maxCount = maxCount;

  if (requested.nodeLabels !== undefined) {
    if (requested.nodeLabels !== null && !isStringMap(requested.nodeLabels)) return rejected(400, 'InvalidParameter', `The value of parameter agentPoolProfile.nodeLabels of agent pool '${poolName}' must map strings to strings.`);
    next.nodeLabels = requested.nodeLabels ?? {};
  }
  if (requested.nodeTaints !== undefined) {
    const taints = requested.nodeTaints ?? [];
    if (!Array.isArray(taints) || !taints.every((t) => typeof t === 'string' && taintForm.test(t))) {
      return rejected(400, 'InvalidParameter', `The value of parameter agentPoolProfile.nodeTaints of agent pool '${poolName}' is invalid: each taint must read key=value:Effect with Effect NoSchedule, PreferNoSchedule or NoExecute.`);
    }
    next.nodeTaints = taints;
  }
  return { ok: true, value: { ...next, count } };
}

type PoolProperties = Record<string, unknown> & { count: number };

interface PoolUpdate {
  pool: PoolState;
  properties: PoolProperties;
}

function rejected(status: number, code: string, message: string): { ok: false; response: SimResponse } {
  return { ok: false, response: armError(status, code, message) };
}

/** Checks the agentPoolProfiles of a cluster write; each must name an existing pool. */
function clusterPoolUpdates(cluster: ClusterState, profiles: unknown): PoolUpdate[] | SimResponse {
  if (profiles === undefined) return [];
  if (!Array.isArray(profiles)) return armError(400, 'InvalidParameter', 'The value of parameter properties.agentPoolProfiles must be an array.');
  const updates: PoolUpdate[] = [];
  for (const profile of profiles) {
    const name = isRecord(profile) ? profile.name : undefined;
    const pool = typeof name === 'string' ? cluster.pools.get(name) : undefined;
    if (!pool) {
      // NOTE: adding pools through a cluster write is not simulated; create them with agentPools PUT.
      return armError(400, 'InvalidParameter', `agentPoolProfiles names '${String(name)}', which is not an agent pool of managed cluster '${cluster.name}'. Create new pools with the agentPools API.`);
    }
    const merged = mergePoolProperties(pool.properties, profile, pool.name);
    if (!merged.ok) return merged.response;
    updates.push({ pool, properties: merged.value });
  }
  return updates;
}

/** Reads a kubeconfig file at call time; the error names the file and the fix. */
export function kubeconfigFromFile(path: string): () => Promise<string> {
  return async () => {
    try {
      return await readFile(path, 'utf8');
    } catch (error) {
      throw new Error(`cannot read the kubeconfig ${path} for listClusterUserCredential: start the sim cluster first`, { cause: error });
    }
  };
}
