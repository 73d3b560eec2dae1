/**
 * Loads @kubernetes/client-node, which ships only as ES modules, from this
 * CommonJS project. Node 22 can require() an ES module, but TypeScript with
 * `module: node16` rejects a static import of one, so values come through
 * require() and types through a type-only import in import resolution mode.
 * NOTE: with `module: node20` in tsconfig.json the other files could import the package directly.
 */
import type * as K8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };

// eslint-disable-next-line @typescript-eslint/no-require-imports
const k8s = require('@kubernetes/client-node') as typeof K8s;

export const { ApiException, KubeConfig, KubernetesObjectApi, PatchStrategy } = k8s;
export type ApiException<T> = K8s.ApiException<T>;
export type KubeConfig = K8s.KubeConfig;
export type KubernetesObjectApi = K8s.KubernetesObjectApi;
export type PatchStrategy = K8s.PatchStrategy;
export type Authenticator = Parameters<K8s.KubeConfig['addAuthenticator']>[0];
export type { Cluster, KubernetesListObject, KubernetesObject, User, V1Affinity, V1Deployment, V1Toleration, V1Ingress, V1IngressRule, V1HTTPIngressPath, V1Namespace, V1Node, V1Pod, V1Service, V1Taint, V1ReplicaSet, CoreV1Event } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
