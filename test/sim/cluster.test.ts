import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type * as k8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };

import { apiStatus, gpuTaint, kubeClients, modelsNamespace, nodeManifest, poolNodes, scaleNodePool, spotTaint, startCluster, type KubeClients, type SimCluster } from '../../sim/src/cluster';
import { defaultNodePools } from '../../sim/src/cluster/pools';
import { waitFor } from '../../sim/src/support';
import { Logger } from '../../src/observability/log';

const podReadyDelayMs = 500;
const quiet = new Logger(console, {}, 'error');
let stateDir: string;
let cluster: SimCluster;
let kube: KubeClients;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'sim-cluster-'));
  cluster = await startCluster({ stateDir, podReadyDelayMs, logger: quiet });
  kube = await kubeClients(cluster.kubeconfigPath);
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
  rmSync(stateDir, { recursive: true, force: true });
}, 60_000);

const gpuToleration: k8s.V1Toleration = { key: gpuTaint.key, operator: 'Equal', value: gpuTaint.value, effect: 'NoSchedule' };
const spotToleration: k8s.V1Toleration = { key: spotTaint.key, operator: 'Equal', value: spotTaint.value, effect: 'NoSchedule' };

function pod(name: string, spec: { gpu?: number; tolerations?: k8s.V1Toleration[]; nodeSelector?: Record<string, string>; labels?: Record<string, string> }): k8s.V1Pod {
  const requests: Record<string, string> = { cpu: '500m', memory: '1Gi' };
  if (spec.gpu) requests['nvidia.com/gpu'] = String(spec.gpu);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: modelsNamespace, labels: spec.labels },
    spec: {
      containers: [{ name: 'server', image: 'contosocr.azurecr.io/serving/mlserver:1', resources: { requests, limits: spec.gpu ? { 'nvidia.com/gpu': String(spec.gpu) } : undefined } }],
      tolerations: spec.tolerations,
      nodeSelector: spec.nodeSelector,
    },
  };
}

async function createAndWaitReady(body: k8s.V1Pod): Promise<k8s.V1Pod> {
  const name = body.metadata?.name ?? '';
  await kube.core.createNamespacedPod({ namespace: modelsNamespace, body });
  return waitFor(`pod ${name} Ready`, async () => {
    const current = await kube.core.readNamespacedPod({ name, namespace: modelsNamespace });
    return current.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True') ? current : undefined;
  }, { timeoutMs: 20_000 });
}

async function nodeOf(p: k8s.V1Pod): Promise<k8s.V1Node> {
  return kube.core.readNode({ name: p.spec?.nodeName ?? '' });
}

