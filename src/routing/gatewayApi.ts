import type { KubeClient, ObjectRef } from '../clients/kube';
import { describeRef, retryOnConflict } from '../clients/kube';
import type { ConflictRetryOptions } from '../clients/kube';
import type { KubernetesObject } from '../clients/kubeModule';
import { labelKeys } from '../contracts/target';
import type { ReleaseTarget } from '../contracts/target';
import { PermanentError } from '../errors';
import type { TrafficRouter, TrafficWeights } from './router';
import { checkWeight, percentOf } from './router';

/** Gateway API backendRef; only the fields this provider reads or writes are typed. */
interface BackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
  [other: string]: unknown;
}

interface RouteRule {
  backendRefs?: BackendRef[];
  [other: string]: unknown;
}

interface HttpRoute extends KubernetesObject {
  spec?: { parentRefs?: unknown[]; hostnames?: string[]; rules?: RouteRule[] };
}

function routeRef(target: ReleaseTarget): ObjectRef {
  return { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', namespace: target.namespace, name: target.traffic.routeName };
}

function isServiceRef(ref: BackendRef, name: string, namespace: string): boolean {
  return ref.name === name && (ref.kind ?? 'Service') === 'Service' && (ref.group ?? '') === '' && (ref.namespace ?? namespace) === namespace;
}

/** Parses `namespace/name` or `name` into a Gateway parentRef. */
export function parentRefOf(gateway: string): { name: string; namespace?: string } {
  const [first, second] = gateway.split('/');
  if (second !== undefined && first) return { namespace: first, name: second };
  return { name: first ?? gateway };
}

/**
 * Returns the route rules with the canary weight applied: every rule that
 * sends traffic to the stable Service gets stable weight `100 - w` and a
 * canary backendRef of weight `w` (or none when `w` is undefined, which
 * finalises). Rules that do not name the stable Service stay as they are.
 */
export function weightedRules(rules: RouteRule[], target: ReleaseTarget, canaryWeight: number | undefined): RouteRule[] {
  const canaryName = `${target.service}-canary`;
  return rules.map((rule) => {
    const refs = rule.backendRefs ?? [];
    const stable = refs.find((ref) => isServiceRef(ref, target.service, target.namespace));
    if (!stable) return rule;
    const others = refs.filter((ref) => !isServiceRef(ref, target.service, target.namespace) && !isServiceRef(ref, canaryName, target.namespace));
    const stableRef = { ...stable, weight: 100 - (canaryWeight ?? 0) };
    const backendRefs = canaryWeight === undefined ? [stableRef, ...others] : [stableRef, { ...stable, name: canaryName, port: target.port, weight: canaryWeight }, ...others];
    return { ...rule, backendRefs };
  });
}

/** Reads the weights from the first rule that names the stable Service; Gateway API weights default to 1. */
export function weightsFromRules(rules: RouteRule[], target: ReleaseTarget): TrafficWeights | undefined {
  const canaryName = `${target.service}-canary`;
  for (const rule of rules) {
    const refs = rule.backendRefs ?? [];
    const stable = refs.find((ref) => isServiceRef(ref, target.service, target.namespace));
    if (!stable) continue;
    const canary = refs.find((ref) => isServiceRef(ref, canaryName, target.namespace));
    return percentOf(stable.weight ?? 1, canary ? (canary.weight ?? 1) : 0);
  }
  return undefined;
}

/**
 * Splits traffic with the backendRef weights of a Gateway API HTTPRoute. It
 * creates the route when it is missing. On an existing route it changes only
 * the backendRefs of rules that send traffic to the stable Service. The merge
 * patch carries the resourceVersion it read, so a concurrent writer causes a
 * 409 and a fresh read instead of a lost update.
 */
export class GatewayApiRouter implements TrafficRouter {
  readonly provider = 'gateway-api' as const;

  constructor(
    private readonly kube: KubeClient,
    private readonly retry: ConflictRetryOptions = {},
  ) {}

  async reconcile(target: ReleaseTarget): Promise<void> {
    const route = await this.kube.read<HttpRoute>(routeRef(target));
    if (!route) {
      await this.create(target);
      return;
    }
    const current = this.currentWeights(route, target);
    await this.write(target, current.canary);
  }

  async readWeights(target: ReleaseTarget): Promise<TrafficWeights> {
    const route = await this.kube.read<HttpRoute>(routeRef(target));
    if (!route) return { stable: 100, canary: 0 };
    return this.currentWeights(route, target);
  }

  async setWeights(target: ReleaseTarget, canaryWeight: number): Promise<TrafficWeights> {
    checkWeight(canaryWeight, target);
    await this.reconcile(target);
    await this.write(target, canaryWeight);
    return { stable: 100 - canaryWeight, canary: canaryWeight };
  }

  async finalise(target: ReleaseTarget): Promise<void> {
    const route = await this.kube.read<HttpRoute>(routeRef(target));
    if (!route) return;
    await this.write(target, undefined);
  }

  private currentWeights(route: HttpRoute, target: ReleaseTarget): TrafficWeights {
    const weights = weightsFromRules(route.spec?.rules ?? [], target);
    if (!weights) {
      throw new PermanentError(`${describeRef(routeRef(target))} has no rule with a backendRef to Service ${target.service}: add one, or set traffic.routeName to the route that serves the endpoint`);
    }
    return weights;
  }

  private async create(target: ReleaseTarget): Promise<void> {
    if (!target.traffic.gateway) {
      throw new PermanentError(`${describeRef(routeRef(target))} does not exist and traffic.gateway is not set: name the Gateway the route attaches to, or create the HTTPRoute`);
    }
    const stable: BackendRef = { group: '', kind: 'Service', name: target.service, port: target.port, weight: 100 };
    const route: HttpRoute = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: target.traffic.routeName, namespace: target.namespace, labels: { [labelKeys.endpoint]: target.endpoint, [labelKeys.managedBy]: 'aks-model-release' } },
      spec: {
        parentRefs: [parentRefOf(target.traffic.gateway)],
        // Created with the canary backendRef at weight 0, the same rules a reconcile of an existing route produces.
        rules: weightedRules([{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [stable] }], target, 0),
      },
    };
    await this.kube.apply(route);
  }

  /** Read, compute, and merge-patch the rules when they differ; retried on 409. */
  private async write(target: ReleaseTarget, canaryWeight: number | undefined): Promise<void> {
    const ref = routeRef(target);
    await retryOnConflict(`set weights on ${describeRef(ref)}`, async () => {
      const route = await this.kube.read<HttpRoute>(ref);
      if (!route) throw new PermanentError(`${describeRef(ref)} disappeared while its weights were being set`);
      const rules = route.spec?.rules ?? [];
      const next = weightedRules(rules, target, canaryWeight);
      if (JSON.stringify(next) === JSON.stringify(rules)) return;
      await this.kube.mergePatch(ref, { metadata: { resourceVersion: route.metadata?.resourceVersion }, spec: { rules: next } });
    }, this.retry);
  }
}
