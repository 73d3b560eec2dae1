import { gpuPlacementProblems, nodeMismatch, tolerates } from '../../activities/clusterPreflight';
import { rolloutStateOf } from '../../activities/clusterRollout';
import type { CoreV1Event, V1Deployment, V1Node, V1Pod } from '../../src/clients/kubeModule';
import { targetOf } from './fixtures';

function node(name: string, pool: string, gpus: number, extra: { spot?: boolean; cordoned?: boolean } = {}): V1Node {
  const labels: Record<string, string> = { 'kubernetes.azure.com/agentpool': pool };
  if (gpus > 0) labels['kubernetes.azure.com/accelerator'] = 'nvidia';
  const taints = gpus > 0 ? [{ key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' }] : [];
  if (extra.spot) {
    labels['kubernetes.azure.com/scalesetpriority'] = 'spot';
    taints.push({ key: 'kubernetes.azure.com/scalesetpriority', value: 'spot', effect: 'NoSchedule' });
  }
  const resources: Record<string, string> = gpus > 0 ? { cpu: '4', 'nvidia.com/gpu': String(gpus) } : { cpu: '4' };
  return {
    metadata: { name, labels },
    spec: { taints, unschedulable: extra.cordoned },
    status: { capacity: resources, allocatable: resources, conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

function gpuPod(nodeName: string, gpus: number): V1Pod {
  return { metadata: { name: `p-${nodeName}` }, spec: { nodeName, containers: [{ name: 'c', resources: { requests: { 'nvidia.com/gpu': String(gpus) } } }] }, status: { phase: 'Running' } };
}

describe('gpu placement', () => {
  const target = targetOf();

  test('fits on a free gpu node', () => {
    expect(gpuPlacementProblems([node('s', 'system', 0), node('g1', 'gpu', 1)], [], target, 1)).toEqual([]);
  });

  test('no gpu capacity names device plugin', () => {
    const [reason] = gpuPlacementProblems([node('s', 'system', 0)], [], target, 1);
    expect(reason).toMatch(/no node reports nvidia.com\/gpu capacity: the NVIDIA device plugin is missing/);
  });

  test('full pool says which pool to scale', () => {
    const [reason] = gpuPlacementProblems([node('g1', 'gpu', 1), node('g2', 'gpu', 1)], [gpuPod('g1', 1), gpuPod('g2', 1)], target, 1);
    expect(reason).toMatch(/room for 0 of 1 pods .*scale node pool gpu up by 1 node/);
  });

  test('too few gpus per node', () => {
    const [reason] = gpuPlacementProblems([node('g1', 'gpu', 1)], [], targetOf({ resources: { gpu: 4, cpu: '1', memory: '1Gi' } }), 1);
    expect(reason).toMatch(/no node in pool gpu has 4 allocatable nvidia.com\/gpu \(largest: 1\)/);
  });

  test('spot nodes excluded unless allowed', () => {
    const nodes = [node('sp1', 'gpuspot', 1, { spot: true })];
    expect(gpuPlacementProblems(nodes, [], target, 1)[0]).toMatch(/no GPU node accepts the pods/);
    const spot = targetOf({ scheduling: { ...target.scheduling, allowSpot: true } });
    expect(gpuPlacementProblems(nodes, [], spot, 1)).toEqual([]);
  });

  test('cordoned node is skipped', () => {
    expect(nodeMismatch(node('g1', 'gpu', 1, { cordoned: true }), target)).toBe('cordoned');
  });

  test('no gpu request needs nothing', () => {
    expect(gpuPlacementProblems([], [], targetOf({ resources: { gpu: 0, cpu: '1', memory: '1Gi' } }), 3)).toEqual([]);
  });

  test('toleration rules', () => {
    const taint = { key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' };
    expect(tolerates({ key: 'nvidia.com/gpu', operator: 'Exists' }, taint)).toBe(true);
    expect(tolerates({ operator: 'Exists' }, taint)).toBe(true);
    expect(tolerates({ key: 'nvidia.com/gpu', operator: 'Equal', value: 'false' }, taint)).toBe(false);
    expect(tolerates({ key: 'nvidia.com/gpu', operator: 'Equal', value: 'true', effect: 'NoExecute' }, taint)).toBe(false);
  });
});

describe('rollout state', () => {
  const deployment = (status: NonNullable<V1Deployment['status']>): V1Deployment => ({ metadata: { name: 'c', namespace: 'models', generation: 2 }, spec: { replicas: 2, selector: {}, template: {} }, status });

  test('ready when all replicas updated', () => {
    const state = rolloutStateOf(deployment({ observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2, readyReplicas: 2 }), [], []);
    expect(state).toEqual({ ready: true, desiredReplicas: 2, readyReplicas: 2, unschedulable: false });
  });

  test('old generation is not ready', () => {
    expect(rolloutStateOf(deployment({ observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2, readyReplicas: 2 }), [], []).ready).toBe(false);
  });

  test('unschedulable pod reports scheduler message', () => {
    const pod: V1Pod = { metadata: { name: 'c-1' }, status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/6 nodes are available: 6 Insufficient nvidia.com/gpu.' }] } };
    const state = rolloutStateOf(deployment({ observedGeneration: 2, replicas: 1 }), [pod], []);
    expect(state.unschedulable).toBe(true);
    expect(state.reason).toBe('Deployment models/c: pod c-1 is unschedulable: 0/6 nodes are available: 6 Insufficient nvidia.com/gpu.');
  });

  test('event message fills an empty condition', () => {
    const pod: V1Pod = { metadata: { name: 'c-1' }, status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] } };
    const events: CoreV1Event[] = [
      { metadata: {}, involvedObject: { name: 'c-1' }, reason: 'FailedScheduling', message: 'old', lastTimestamp: new Date('2026-01-01T00:00:00Z') },
      { metadata: {}, involvedObject: { name: 'c-1' }, reason: 'FailedScheduling', message: 'new', lastTimestamp: new Date('2026-01-01T00:01:00Z') },
    ];
    expect(rolloutStateOf(deployment({}), [pod], events).reason).toMatch(/unschedulable: new$/);
  });

  test('image pull failure is a reason', () => {
    const pod: V1Pod = { metadata: { name: 'c-1' }, status: { phase: 'Pending', containerStatuses: [{ name: 'model-server', image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: 'unauthorized' } } }] } };
    const state = rolloutStateOf(deployment({}), [pod], []);
    expect(state.unschedulable).toBe(false);
    expect(state.reason).toBe('Deployment models/c: pod c-1 container model-server: ImagePullBackOff: unauthorized');
  });
});
