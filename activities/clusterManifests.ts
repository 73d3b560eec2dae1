import { createHash } from 'node:crypto';

import type { V1Affinity, V1Deployment, V1Service, V1Toleration } from '../src/clients/kubeModule';
import { fieldManager, labelKeys } from '../src/contracts/target';
import type { ReleaseTarget } from '../src/contracts/target';

/** Name of the model-server container in every Deployment the pipeline writes. */
export const servingContainer = 'model-server';

/** Annotations the pipeline writes; values that do not fit a label go here. */
export const annotationKeys = {
  releaseId: 'release.aksmlops.dev/release-id',
  image: 'release.aksmlops.dev/image',
  /** How a stable Deployment came to be: `adopted` or `deployed`; absent on a stable the pipeline found. */
  stableOrigin: 'release.aksmlops.dev/stable-origin',
} as const;

/** Taint that AKS puts on spot nodes. */
export const spotTaint = { key: 'kubernetes.azure.com/scalesetpriority', value: 'spot' } as const;

/** Extended resource name of NVIDIA GPUs, reported by the NVIDIA device plugin. */
export const gpuResource = 'nvidia.com/gpu';

export type Track = 'stable' | 'canary';

/**
 * Turns any text into a valid label value (at most 63 characters of
 * `[A-Za-z0-9._-]`, starting and ending alphanumeric). Values that must be
 * shortened keep a hash suffix so that two long values stay distinct.
 */
export function labelValue(text: string): string {
  const cleaned = text.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  if (cleaned.length <= 63 && cleaned === text) return cleaned;
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 10);
  const head = cleaned.slice(0, 52).replace(/[^A-Za-z0-9]+$/, '');
  return head ? `${head}-${hash}` : hash;
}

/** Pod selector of the Deployment of one track; never changes, because Deployment selectors are immutable. */
export function trackSelector(target: ReleaseTarget, track: Track): Record<string, string> {
  return { [labelKeys.endpoint]: labelValue(target.endpoint), [labelKeys.track]: track };
}

/** Selector of the stable Service the pipeline creates; replica-ratio selects both tracks so that pod counts split the traffic. */
export function stableServiceSelector(target: ReleaseTarget): Record<string, string> {
  if (target.traffic.provider === 'replica-ratio') return { [labelKeys.endpoint]: labelValue(target.endpoint) };
  return trackSelector(target, 'stable');
}

/** Labels on every object and pod of one track. */
export function objectLabels(target: ReleaseTarget, track: Track, deploymentName: string): Record<string, string> {
  const labels: Record<string, string> = {
    'app.kubernetes.io/name': labelValue(target.endpoint),
    'app.kubernetes.io/instance': labelValue(deploymentName),
    'app.kubernetes.io/component': servingContainer,
    'app.kubernetes.io/part-of': labelValue(target.endpoint),
    [labelKeys.managedBy]: fieldManager,
    ...trackSelector(target, track),
    [labelKeys.releaseId]: labelValue(target.releaseId),
  };
  if (target.model) labels['app.kubernetes.io/version'] = labelValue(`${target.model.name}-${target.model.version}`);
  return labels;
}

/** Tolerations from policy, plus the AKS spot taint when the policy allows spot nodes. */
export function tolerationsOf(target: ReleaseTarget): V1Toleration[] {
  const tolerations: V1Toleration[] = target.scheduling.tolerations.map((t) => ({ ...t }));
  const hasSpot = tolerations.some((t) => t.key === spotTaint.key);
  if (target.scheduling.allowSpot && !hasSpot) {
    tolerations.push({ key: spotTaint.key, operator: 'Equal', value: spotTaint.value, effect: 'NoSchedule' });
  }
  return tolerations;
}

/** Keeps pods off spot nodes unless the policy allows them; a toleration alone would not. */
function affinityOf(target: ReleaseTarget): V1Affinity | undefined {
  if (target.scheduling.allowSpot) return undefined;
  return {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: spotTaint.key, operator: 'NotIn', values: [spotTaint.value] }] }],
      },
    },
  };
}

