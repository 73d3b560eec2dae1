import type { KubeClient, ObjectRef } from '../clients/kube';
import { describeRef } from '../clients/kube';
import type { V1HTTPIngressPath, V1Ingress, V1IngressRule } from '../clients/kubeModule';
import { fieldManager, labelKeys } from '../contracts/target';
import type { ReleaseTarget } from '../contracts/target';
import { PermanentError } from '../errors';
import type { TrafficRouter, TrafficWeights } from './router';
import { checkWeight, weightsOf } from './router';

/** Annotations of the NGINX ingress controller's canary feature. */
export const nginxAnnotations = {
  canary: 'nginx.ingress.kubernetes.io/canary',
  weight: 'nginx.ingress.kubernetes.io/canary-weight',
  weightTotal: 'nginx.ingress.kubernetes.io/canary-weight-total',
} as const;

function primaryRef(target: ReleaseTarget): ObjectRef {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespace: target.namespace, name: target.traffic.routeName };
}

function canaryRef(target: ReleaseTarget): ObjectRef {
  return { ...primaryRef(target), name: `${target.traffic.routeName}-canary` };
}

/**
 * Keeps the hosts and paths of the primary Ingress that lead to the stable
 * Service and points them at the canary Service. NGINX pairs a canary Ingress
 * with the primary by host and path, so both must match exactly.
 */
export function canaryRules(primary: V1Ingress, target: ReleaseTarget): V1IngressRule[] {
  const canaryService = `${target.service}-canary`;
  const rules: V1IngressRule[] = [];
  for (const rule of primary.spec?.rules ?? []) {
    const paths: V1HTTPIngressPath[] = (rule.http?.paths ?? [])
      .filter((path) => path.backend.service?.name === target.service)
      .map((path) => ({ path: path.path, pathType: path.pathType, backend: { service: { name: canaryService, port: { number: target.port } } } }));
    if (paths.length === 0) continue;
    const canaryRule: V1IngressRule = { http: { paths } };
    if (rule.host !== undefined) canaryRule.host = rule.host;
    rules.push(canaryRule);
  }
  return rules;
}

/** Builds the canary Ingress that NGINX reads as "send `canaryWeight` % of this host and path to the canary". */
export function buildCanaryIngress(primary: V1Ingress, target: ReleaseTarget, canaryWeight: number): V1Ingress {
  const rules = canaryRules(primary, target);
  if (rules.length === 0) {
    throw new PermanentError(`${describeRef(primaryRef(target))} has no path with backend Service ${target.service}: point the Ingress at the stable Service, or set traffic.routeName`);
  }
  const spec: NonNullable<V1Ingress['spec']> = { rules };
  if (primary.spec?.ingressClassName) spec.ingressClassName = primary.spec.ingressClassName;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name: canaryRef(target).name,
      namespace: target.namespace,
      labels: { [labelKeys.endpoint]: target.endpoint, [labelKeys.track]: 'canary', [labelKeys.managedBy]: fieldManager },
      annotations: {
        [nginxAnnotations.canary]: 'true',
        [nginxAnnotations.weight]: String(canaryWeight),
        [nginxAnnotations.weightTotal]: '100',
      },
    },
    spec,
  };
}

/** Reads the canary weight of a canary Ingress; 0 when the annotations are missing or invalid. */
export function weightOfCanaryIngress(ingress: V1Ingress | undefined): number {
  const annotations = ingress?.metadata?.annotations ?? {};
  if (annotations[nginxAnnotations.canary] !== 'true') return 0;
  const weight = Number(annotations[nginxAnnotations.weight] ?? '0');
  const total = Number(annotations[nginxAnnotations.weightTotal] ?? '100');
  if (!Number.isFinite(weight) || !Number.isFinite(total) || total <= 0) return 0;
  return Math.round((100 * Math.min(Math.max(weight, 0), total)) / total);
}

/**
 * Splits traffic with the NGINX ingress controller's canary annotations on a
 * second Ingress, `<routeName>-canary`, that copies the hosts and paths of the
 * primary Ingress. The pipeline owns the canary Ingress entirely and never
 * writes the primary.
 */
export class NginxRouter implements TrafficRouter {
  readonly provider = 'nginx' as const;

  constructor(private readonly kube: KubeClient) {}

  async reconcile(target: ReleaseTarget): Promise<void> {
    const weight = weightOfCanaryIngress(await this.kube.read<V1Ingress>(canaryRef(target)));
    await this.apply(target, weight);
  }

  async readWeights(target: ReleaseTarget): Promise<TrafficWeights> {
    return weightsOf(weightOfCanaryIngress(await this.kube.read<V1Ingress>(canaryRef(target))));
  }

  async setWeights(target: ReleaseTarget, canaryWeight: number): Promise<TrafficWeights> {
    checkWeight(canaryWeight, target);
    await this.apply(target, canaryWeight);
    return weightsOf(canaryWeight);
  }

  async finalise(target: ReleaseTarget): Promise<void> {
    const ref = canaryRef(target);
    const canary = await this.kube.read<V1Ingress>(ref);
    if (!canary) return;
    // Weight 0 first: if the delete fails, no traffic reaches the canary meanwhile.
    if (weightOfCanaryIngress(canary) !== 0) {
      await this.kube.mergePatch(ref, { metadata: { annotations: { [nginxAnnotations.weight]: '0' } } });
    }
    await this.kube.delete(ref);
  }

  private async apply(target: ReleaseTarget, canaryWeight: number): Promise<void> {
    const primary = await this.kube.read<V1Ingress>(primaryRef(target));
    if (!primary) {
      throw new PermanentError(`${describeRef(primaryRef(target))} not found: the nginx provider needs the Ingress that routes to Service ${target.service}; create it or set traffic.routeName`);
    }
    await this.kube.apply(buildCanaryIngress(primary, target, canaryWeight));
  }
}
