import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type * as k8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { parseAllDocuments } from 'yaml';

import { waitFor } from '../support';
import { applyObject, type KubeClients } from './kube';

/** Namespace the release pipeline deploys models into. */
export const modelsNamespace = 'models';
/** Namespace and name of the shared Gateway that HTTPRoutes attach to. */
export const inferenceGateway = { namespace: 'gateways', name: 'inference' } as const;
/** GatewayClass of the sim Gateway; no controller serves it, the traffic generator reads the routes. */
export const simGatewayClass = 'sim';

/**
 * Installs the Gateway API standard CRDs from the assets directory and waits
 * until the API server serves them.
 */
export async function installGatewayApiCrds(clients: KubeClients, assetsDir: string): Promise<string[]> {
  const dir = join(assetsDir, 'crds');
  const objects = readdirSync(dir)
    .filter((name) => name.endsWith('.yaml'))
    .sort()
    .flatMap((file) => parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((document) => document.toJS() as k8s.KubernetesObject | null))
    .filter((object): object is k8s.KubernetesObject => object !== null && typeof object.kind === 'string');

  // CRDs first and in parallel: applied one by one they took 18 s on a busy
  // two-core machine. The admission policy objects that refer to them follow.
  const crds = objects.filter((object) => object.kind === 'CustomResourceDefinition');
  await Promise.all(crds.map((object) => applyObject(clients, object)));
  for (const object of objects.filter((candidate) => candidate.kind !== 'CustomResourceDefinition')) await applyObject(clients, object);

  const crdNames = crds.map((object) => object.metadata?.name ?? '');
  await Promise.all(crdNames.map((name) =>
    waitFor(`CRD ${name} to be Established`, async () => {
      const crd = await clients.extensions.readCustomResourceDefinition({ name });
      return crd.status?.conditions?.some((condition) => condition.type === 'Established' && condition.status === 'True') ? true : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 }),
  ));
  return crdNames;
}

/**
 * Objects every sim cluster starts with: the models and gateways namespaces,
 * the Gateway that HTTPRoutes attach to, and an IngressClass `nginx` so that
 * NGINX-style canary Ingresses validate as they would on AKS.
 */
export function baseObjects(): k8s.KubernetesObject[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: modelsNamespace } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: inferenceGateway.namespace } },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GatewayClass',
      metadata: { name: simGatewayClass },
      spec: { controllerName: 'sim.aksmlops.dev/traffic-generator', description: 'Routes read by the sim traffic generator; no data plane runs.' },
    } as k8s.KubernetesObject,
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: inferenceGateway.name, namespace: inferenceGateway.namespace },
      spec: {
        gatewayClassName: simGatewayClass,
        listeners: [{ name: 'http', protocol: 'HTTP', port: 80, allowedRoutes: { namespaces: { from: 'All' } } }],
      },
    } as k8s.KubernetesObject,
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'IngressClass',
      metadata: { name: 'nginx' },
      spec: { controller: 'k8s.io/ingress-nginx' },
    } as k8s.KubernetesObject,
  ];
}

/** Applies the base objects; namespaces first, because the Gateway lives in one. */
export async function applyBaseObjects(clients: KubeClients): Promise<void> {
  for (const object of baseObjects()) await applyObject(clients, object);
}
