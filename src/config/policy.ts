import { readFileSync } from 'node:fs';

import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

import { durationSeconds } from './duration';
import { formatIssues } from './issues';

/** Names of the traffic providers in src/routing. */
export const trafficProviders = ['gateway-api', 'nginx', 'replica-ratio'] as const;
export type TrafficProviderName = (typeof trafficProviders)[number];

const kubeName = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'expected a Kubernetes name: lowercase letters, digits and "-"').max(63);
const quantity = z.union([z.string().regex(/^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/, 'expected a Kubernetes quantity such as "500m", "2" or "8Gi"'), z.number().nonnegative()]);
const fraction = z.number().min(0).max(1);

const toleration = z.object({
  key: z.string(),
  operator: z.enum(['Equal', 'Exists']).default('Equal'),
  value: z.string().optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
});

const modelTrigger = z.object({
  /** Model name in the Azure ML registry. */
  name: z.string().min(1),
  /** ARM id or name of the workspace; any workspace when absent. */
  workspace: z.string().optional(),
});

const imageTrigger = z.object({
  registry: z.string().min(1),
  repository: z.string().min(1),
});

const gitTrigger = z.object({
  /** `owner/name` on GitHub, `project/repository` on Azure DevOps. */
  repository: z.string().min(1),
  provider: z.enum(['github', 'azure-devops']).default('github'),
  /** Branch names (without refs/heads/) whose pushes start a release. */
  branches: z.array(z.string().min(1)).default(['main']),
  /** Whether pushing a tag starts a release. */
  tags: z.boolean().default(false),
  /** Whether a published GitHub release starts a release. */
  releases: z.boolean().default(false),
});

const metricThreshold = z
  .object({ name: z.string().min(1), min: z.number().optional(), max: z.number().optional() })
  .refine((t) => t.min !== undefined || t.max !== undefined, { message: 'expected min, max or both' });

const customQuery = z
  .object({
    name: z.string().min(1),
    /** PromQL; `{{namespace}}`, `{{deployment}}`, `{{window}}` are replaced before the query runs. */
    query: z.string().min(1),
    min: z.number().optional(),
    max: z.number().optional(),
  })
  .refine((q) => q.min !== undefined || q.max !== undefined, { message: 'expected min, max or both' });

const endpointPolicy = z.object({
  name: kubeName,
  namespace: kubeName,
  /** Azure region of the cluster that serves this endpoint, checked against allowedRegions. */
  region: z.string().min(1),
  /** Deployment that serves stable traffic; the canary is named `<stable>-canary`. */
  deployment: kubeName,
  /** Adopt this existing Deployment as stable on the first release instead of creating one. */
  adoptDeployment: kubeName.optional(),
  /** Service and container port of the model server. */
  port: z.number().int().min(1).max(65535).default(8080),
  replicas: z.number().int().min(1).max(100).default(2),
  triggers: z
    .object({
      models: z.array(modelTrigger).default([]),
      images: z.array(imageTrigger).default([]),
      git: z.array(gitTrigger).default([]),
    })
    .default({ models: [], images: [], git: [] }),
  build: z
    .discriminatedUnion('mode', [
      z.object({
        mode: z.literal('mount'),
        /** Generic serving image that loads the model from AZUREML_MODEL_DIR, by digest. */
        servingImage: z.string().regex(/@sha256:[0-9a-f]{64}$/, 'expected an image reference by digest: registry/repository@sha256:<64 hex digits>'),
      }),
      z.object({
        mode: z.literal('bake'),
        /** Repository in the registry that receives baked images. */
        repository: z.string().min(1),
        dockerfile: z.string().default('infra/build/Dockerfile.template'),
        timeout: durationSeconds.default(1800),
      }),
    ])
    .optional(),
  resources: z
    .object({
      gpu: z.number().int().min(0).default(0),
      cpu: quantity.default('1'),
      memory: quantity.default('2Gi'),
    })
    .default({ gpu: 0, cpu: '1', memory: '2Gi' }),
  scheduling: z
    .object({
      nodeSelector: z.record(z.string(), z.string()).default({}),
      tolerations: z.array(toleration).default([]),
      /** Whether canary and stable pods may run on spot nodes. */
      allowSpot: z.boolean().default(false),
    })
    .default({ nodeSelector: {}, tolerations: [], allowSpot: false }),
  traffic: z
    .object({
      /** Traffic provider; the DEFAULT_TRAFFIC_PROVIDER setting applies when the policy names none. */
      provider: z.enum(trafficProviders).optional(),
      /** HTTPRoute name (gateway-api) or Ingress name (nginx); defaults to the endpoint name. */
      routeName: kubeName.optional(),
      /** Gateway that the HTTPRoute attaches to, as `namespace/name` or `name`. */
      gateway: z.string().optional(),
    })
    .default({}),
  canary: z
    .object({
      /** Canary traffic weights in percent, ascending, each 1..99. */
      steps: z.array(z.number().int().min(1).max(99)).min(1).default([10, 25, 50]),
      bake: durationSeconds.default(300),
      progressDeadline: durationSeconds.default(600),
      /** Failed checks that roll the release back. */
      maxFailedChecks: z.number().int().min(1).default(1),
    })
    .default({ steps: [10, 25, 50], bake: 300, progressDeadline: 600, maxFailedChecks: 1 })
    .refine((c) => c.steps.every((s, i) => i === 0 || s > (c.steps[i - 1] ?? 0)), { message: 'steps must be strictly ascending', path: ['steps'] }),
  analysis: z
    .object({
      /** Query window; allow at least two scrape intervals. */
      window: durationSeconds.default(60),
      successRate: z.object({ min: fraction }).default({ min: 0.99 }),
      latency: z
        .object({ percentile: z.number().gt(0).lt(1).default(0.99), maxMs: z.number().positive() })
        .default({ percentile: 0.99, maxMs: 500 }),
      queries: z.array(customQuery).default([]),
      /** What an inconclusive analysis (no data, query failed) does. */
      onInconclusive: z.enum(['pause', 'rollback', 'continue']).default('pause'),
    })
    .default({ window: 60, successRate: { min: 0.99 }, latency: { percentile: 0.99, maxMs: 500 }, queries: [], onInconclusive: 'pause' }),
  validation: z
    .object({
      requiredTags: z.array(z.string().min(1)).default([]),
      allowedModelTypes: z.array(z.string().min(1)).default([]),
      allowedFlavors: z.array(z.string().min(1)).default([]),
      /** Thresholds on numbers stored in the model version's properties. */
      metrics: z.array(metricThreshold).default([]),
    })
    .default({ requiredTags: [], allowedModelTypes: [], allowedFlavors: [], metrics: [] }),
  approval: z
    .object({
      required: z.boolean().default(false),
      timeout: durationSeconds.default(3600),
      onTimeout: z.enum(['rollback', 'promote']).default('rollback'),
    })
    .default({ required: false, timeout: 3600, onTimeout: 'rollback' }),
});

