/**
 * Splits an endpoint's traffic across its stable and canary Deployments from
 * the routing objects, as a gateway or ingress controller would. Pure
 * functions over plain views of the Kubernetes objects.
 */

export type Track = 'stable' | 'canary';
export type RouterKind = 'httproute' | 'ingress' | 'replicas';

export interface DeploymentView {
  namespace: string;
  name: string;
  track: Track;
  /** Labels of the pod template, which Service selectors match. */
  podLabels: Record<string, string>;
  readyReplicas: number;
}

export interface ServiceView {
  namespace: string;
  name: string;
  /** Undefined for a Service without a selector, which selects no pods. */
  selector?: Record<string, string>;
}

export interface BackendRefView {
  name: string;
  namespace?: string;
  group?: string;
  kind?: string;
  weight?: number;
}

export interface HttpRouteView {
  namespace: string;
  name: string;
  rules: { backendRefs: BackendRefView[] }[];
}

export interface IngressView {
  namespace: string;
  name: string;
  /** `nginx.ingress.kubernetes.io/canary: "true"`. */
  canary: boolean;
  /** `nginx.ingress.kubernetes.io/canary-weight`, 0 when absent. */
  canaryWeight: number;
  /** `nginx.ingress.kubernetes.io/canary-weight-total`, 100 when absent. */
  canaryWeightTotal: number;
  /** One entry per host and path with a Service backend. */
  paths: { host: string; path: string; service: string }[];
}

export interface RoutingObjects {
  deployments: DeploymentView[];
  services: ServiceView[];
  httpRoutes: HttpRouteView[];
  ingresses: IngressView[];
}

/** The traffic split of one endpoint: a stable Deployment and its canary. */
export interface EndpointRouting {
  namespace: string;
  /** Name of the stable Deployment, which names the endpoint here. */
  endpoint: string;
  router: RouterKind;
  /** `namespace/name` of the HTTPRoute or Ingress that set the weights. */
  routeObject?: string;
  /** Share of the endpoint's requests per Deployment name; the shares add up to 1 or less. */
  weights: Record<string, number>;
}

/** Name of the endpoint a Deployment belongs to: a canary `<stable>-canary` belongs to `<stable>`. */
export function endpointOf(deployment: DeploymentView): string {
  return deployment.track === 'canary' && deployment.name.endsWith('-canary') ? deployment.name.slice(0, -'-canary'.length) : deployment.name;
}

/** Computes the traffic split of every endpoint; HTTPRoute wins over Ingress, which wins over ready replicas. */
export function computeRouting(objects: RoutingObjects): EndpointRouting[] {
  const groups = new Map<string, DeploymentView[]>();
  for (const deployment of objects.deployments) {
    const key = `${deployment.namespace}/${endpointOf(deployment)}`;
    groups.set(key, [...(groups.get(key) ?? []), deployment]);
  }

  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, members]) => {
      const [namespace = '', endpoint = ''] = key.split('/');
      const routing = routeByHttpRoute(namespace, endpoint, members, objects) ?? routeByIngress(namespace, endpoint, members, objects) ?? routeByReplicas(namespace, endpoint, members);
      // Every Deployment of the endpoint gets a weight, 0 when no route reaches it.
      for (const member of members) routing.weights[member.name] ??= 0;
      return routing;
    });
}

function selects(service: ServiceView, deployment: DeploymentView): boolean {
  if (!service.selector || Object.keys(service.selector).length === 0) return false;
  return Object.entries(service.selector).every(([key, value]) => deployment.podLabels[key] === value);
}

/**
 * Splits `share` across the group's Deployments that `serviceName` selects, by
 * ready replicas, as a Service spreads requests over its ready endpoints.
 * When no selected pod is ready, the share stays on the selected Deployments
 * evenly, and the generator counts those requests as 503.
 */