function resourcesOf(target: ReleaseTarget): { requests: Record<string, string>; limits: Record<string, string> } {
  const requests: Record<string, string> = { cpu: String(target.resources.cpu), memory: String(target.resources.memory) };
  const limits: Record<string, string> = { memory: String(target.resources.memory) };
  if (target.resources.gpu > 0) {
    // Extended resources need request == limit.
    requests[gpuResource] = String(target.resources.gpu);
    limits[gpuResource] = String(target.resources.gpu);
  }
  return { requests, limits };
}

function envOf(target: ReleaseTarget): { name: string; value: string }[] {
  if (!target.model) return [];
  const env = [
    { name: 'MODEL_NAME', value: target.model.name },
    { name: 'MODEL_VERSION', value: target.model.version },
    // Same layout as Azure ML online endpoints, so scoring scripts written for them find the model.
    // TODO: no init container downloads the model into this directory yet; a mount-mode serving image must fetch MODEL_STORAGE_URI itself.
    { name: 'AZUREML_MODEL_DIR', value: `/var/azureml-app/azureml-models/${target.model.name}/${target.model.version}` },
  ];
  if (target.model.storageUri) env.push({ name: 'MODEL_STORAGE_URI', value: target.model.storageUri });
  return env;
}

/**
 * Builds the Deployment of one track as a server-side apply body: only the
 * fields the pipeline owns. `replicas` is left out when undefined, so that an
 * apply does not reset a count the traffic provider set.
 */
export function buildDeployment(target: ReleaseTarget, options: { track: Track; name: string; image: string; replicas?: number; extraPodLabels?: Record<string, string>; origin?: 'deployed' }): V1Deployment {
  const labels = objectLabels(target, options.track, options.name);
  const podLabels = { ...options.extraPodLabels, ...labels };
  const probes = target.probes ?? defaultProbes;
  const annotations: Record<string, string> = { [annotationKeys.releaseId]: target.releaseId, [annotationKeys.image]: options.image };
  if (options.origin) annotations[annotationKeys.stableOrigin] = options.origin;
  const spec: NonNullable<V1Deployment['spec']> = {
    selector: { matchLabels: trackSelector(target, options.track) },
    // Replace pods one at a time and never drop below the desired count, because GPU nodes are scarce.
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
    template: {
      metadata: { labels: podLabels, annotations: { [annotationKeys.releaseId]: target.releaseId } },
      spec: {
        containers: [
          {
            name: servingContainer,
            image: options.image,
            ports: [{ name: 'http', containerPort: target.port, protocol: 'TCP' }],
            env: envOf(target),
            resources: resourcesOf(target),
            readinessProbe: { httpGet: { path: probes.readinessPath, port: 'http' }, periodSeconds: 5, failureThreshold: 3 },
            livenessProbe: { httpGet: { path: probes.livenessPath, port: 'http' }, initialDelaySeconds: probes.startupSeconds, periodSeconds: 10, failureThreshold: 3 },
          },
        ],
        nodeSelector: { ...target.scheduling.nodeSelector },
        tolerations: tolerationsOf(target),
        affinity: affinityOf(target),
      },
    },
  };
  if (options.replicas !== undefined) spec.replicas = options.replicas;
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: options.name, namespace: target.namespace, labels, annotations }, spec };
}

/** Probe paths of the Open Inference Protocol (KServe v2), served by Triton, MLServer and KServe runtimes. */
export const defaultProbes = { readinessPath: '/v2/health/ready', livenessPath: '/v2/health/live', startupSeconds: 30 } as const;

/** Builds a ClusterIP Service for one track's pods. */
export function buildService(target: ReleaseTarget, options: { track: Track; name: string; deploymentName: string; selector: Record<string, string> }): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: options.name, namespace: target.namespace, labels: objectLabels(target, options.track, options.deploymentName), annotations: { [annotationKeys.releaseId]: target.releaseId } },
    spec: {
      type: 'ClusterIP',
      selector: options.selector,
      ports: [{ name: 'http', port: target.port, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

/** Name of the canary Service: `<service>-canary`. */
export function canaryServiceName(target: ReleaseTarget): string {
  return `${target.service}-canary`;
}

/** Whether every key of `selector` has the same value in `labels` (an empty selector matches nothing here). */
export function selectorMatches(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([key, value]) => labels[key] === value);
}