/** Current policy document schema. Older versions get their own reader when the format changes. */
export const releasePolicySchema = z
  .object({
    apiVersion: z.literal('release.aksmlops.dev/v1', { message: 'expected apiVersion "release.aksmlops.dev/v1"' }),
    kind: z.literal('ReleasePolicy', { message: 'expected kind "ReleasePolicy"' }),
    /** Azure regions (ARM names such as `switzerlandnorth`) where models and targets may live. */
    allowedRegions: z.array(z.string().min(1)).min(1),
    endpoints: z.array(endpointPolicy).min(1),
  })
  .superRefine((policy, ctx) => {
    const seen = new Set<string>();
    policy.endpoints.forEach((endpoint, index) => {
      if (seen.has(endpoint.name)) {
        ctx.addIssue({ code: 'custom', path: ['endpoints', index, 'name'], message: `duplicate endpoint name "${endpoint.name}"` });
      }
      seen.add(endpoint.name);
      if (!policy.allowedRegions.includes(endpoint.region)) {
        ctx.addIssue({ code: 'custom', path: ['endpoints', index, 'region'], message: `region "${endpoint.region}" is not in allowedRegions (${policy.allowedRegions.join(', ')})` });
      }
    });
  });

export type ReleasePolicy = z.infer<typeof releasePolicySchema>;
export type EndpointPolicy = ReleasePolicy['endpoints'][number];

/** Raised when a policy document cannot be read or is invalid; the message lists every problem with its field path. */
export class PolicyError extends Error {
  override name = 'PolicyError';
}

/** Parses and validates a policy document given as YAML or JSON text. */
export function parseReleasePolicy(text: string, origin = 'release policy'): ReleasePolicy {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new PolicyError(`${origin} is not valid YAML or JSON: ${(error as Error).message}`, { cause: error });
  }
  const result = releasePolicySchema.safeParse(raw);
  if (!result.success) {
    throw new PolicyError(`${origin} is invalid:\n${formatIssues(result.error.issues)}`);
  }
  return result.data;
}

/** Reads and validates the policy file; throws PolicyError with the path and every problem. */
export function loadReleasePolicy(path: string): ReleasePolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new PolicyError(`cannot read release policy file ${path}: ${(error as Error).message}. Set RELEASE_POLICY_FILE to the path of a policy document.`, { cause: error });
  }
  return parseReleasePolicy(text, `release policy ${path}`);
}

/** Finds the endpoint policy by name, or undefined. */
export function findEndpoint(policy: ReleasePolicy, name: string): EndpointPolicy | undefined {
  return policy.endpoints.find((e) => e.name === name);
}