describe('sim cluster', () => {
  test('nodes carry AKS pool labels', async () => {
    const gpuNodes = await poolNodes(kube, 'gpu');
    const spotNodes = await poolNodes(kube, 'gpuspot');
    const systemNodes = await poolNodes(kube, 'system');

    expect(gpuNodes).toHaveLength(2);
    expect(spotNodes).toHaveLength(2);
    expect(systemNodes).toHaveLength(1);
    const gpu = gpuNodes[0];
    expect(gpu?.metadata?.labels?.agentpool).toBe('gpu');
    expect(gpu?.metadata?.labels?.['node.kubernetes.io/instance-type']).toBe('Standard_NC4as_T4_v3');
    expect(gpu?.metadata?.labels?.['topology.kubernetes.io/region']).toBe('switzerlandnorth');
    expect(gpu?.status?.allocatable?.['nvidia.com/gpu']).toBe('1');
    expect(gpu?.spec?.taints).toEqual([gpuTaint]);
    expect(spotNodes[0]?.metadata?.labels?.['kubernetes.azure.com/scalesetpriority']).toBe('spot');
    expect(spotNodes[0]?.spec?.taints).toEqual(expect.arrayContaining([spotTaint, gpuTaint]));
  });

  test('GPU pod lands on a regular GPU node', async () => {
    const placed = await createAndWaitReady(pod('gpu-only', { gpu: 1, tolerations: [gpuToleration] }));
    const node = await nodeOf(placed);

    expect(node.metadata?.labels?.agentpool).toBe('gpu');
    expect(node.metadata?.labels?.['kubernetes.azure.com/accelerator']).toBe('nvidia');
  });

  test('GPU pod without toleration stays pending', async () => {
    await kube.core.createNamespacedPod({ namespace: modelsNamespace, body: pod('gpu-untolerated', { gpu: 1 }) });

    const condition = await waitFor('PodScheduled=False', async () => {
      const current = await kube.core.readNamespacedPod({ name: 'gpu-untolerated', namespace: modelsNamespace });
      return current.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    }, { timeoutMs: 15_000 });
    expect(condition.reason).toBe('Unschedulable');
    expect(condition.message).toMatch(/nvidia\.com\/gpu/);
  });

  test('spot-tolerating pod lands on spot nodes', async () => {
    const placed = await createAndWaitReady(pod('spot-gpu', {
      gpu: 1,
      tolerations: [gpuToleration, spotToleration],
      nodeSelector: { 'kubernetes.azure.com/scalesetpriority': 'spot' },
    }));
    const node = await nodeOf(placed);

    expect(node.metadata?.labels?.agentpool).toBe('gpuspot');
    expect(node.spec?.taints).toEqual(expect.arrayContaining([spotTaint]));
  });

  test('CPU pod stays off tainted pools', async () => {
    const placed = await createAndWaitReady(pod('cpu-only', {}));
    const node = await nodeOf(placed);

    expect(node.metadata?.labels?.agentpool).toBe('system');
  });

  test('pod turns Ready after the delay', async () => {
    const created = Date.now();
    const ready = await createAndWaitReady(pod('ready-delay', {}));

    expect(ready.status?.phase).toBe('Running');
    expect(Date.now() - created).toBeGreaterThanOrEqual(podReadyDelayMs);
  });

  test('eviction blocked by a PDB answers 429', async () => {
    const labels = { app: 'pdb-guarded' };
    await kube.apps.createNamespacedDeployment({ namespace: modelsNamespace, body: {
      metadata: { name: 'pdb-guarded' },
      spec: { replicas: 2, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'server', image: 'example/server:1' }] } } },
    } });
    await kube.policy.createNamespacedPodDisruptionBudget({ namespace: modelsNamespace, body: {
      metadata: { name: 'pdb-guarded' },
      spec: { minAvailable: 2, selector: { matchLabels: labels } },
    } });
    const pods = await waitFor('2 ready pods and a PDB that allows 0 disruptions', async () => {
      const list = await kube.core.listNamespacedPod({ namespace: modelsNamespace, labelSelector: 'app=pdb-guarded' });
      const ready = list.items.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      const pdb = await kube.policy.readNamespacedPodDisruptionBudget({ name: 'pdb-guarded', namespace: modelsNamespace });
      return ready.length === 2 && pdb.status?.observedGeneration === 1 && pdb.status.currentHealthy === 2 ? ready : undefined;
    }, { timeoutMs: 30_000 });
    const victim = pods[0]?.metadata?.name ?? '';

    const error = await kube.core.createNamespacedPodEviction({ name: victim, namespace: modelsNamespace, body: { metadata: { name: victim, namespace: modelsNamespace } } }).then(() => undefined, (e: unknown) => e);

    expect(apiStatus(error)).toBe(429);
  });

  test('eviction within a PDB budget succeeds', async () => {
    await createAndWaitReady(pod('evictable', { labels: { app: 'evictable' } }));

    await kube.core.createNamespacedPodEviction({ name: 'evictable', namespace: modelsNamespace, body: { metadata: { name: 'evictable', namespace: modelsNamespace } } });

    await waitFor('evicted pod deleted', async () => {
      const status = await kube.core.readNamespacedPod({ name: 'evictable', namespace: modelsNamespace }).then(() => 200, (e: unknown) => apiStatus(e));
      return status === 404 ? true : undefined;
    }, { timeoutMs: 15_000 });
  });

  test('scaling spot pool adds Ready nodes', async () => {
    const result = await cluster.scaleNodePool('gpuspot', 3);

    expect(result.added).toHaveLength(1);
    await waitFor('3 Ready spot nodes', async () => {
      const nodes = await poolNodes(kube, 'gpuspot');
      const ready = nodes.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      return ready.length === 3 ? true : undefined;
    }, { timeoutMs: 15_000 });
  });

  test('scaling spot pool down removes highest nodes', async () => {
    const before = (await poolNodes(kube, 'gpuspot')).map((n) => n.metadata?.name);

    const result = await cluster.scaleNodePool('gpuspot', 1);

    expect(result.removed).toEqual([before[2], before[1]]);
    expect((await poolNodes(kube, 'gpuspot')).map((n) => n.metadata?.name)).toEqual([before[0]]);
  });

  test('scale-down evicts pods before deleting', async () => {
    const [added] = (await cluster.scaleNodePool('system', 2)).added;
    await createAndWaitReady(pod('mover', { labels: { app: 'mover' }, nodeSelector: { 'kubernetes.io/hostname': added ?? '' } }));

    const result = await scaleNodePool(cluster.kubeconfigPath, 'system', 1, { drainTimeoutMs: 5000, logger: quiet });
    const mover = await kube.core.readNamespacedPod({ name: 'mover', namespace: modelsNamespace }).then(
      (current) => (current.metadata?.deletionTimestamp ? 'deleting' : 'running'),
      (error: unknown) => (apiStatus(error) === 404 ? 'gone' : 'read failed'),
    );

    expect(result.removed).toEqual([added]);
    // Evicted by the drain; the pod garbage collector would leave it for 40 s.
    expect(['gone', 'deleting']).toContain(mover);
  });

  test('scale-down drain respects a PDB until its timeout', async () => {
    const [added] = (await cluster.scaleNodePool('system', 2)).added;
    await createAndWaitReady(pod('guarded', { labels: { app: 'guarded' }, nodeSelector: { 'kubernetes.io/hostname': added ?? '' } }));
    await kube.policy.createNamespacedPodDisruptionBudget({ namespace: modelsNamespace, body: { metadata: { name: 'guarded' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'guarded' } } } } });
    await waitFor('PDB guarded observed', async () => {
      const pdb = await kube.policy.readNamespacedPodDisruptionBudget({ name: 'guarded', namespace: modelsNamespace });
      return pdb.status?.currentHealthy === 1 ? true : undefined;
    }, { timeoutMs: 15_000 });

    const result = await scaleNodePool(cluster.kubeconfigPath, 'system', 1, { drainTimeoutMs: 2000, logger: quiet });
    const guarded = await kube.core.readNamespacedPod({ name: 'guarded', namespace: modelsNamespace });

    expect(result.removed).toEqual([added]);
    expect(guarded.metadata?.deletionTimestamp).toBeUndefined();
  });

  test('scaling unknown pool is rejected', async () => {
    await expect(cluster.scaleNodePool('nope', 1)).rejects.toThrow(/unknown node pool nope/);
  });

  test('HTTPRoute with weights is stored', async () => {
    const route = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'weighted', namespace: modelsNamespace },
      spec: {
        parentRefs: [{ name: 'inference', namespace: 'gateways' }],
        rules: [{ backendRefs: [{ name: 'scorer', port: 80, weight: 90 }, { name: 'scorer-canary', port: 80, weight: 10 }] }],
      },
    };

    await kube.custom.createNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', namespace: modelsNamespace, plural: 'httproutes', body: route });
    const stored = (await kube.custom.getNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', namespace: modelsNamespace, plural: 'httproutes', name: 'weighted' })) as typeof route;

    expect(stored.spec.rules[0]?.backendRefs.map((ref) => ref.weight)).toEqual([90, 10]);
  });

  test('Gateway inference exists', async () => {
    const gateway = (await kube.custom.getNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', namespace: 'gateways', plural: 'gateways', name: 'inference' })) as { spec?: { gatewayClassName?: string } };

    expect(gateway.spec?.gatewayClassName).toBe('sim');
  });

  test('NGINX canary Ingress is stored', async () => {
    const annotations = { 'nginx.ingress.kubernetes.io/canary': 'true', 'nginx.ingress.kubernetes.io/canary-weight': '25' };
    await kube.networking.createNamespacedIngress({ namespace: modelsNamespace, body: {
      metadata: { name: 'scorer-canary', annotations },
      spec: { ingressClassName: 'nginx', rules: [{ host: 'scorer.models.local', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'scorer-canary', port: { number: 80 } } } }] } }] },
    } });

    const stored = await kube.networking.readNamespacedIngress({ name: 'scorer-canary', namespace: modelsNamespace });
    expect(stored.metadata?.annotations).toMatchObject(annotations);
  });
});

describe('nodeManifest', () => {
  test('spot pool node gets spot label and taint', () => {
    const spot = defaultNodePools().find((p) => p.priority === 'Spot');
    if (!spot) throw new Error('default pools have no Spot pool');

    const node = nodeManifest(spot, 37);

    expect(node.metadata?.name).toBe('aks-gpuspot-31415926-vmss000011');
    expect(node.metadata?.labels?.['kubernetes.azure.com/scalesetpriority']).toBe('spot');
    expect(node.spec?.taints).toEqual([gpuTaint, spotTaint]);
    expect(node.spec?.providerID).toMatch(/virtualMachineScaleSets\/aks-gpuspot-31415926-vmss\/virtualMachines\/37$/);
    expect(node.metadata?.labels?.['topology.kubernetes.io/zone']).toBe('switzerlandnorth-2');
  });
});