function addServiceShare(weights: Record<string, number>, serviceName: string, share: number, members: DeploymentView[], services: ServiceView[]): boolean {
  const service = services.find((candidate) => candidate.name === serviceName);
  if (!service) return false;
  const selected = members.filter((member) => selects(service, member));
  if (selected.length === 0) return false;

  const ready = selected.reduce((sum, member) => sum + member.readyReplicas, 0);
  for (const member of selected) {
    const part = ready > 0 ? member.readyReplicas / ready : 1 / selected.length;
    weights[member.name] = (weights[member.name] ?? 0) + share * part;
  }
  return true;
}

function isServiceRef(ref: BackendRefView): boolean {
  return (ref.group ?? '') === '' && (ref.kind ?? 'Service') === 'Service';
}

function routeByHttpRoute(namespace: string, endpoint: string, members: DeploymentView[], objects: RoutingObjects): EndpointRouting | undefined {
  const services = objects.services.filter((service) => service.namespace === namespace);
  const routes = objects.httpRoutes.filter((route) => route.namespace === namespace).sort((a, b) => a.name.localeCompare(b.name));

  for (const route of routes) {
    for (const rule of route.rules) {
      const refs = rule.backendRefs.filter((ref) => isServiceRef(ref) && (ref.namespace ?? namespace) === namespace);
      const touches = refs.some((ref) => services.some((service) => service.name === ref.name && members.some((member) => selects(service, member))));
      if (!touches) continue;

      // Gateway API: weight defaults to 1; shares are weight / sum of weights in the rule.
      const total = rule.backendRefs.reduce((sum, ref) => sum + (ref.weight ?? 1), 0);
      const weights: Record<string, number> = {};
      if (total > 0) for (const ref of refs) addServiceShare(weights, ref.name, (ref.weight ?? 1) / total, members, services);
      return { namespace, endpoint, router: 'httproute', routeObject: `${namespace}/${route.name}`, weights };
    }
  }
  return undefined;
}

function routeByIngress(namespace: string, endpoint: string, members: DeploymentView[], objects: RoutingObjects): EndpointRouting | undefined {
  const services = objects.services.filter((service) => service.namespace === namespace);
  const ingresses = objects.ingresses.filter((ingress) => ingress.namespace === namespace).sort((a, b) => a.name.localeCompare(b.name));
  const touches = (service: string): boolean => services.some((candidate) => candidate.name === service && members.some((member) => selects(candidate, member)));

  for (const main of ingresses.filter((ingress) => !ingress.canary)) {
    const mainPath = main.paths.find((path) => touches(path.service));
    if (!mainPath) continue;

    // ingress-nginx pairs a canary Ingress with the main one by host and path.
    const canary = ingresses.find((ingress) => ingress.canary && ingress.paths.some((path) => path.host === mainPath.host && path.path === mainPath.path));
    const canaryPath = canary?.paths.find((path) => path.host === mainPath.host && path.path === mainPath.path);
    const canaryShare = canary && canaryPath && canary.canaryWeightTotal > 0 ? Math.min(canary.canaryWeight, canary.canaryWeightTotal) / canary.canaryWeightTotal : 0;

    const weights: Record<string, number> = {};
    addServiceShare(weights, mainPath.service, 1 - canaryShare, members, services);
    if (canaryPath && canaryShare > 0) addServiceShare(weights, canaryPath.service, canaryShare, members, services);
    return { namespace, endpoint, router: 'ingress', routeObject: `${namespace}/${main.name}`, weights };
  }
  return undefined;
}

/** Without a route, one Service over both tracks spreads requests by ready pods. */
function routeByReplicas(namespace: string, endpoint: string, members: DeploymentView[]): EndpointRouting {
  const ready = members.reduce((sum, member) => sum + member.readyReplicas, 0);
  const weights: Record<string, number> = {};
  for (const member of members) {
    if (ready > 0) weights[member.name] = member.readyReplicas / ready;
    else weights[member.name] = member.track === 'stable' || members.length === 1 ? 1 : 0;
  }
  return { namespace, endpoint, router: 'replicas', weights };
}
