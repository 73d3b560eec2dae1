import type { TrafficProviderName } from '../config/policy';

/**
 * Everything the cluster activities need to act on one endpoint, derived from
 * the endpoint policy and the release. It travels in activity inputs, so it is
 * plain data.
 */
export interface ReleaseTarget {
  releaseId: string;
  endpoint: string;
  namespace: string;
  /** Deployment that serves stable traffic. */
  stableDeployment: string;
  /** Deployment of the canary, `<stable>-canary`. */
  canaryDeployment: string;
  /** Service name selecting stable pods; the canary Service is `<service>-canary`. */
  service: string;
  adoptDeployment?: string;
  port: number;
  replicas: number;
  resources: { gpu: number; cpu: string; memory: string };
  scheduling: {
    nodeSelector: Record<string, string>;
    tolerations: { key: string; operator: 'Equal' | 'Exists'; value?: string; effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' }[];
    allowSpot: boolean;
  };
  traffic: { provider: TrafficProviderName; routeName: string; gateway?: string };
  /** Model directory settings for mount mode (AZUREML_MODEL_DIR and the model's storage URI). */
  model?: { name: string; version: string; storageUri?: string };
  /** Pods of the canary Deployment for weight-based providers; 1 when absent. replica-ratio derives counts from the weight. */
  canaryReplicas?: number;
  /** HTTP probe paths of the model server; the Open Inference Protocol paths (/v2/health/ready, /v2/health/live) when absent. */
  probes?: { readinessPath: string; livenessPath: string; startupSeconds: number };
}

/** Labels that tie every object the pipeline writes to its endpoint and release. */
export const labelKeys = {
  endpoint: 'release.aksmlops.dev/endpoint',
  releaseId: 'release.aksmlops.dev/release-id',
  track: 'release.aksmlops.dev/track',
  managedBy: 'app.kubernetes.io/managed-by',
} as const;

/** Field manager of every server-side apply the pipeline sends. */
export const fieldManager = 'aks-model-release';
