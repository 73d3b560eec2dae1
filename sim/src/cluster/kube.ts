import type * as k8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };

/** Typed API clients for one kubeconfig. */
export interface KubeClients {
  module: typeof k8s;
  config: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  networking: k8s.NetworkingV1Api;
  policy: k8s.PolicyV1Api;
  custom: k8s.CustomObjectsApi;
  extensions: k8s.ApiextensionsV1Api;
  objects: k8s.KubernetesObjectApi;
}

/** Field manager of every object sim writes. */
export const simFieldManager = 'aks-mlops-sim';

/**
 * Loads @kubernetes/client-node and builds clients from a kubeconfig file.
 * The package ships only as an ES module, so a CommonJS build reaches it
 * through a dynamic import.
 */
export async function kubeClients(kubeconfigPath: string): Promise<KubeClients> {
  const module = await import('@kubernetes/client-node');
  const config = new module.KubeConfig();
  config.loadFromFile(kubeconfigPath);
  return {
    module,
    config,
    core: config.makeApiClient(module.CoreV1Api),
    apps: config.makeApiClient(module.AppsV1Api),
    networking: config.makeApiClient(module.NetworkingV1Api),
    policy: config.makeApiClient(module.PolicyV1Api),
    custom: config.makeApiClient(module.CustomObjectsApi),
    extensions: config.makeApiClient(module.ApiextensionsV1Api),
    objects: module.KubernetesObjectApi.makeApiClient(config),
  };
}

/** HTTP status of an error from @kubernetes/client-node, or undefined for other errors. */
export function apiStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/** Server-side applies one object with sim's field manager, taking over conflicting fields. */
export async function applyObject(clients: KubeClients, object: k8s.KubernetesObject): Promise<k8s.KubernetesObject> {
  return clients.objects.patch(object, undefined, undefined, simFieldManager, true, clients.module.PatchStrategy.ServerSideApply);
}
