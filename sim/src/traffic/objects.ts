import type * as k8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };

import { labelKeys } from '../../../src/contracts/target';
import { apiStatus, type KubeClients } from '../cluster/kube';
import type { BackendRefView, DeploymentView, HttpRouteView, IngressView, RoutingObjects, Track } from './routing';

/** Namespaces whose Deployments are cluster machinery, not model servers. */
const systemNamespaces = new Set(['kube-system', 'kube-public', 'kube-node-lease']);

const canaryAnnotation = 'nginx.ingress.kubernetes.io/canary';
const canaryWeightAnnotation = 'nginx.ingress.kubernetes.io/canary-weight';
const canaryWeightTotalAnnotation = 'nginx.ingress.kubernetes.io/canary-weight-total';

/** Reads Deployments, Services, HTTPRoutes and Ingresses of every namespace except the kube-* ones. */
export async function readRoutingObjects(clients: KubeClients): Promise<RoutingObjects> {
  const [deployments, services, ingresses, httpRoutes] = await Promise.all([
    clients.apps.listDeploymentForAllNamespaces(),
    clients.core.listServiceForAllNamespaces(),
    clients.networking.listIngressForAllNamespaces(),
    listHttpRoutes(clients),
  ]);
  const inScope = (namespace: string | undefined): boolean => namespace !== undefined && !systemNamespaces.has(namespace);

  return {
    deployments: deployments.items.filter((item) => inScope(item.metadata?.namespace)).map(deploymentView),
    services: services.items
      .filter((item) => inScope(item.metadata?.namespace))
      .map((item) => ({ namespace: item.metadata?.namespace ?? '', name: item.metadata?.name ?? '', selector: item.spec?.selector })),
    httpRoutes: httpRoutes.filter((route) => inScope(route.namespace)),
    ingresses: ingresses.items.filter((item) => inScope(item.metadata?.namespace)).map(ingressView),
  };
}

function deploymentView(item: k8s.V1Deployment): DeploymentView {
  const name = item.metadata?.name ?? '';
  const trackLabel = item.metadata?.labels?.[labelKeys.track];
  const track: Track = trackLabel === 'canary' || (trackLabel === undefined && name.endsWith('-canary')) ? 'canary' : 'stable';
  return {
    namespace: item.metadata?.namespace ?? '',
    name,
    track,
    podLabels: item.spec?.template.metadata?.labels ?? {},
    readyReplicas: item.status?.readyReplicas ?? 0,
  };
}

function ingressView(item: k8s.V1Ingress): IngressView {
  const annotations = item.metadata?.annotations ?? {};
  const paths: IngressView['paths'] = [];
  for (const rule of item.spec?.rules ?? []) {
    for (const path of rule.http?.paths ?? []) {
      const service = path.backend.service?.name;
      if (service) paths.push({ host: rule.host ?? '', path: path.path ?? '/', service });
    }
  }
  const defaultService = item.spec?.defaultBackend?.service?.name;
  if (defaultService) paths.push({ host: '', path: '/', service: defaultService });

  return {
    namespace: item.metadata?.namespace ?? '',
    name: item.metadata?.name ?? '',
    canary: annotations[canaryAnnotation] === 'true',
    canaryWeight: integerOr(annotations[canaryWeightAnnotation], 0),
    canaryWeightTotal: integerOr(annotations[canaryWeightTotalAnnotation], 100),
    paths,
  };
}

function integerOr(text: string | undefined, fallback: number): number {
  const value = text === undefined ? NaN : Number.parseInt(text, 10);
  return Number.isFinite(value) && value >= 0 ? value : fallback;
}

interface HttpRouteObject {
  metadata?: { name?: string; namespace?: string };
  spec?: { rules?: { backendRefs?: BackendRefView[] }[] };
}

async function listHttpRoutes(clients: KubeClients): Promise<HttpRouteView[]> {
  try {
    const list = (await clients.custom.listClusterCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes' })) as { items?: HttpRouteObject[] };
    return (list.items ?? []).map((item) => ({
      namespace: item.metadata?.namespace ?? '',
      name: item.metadata?.name ?? '',
      rules: (item.spec?.rules ?? []).map((rule) => ({ backendRefs: rule.backendRefs ?? [] })),
    }));
  } catch (error) {
    // A cluster without the Gateway API CRDs has no HTTPRoutes to read.
    if (apiStatus(error) === 404) return [];
    throw error;
  }
}
