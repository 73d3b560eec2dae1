/**
 * Cluster activities against a real Kubernetes API server, scheduler and
 * controllers from the sim (kwok simulates the nodes and the kubelet).
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';

import { startSims } from '../sim/azureHarness';
import { resetSettingsForTests } from '../../src/config/settings';
import { KubeClient, loadKubeConfigFile } from '../../src/clients/kube';
import type { ObjectRef } from '../../src/clients/kube';
import type { KubernetesObject, V1Deployment, V1Ingress, V1Pod, V1Service } from '../../src/clients/kubeModule';
import { GatewayApiRouter } from '../../src/routing/gatewayApi';
import { NginxRouter } from '../../src/routing/nginx';
import { ReplicaRatioRouter } from '../../src/routing/replicaRatio';
import { labelKeys } from '../../src/contracts/target';
import type { ReleaseTarget } from '../../src/contracts/target';
import { PermanentError } from '../../src/errors';
import { imageV1, imageV2, targetOf } from './fixtures';
import { createNamespace, namespaceState, startClusterFixture, waitForRollout } from './simCluster';
import type { ClusterFixture } from './simCluster';

jest.setTimeout(300_000);

let fixture: ClusterFixture;

beforeAll(async () => {
  fixture = await startClusterFixture('cluster-activities');
  // Room for stable, canary and one surge pod of a GPU rollout, beside the default pools.
  await fixture.cluster.scaleNodePool('gpu', 4);
});

afterAll(async () => {
  await fixture?.stop();
});

function deployment(target: ReleaseTarget, name: string): Promise<V1Deployment | undefined> {
  return fixture.kube.read<V1Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: target.namespace, name });
}

function service(target: ReleaseTarget, name: string): Promise<V1Service | undefined> {
  return fixture.kube.read<V1Service>({ apiVersion: 'v1', kind: 'Service', namespace: target.namespace, name });
}

function imageOf(d: V1Deployment | undefined): string | undefined {
  return d?.spec?.template.spec?.containers[0]?.image;
}

/** Runs one activity twice and checks that the second run changes nothing. */
async function twice<T>(target: ReleaseTarget, call: () => Promise<T>): Promise<T> {
  const first = await call();
  const before = await namespaceState(fixture.kube, target.namespace);
  const second = await call();
  expect(await namespaceState(fixture.kube, target.namespace)).toEqual(before);
  expect(second).toEqual(first);
  return first;
}

describe('gateway-api release', () => {
  const target = targetOf({ namespace: 'gw', replicas: 1 });

  beforeAll(async () => {
    await createNamespace(fixture.kube, 'gw');
  });

  test('preflight passes on gpu pool', async () => {
    expect(await fixture.handlers.preflightTarget({ target, image: imageV1 })).toEqual({ ok: true, reasons: [] });
  });

  test('ensureStable deploys stable', async () => {
    expect(await twice(target, () => fixture.handlers.ensureStable({ target, image: imageV1 }))).toEqual({ origin: 'deployed', stableImage: imageV1, created: true });
    await waitForRollout(fixture, target, 'stable', (s) => s.ready);
    expect((await service(target, 'sentiment'))?.spec?.selector).toEqual({ [labelKeys.endpoint]: 'sentiment', [labelKeys.track]: 'stable' });
  });

  test('applyCanary places pods on gpu nodes', async () => {
    const result = await twice(target, () => fixture.handlers.applyCanary({ target, image: imageV2 }));
    expect(result.generation).toBe(1);
    const state = await waitForRollout(fixture, target, 'canary', (s) => s.ready);
    expect(state).toEqual({ ready: true, desiredReplicas: 1, readyReplicas: 1, unschedulable: false });

    const pods = await fixture.kube.list<V1Pod>({ apiVersion: 'v1', kind: 'Pod', namespace: 'gw', labelSelector: `${labelKeys.track}=canary` });
    expect(pods).toHaveLength(1);
    expect(pods[0]?.spec?.nodeName).toMatch(/^aks-gpu-/);
    expect(pods[0]?.spec?.containers[0]?.resources?.limits?.['nvidia.com/gpu']).toBe('1');
    expect((await service(target, 'sentiment-canary'))?.spec?.selector).toEqual({ [labelKeys.endpoint]: 'sentiment', [labelKeys.track]: 'canary' });
  });

  test('setTrafficWeight writes route weights', async () => {
    expect(await twice(target, () => fixture.handlers.setTrafficWeight({ target, canaryWeight: 25 }))).toEqual({ canaryWeight: 25 });
    const route = await fixture.kube.read<{ spec: { rules: { backendRefs: { name: string; weight: number }[] }[] } } & V1Service>({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', namespace: 'gw', name: 'sentiment' });
    expect(route?.spec.rules[0]?.backendRefs.map((r) => [r.name, r.weight])).toEqual([['sentiment', 75], ['sentiment-canary', 25]]);
    expect(await new GatewayApiRouter(fixture.kube).readWeights(target)).toEqual({ stable: 75, canary: 25 });
  });

  test('promote then remove leaves new stable only', async () => {
    await twice(target, () => fixture.handlers.promoteStable({ target, image: imageV2 }));
    await waitForRollout(fixture, target, 'stable', (s) => s.ready);
    const removed = await twice(target, () => fixture.handlers.removeCanary({ target }));
    expect(removed.removed).toEqual(['Deployment gw/sentiment-canary', 'Service gw/sentiment-canary']);

    expect(imageOf(await deployment(target, 'sentiment'))).toBe(imageV2);
    expect(await deployment(target, 'sentiment-canary')).toBeUndefined();
    expect(await service(target, 'sentiment-canary')).toBeUndefined();
    expect(await new GatewayApiRouter(fixture.kube).readWeights(target)).toEqual({ stable: 100, canary: 0 });
    const nextRelease = { ...target, releaseId: `${target.releaseId}-next` };
    expect(await fixture.handlers.ensureStable({ target: nextRelease, image: imageV1 })).toEqual({ origin: 'deployed', stableImage: imageV2, created: false });
  });
});

describe('nginx rollback of adopted stable', () => {
  const target = targetOf({
    namespace: 'ngx',
    stableDeployment: 'sentiment',
    canaryDeployment: 'sentiment-canary',
    adoptDeployment: 'web',
    service: 'web',
    resources: { gpu: 0, cpu: '100m', memory: '128Mi' },
    scheduling: { nodeSelector: {}, tolerations: [], allowSpot: false },
    traffic: { provider: 'nginx', routeName: 'web' },
  });
  const webImage = 'registry.example.com/web@sha256:' + 'a'.repeat(64);

  beforeAll(async () => {
    await createNamespace(fixture.kube, 'ngx');
    // Objects a team created before the pipeline arrived, with its own labels.
    await fixture.kube.apply({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'ngx' }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: webImage }] } } } });
    await fixture.kube.apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'ngx' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } });
    await fixture.kube.apply({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'web', namespace: 'ngx' }, spec: { ingressClassName: 'nginx', rules: [{ host: 'web.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] } });
  });

  test('preflight needs the primary ingress', async () => {
    const result = await fixture.handlers.preflightTarget({ target: { ...target, traffic: { provider: 'nginx', routeName: 'absent' } }, image: imageV2 });
    expect(result.reasons).toEqual(['Ingress ngx/absent not found: the nginx provider needs the Ingress that routes to Service web; create it or set traffic.routeName']);
    expect(await fixture.handlers.preflightTarget({ target, image: imageV2 })).toEqual({ ok: true, reasons: [] });
  });

  test('preflight needs a gateway for new routes', async () => {
    const result = await fixture.handlers.preflightTarget({ target: { ...target, traffic: { provider: 'gateway-api', routeName: 'web' } }, image: imageV2 });
    expect(result.reasons).toEqual(['HTTPRoute ngx/web not found and traffic.gateway is not set: name the Gateway in the policy so the pipeline can create the route']);
  });

  test('ensureStable adopts named deployment', async () => {
    expect(await twice(target, () => fixture.handlers.ensureStable({ target, image: imageV1 }))).toEqual({ origin: 'adopted', stableImage: webImage, created: false });
  });

  test('canary ingress carries weight', async () => {
    await fixture.handlers.applyCanary({ target, image: imageV2 });
    await waitForRollout(fixture, target, 'canary', (s) => s.ready);
    expect(await twice(target, () => fixture.handlers.setTrafficWeight({ target, canaryWeight: 40 }))).toEqual({ canaryWeight: 40 });
    const canary = await fixture.kube.read<V1Ingress>({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespace: 'ngx', name: 'web-canary' });
    expect(canary?.metadata?.annotations?.['nginx.ingress.kubernetes.io/canary']).toBe('true');
    expect(canary?.metadata?.annotations?.['nginx.ingress.kubernetes.io/canary-weight']).toBe('40');
    expect(canary?.spec?.rules?.[0]?.http?.paths[0]?.backend.service?.name).toBe('web-canary');
    expect(await new NginxRouter(fixture.kube).readWeights({ ...target, stableDeployment: 'web' })).toEqual({ stable: 60, canary: 40 });
  });

  test('rollback leaves stable untouched', async () => {
    const before = await deployment(target, 'web');
    await twice(target, () => fixture.handlers.restoreStable({ target }));
    await waitForRollout(fixture, target, 'stable', (s) => s.ready);
    await twice(target, () => fixture.handlers.removeCanary({ target }));

    const after = await deployment(target, 'web');
    expect(after?.spec).toEqual(before?.spec);
    expect(after?.metadata?.generation).toBe(before?.metadata?.generation);
    expect(await fixture.kube.read({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespace: 'ngx', name: 'web-canary' })).toBeUndefined();
    expect(await fixture.kube.read({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespace: 'ngx', name: 'web' })).toBeDefined();
    expect(await deployment(target, 'sentiment-canary')).toBeUndefined();
  });
});

describe('replica-ratio weights', () => {
  const target = targetOf({
    namespace: 'rr',
    replicas: 4,
    resources: { gpu: 0, cpu: '100m', memory: '128Mi' },
    scheduling: { nodeSelector: {}, tolerations: [], allowSpot: false },
    traffic: { provider: 'replica-ratio', routeName: 'sentiment' },
  });

  beforeAll(async () => {
    await createNamespace(fixture.kube, 'rr');
    await fixture.handlers.ensureStable({ target, image: imageV1 });
    await fixture.handlers.applyCanary({ target, image: imageV2 });
    await waitForRollout(fixture, target, 'canary', (s) => s.ready);
  });

  test('service selects both tracks', async () => {
    expect((await service(target, 'sentiment'))?.spec?.selector).toEqual({ [labelKeys.endpoint]: 'sentiment' });
  });

  test('weights follow replica counts', async () => {
    expect(await twice(target, () => fixture.handlers.setTrafficWeight({ target, canaryWeight: 25 }))).toEqual({ canaryWeight: 25 });
    expect((await deployment(target, 'sentiment'))?.spec?.replicas).toBe(3);
    expect((await deployment(target, 'sentiment-canary'))?.spec?.replicas).toBe(1);
    expect(await fixture.handlers.setTrafficWeight({ target, canaryWeight: 10 })).toEqual({ canaryWeight: 25 });
    expect(await fixture.handlers.setTrafficWeight({ target, canaryWeight: 50 })).toEqual({ canaryWeight: 50 });
    expect(await new ReplicaRatioRouter(fixture.kube).readWeights(target)).toEqual({ stable: 50, canary: 50 });
  });

  test('re-applied canary keeps its count', async () => {
    await fixture.handlers.applyCanary({ target, image: imageV2 });
    expect((await deployment(target, 'sentiment-canary'))?.spec?.replicas).toBe(2);
  });

  test('rollback restores stable size', async () => {
    await fixture.handlers.restoreStable({ target });
    await waitForRollout(fixture, target, 'stable', (s) => s.ready && s.readyReplicas === 4);
    await fixture.handlers.removeCanary({ target });
    const stable = await deployment(target, 'sentiment');
    expect(stable?.spec?.replicas).toBe(4);
    expect(imageOf(stable)).toBe(imageV1);
    expect(await deployment(target, 'sentiment-canary')).toBeUndefined();
  });
});

describe('replica-ratio promotion', () => {
  const target = targetOf({
    namespace: 'rrp',
    replicas: 4,
    resources: { gpu: 0, cpu: '100m', memory: '128Mi' },
    scheduling: { nodeSelector: {}, tolerations: [], allowSpot: false },
    traffic: { provider: 'replica-ratio', routeName: 'sentiment' },
  });

  beforeAll(async () => {
    await createNamespace(fixture.kube, 'rrp');
    await fixture.handlers.ensureStable({ target, image: imageV1 });
    await fixture.handlers.applyCanary({ target, image: imageV2 });
    await waitForRollout(fixture, target, 'canary', (s) => s.ready);
    await fixture.handlers.setTrafficWeight({ target, canaryWeight: 50 });
  });

  test('promote sizes stable before removal', async () => {
    await twice(target, () => fixture.handlers.promoteStable({ target, image: imageV2 }));
    const stable = await deployment(target, 'sentiment');
    expect(stable?.spec?.replicas).toBe(4);
    expect(imageOf(stable)).toBe(imageV2);
    expect(await waitForRollout(fixture, target, 'stable', (s) => s.ready)).toMatchObject({ readyReplicas: 4 });

    await fixture.handlers.removeCanary({ target });
    expect(await deployment(target, 'sentiment-canary')).toBeUndefined();
    expect((await deployment(target, 'sentiment'))?.spec?.replicas).toBe(4);
  });
});

describe('unschedulable canary', () => {
  const stableTarget = targetOf({ namespace: 'big', replicas: 1, resources: { gpu: 0, cpu: '100m', memory: '128Mi' } });
  const greedy: ReleaseTarget = { ...stableTarget, resources: { gpu: 8, cpu: '100m', memory: '128Mi' } };

  beforeAll(async () => {
    await createNamespace(fixture.kube, 'big');
    await fixture.handlers.ensureStable({ target: stableTarget, image: imageV1 });
  });

  test('preflight names the gpu shortfall', async () => {
    const result = await fixture.handlers.preflightTarget({ target: greedy, image: imageV2 });
    expect(result.ok).toBe(false);
    expect(result.reasons).toEqual([expect.stringMatching(/no node in pool gpu has 8 allocatable nvidia.com\/gpu \(largest: 1\)/)]);
  });

  test('preflight counts GPUs in use', async () => {
    // The gateway-api release left its stable pod on one of the four GPU nodes.
    const result = await fixture.handlers.preflightTarget({ target: { ...stableTarget, resources: { gpu: 1, cpu: '100m', memory: '128Mi' }, canaryReplicas: 5 }, image: imageV2 });
    expect(result.ok).toBe(false);
    expect(result.reasons).toHaveLength(1);
    expect(result.reasons[0]).toMatch(/^GPU nodes have room for 3 of 5 pods with 1 nvidia.com\/gpu each \(.*\): scale node pool gpu up by 2 node\(s\)$/);
  });

  test('checkRollout reports scheduler reason', async () => {
    await fixture.handlers.applyCanary({ target: greedy, image: imageV2 });
    const state = await waitForRollout(fixture, greedy, 'canary', (s) => s.unschedulable);
    expect(state.ready).toBe(false);
    expect(state.reason).toMatch(/^Deployment big\/sentiment-canary: pod sentiment-canary-[a-z0-9-]+ is unschedulable: 0\/\d+ nodes are available: .*Insufficient nvidia.com\/gpu/);
  });

  test('missing namespace fails preflight', async () => {
    const result = await fixture.handlers.preflightTarget({ target: { ...stableTarget, namespace: 'absent' }, image: 'repo/model:latest' });
    expect(result.ok).toBe(false);
    expect(result.reasons).toEqual([
      'image "repo/model:latest" is addressed by tag: releases deploy images by digest, so name registry/repository@sha256:<64 hex digits>',
      'namespace absent not found: create it, or fix endpoints[].namespace of endpoint sentiment in the policy',
    ]);
  });

  test('canary without stable is refused', async () => {
    await expect(fixture.handlers.applyCanary({ target: { ...stableTarget, namespace: 'gw', stableDeployment: 'nothing', canaryDeployment: 'nothing-canary' }, image: imageV2 })).rejects.toThrow(PermanentError);
  });
});

/** A client that lets another writer change the object just before its first merge patch, as a concurrent controller would. */
class RacingClient extends KubeClient {
  patches = 0;
  override async mergePatch<T extends KubernetesObject>(ref: ObjectRef, patch: Record<string, unknown>): Promise<T> {
    this.patches += 1;
    if (this.patches === 1) await fixture.kube.mergePatch(ref, { metadata: { labels: { 'example.com/touched-by': 'another-writer' } } });
    return super.mergePatch<T>(ref, patch);
  }
}

describe('kube client writes', () => {
  const target = targetOf({ namespace: 'race', replicas: 1, resources: { gpu: 0, cpu: '100m', memory: '128Mi' } });

  beforeAll(async () => {
    await createNamespace(fixture.kube, 'race');
    await fixture.handlers.ensureStable({ target, image: imageV1 });
    await fixture.handlers.applyCanary({ target, image: imageV2 });
    await new GatewayApiRouter(fixture.kube).reconcile(target);
  });

  test('reconcile twice changes nothing', async () => {
    const before = await namespaceState(fixture.kube, 'race');
    await new GatewayApiRouter(fixture.kube).reconcile(target);
    expect(await namespaceState(fixture.kube, 'race')).toEqual(before);
  });

  test('route write retries after 409', async () => {
    const racing = new RacingClient(loadKubeConfigFile(fixture.cluster.kubeconfigPath));
    expect(await new GatewayApiRouter(racing, { initialDelayMs: 10 }).setWeights(target, 30)).toEqual({ stable: 70, canary: 30 });
    expect(racing.patches).toBe(2);
    const route = await fixture.kube.read({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', namespace: 'race', name: 'sentiment' });
    expect(route?.metadata?.labels?.['example.com/touched-by']).toBe('another-writer');
    expect(await new GatewayApiRouter(fixture.kube).readWeights(target)).toEqual({ stable: 70, canary: 30 });
  });

  test('dry run stores nothing', async () => {
    const dry = new KubeClient(loadKubeConfigFile(fixture.cluster.kubeconfigPath), { dryRun: true });
    const applied = await dry.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'dry', namespace: 'race' }, data: { a: '1' } } as KubernetesObject);
    expect(applied.metadata?.name).toBe('dry');
    expect(await fixture.kube.read({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'race', name: 'dry' })).toBeUndefined();
  });

  test('invalid object is permanent', async () => {
    const bad = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'bad', namespace: 'race' }, spec: { ports: [{ port: 70000 }] } } as V1Service;
    await expect(fixture.kube.apply(bad)).rejects.toThrow(PermanentError);
    await expect(fixture.kube.apply(bad)).rejects.toThrow(/^apply Service race\/bad failed with HTTP 422: /);
  });
});

/** Runs aksEntraClient.mts in a child Node process that trusts the sim CA and has only the managed identity to sign in with. */
function runAksEntraClient(env: Record<string, string>): Promise<{ result?: { server: string; read: unknown }; error?: { name: string; message: string } }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, 'aksEntraClient.mts')], { env: { PATH: process.env.PATH ?? '', ...env }, cwd: join(__dirname, '..', '..'), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as { result?: { server: string; read: unknown } });
      } catch {
        reject(new Error(`aksEntraClient.mts printed no result (exit ${String(code)}): ${stdout}\n${stderr}`));
      }
    });
  });
}

describe('aks entra sign-in', () => {
  test('token from managed identity reaches API server', async () => {
    const compiled = join(__dirname, '..', '..', 'dist', 'src', 'clients', 'kube.js');
    const source = join(__dirname, '..', '..', 'src', 'clients', 'kube.ts');
    if (!existsSync(compiled) || statSync(compiled).mtimeMs < statSync(source).mtimeMs) {
      throw new Error('dist/src/clients/kube.js is missing or older than its source: run `npm run build` first');
    }
    const sim = await startSims({ kubeconfigPath: fixture.cluster.kubeconfigPath });
    try {
      const output = await runAksEntraClient({
        NODE_EXTRA_CA_CERTS: sim.sims.caCertPath,
        IDENTITY_ENDPOINT: sim.sims.identity.endpoint,
        IDENTITY_HEADER: sim.sims.identity.header,
        HOME: sim.stateDir,
        KUBE_SETTINGS_JSON: JSON.stringify({
          KUBE_AUTH_MODE: 'aks-entra',
          DRY_RUN: false,
          AZURE_SUBSCRIPTION_ID: sim.sims.arm.subscriptionId,
          AZURE_RESOURCE_MANAGER_ENDPOINT: sim.sims.arm.endpoint,
          AKS_RESOURCE_GROUP: sim.sims.aks.resourceGroup,
          AKS_CLUSTER_NAME: sim.sims.aks.clusterName,
        }),
      });
      expect(output.error).toBeUndefined();
      expect(output.result?.server).toBe(fixture.cluster.server);
      // NOTE: the sim's kube-apiserver does not trust the identity simulator's issuer, so the bearer token is rejected with 401.
      const read = output.result?.read as { name: string; message: string };
      expect(read.name).toBe('PermanentError');
      expect(read.message).toMatch(/^read Namespace models failed with HTTP 401: .*check the identity and its Kubernetes RBAC role$/);
      const resources = sim.sims.inspect.identityRequests().map((r) => r.resource);
      expect(resources).toContain('6dae42f8-4368-4678-94ff-3960e28e3630');
    } finally {
      await sim.stop();
    }
  });
});

describe('registered activities', () => {
  const registered = new Map<string, (input: unknown, context: InvocationContext) => Promise<unknown>>();
  const saved = { ...process.env };

  beforeAll(() => {
    Object.assign(process.env, {
      KUBE_AUTH_MODE: 'kubeconfig',
      KUBECONFIG_PATH: fixture.cluster.kubeconfigPath,
      RELEASE_POLICY_FILE: 'config/release-policy.local.yaml',
      AZURE_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000',
      AZURE_RESOURCE_MANAGER_ENDPOINT: 'https://127.0.0.1:1',
      AML_RESOURCE_GROUP: 'ml-rg',
      AML_WORKSPACE: 'ml',
      AKS_RESOURCE_GROUP: 'aks-rg',
      AKS_CLUSTER_NAME: 'aks-inference',
      ACR_NAME: 'simacr',
      ACR_RESOURCE_GROUP: 'acr-rg',
      ACR_LOGIN_SERVER: 'simacr.azurecr.io',
      ACR_ENDPOINT: 'https://127.0.0.1:1',
      PROMETHEUS_URL: 'http://127.0.0.1:1',
      ServiceBusConnection: 'Endpoint=sb://127.0.0.1;SharedAccessKeyName=local;SharedAccessKey=local;UseDevelopmentEmulator=true',
    });
    resetSettingsForTests();
    // Captures what the module registers instead of handing it to a Functions host.
    jest.spyOn(df.app, 'activity').mockImplementation((name, options) => {
      registered.set(name, options.handler as (input: unknown, context: InvocationContext) => Promise<unknown>);
      return { name } as unknown as ReturnType<typeof df.app.activity>;
    });
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded after the spy, so its registrations land in `registered`
    require('../../activities/cluster');
  });

  afterAll(() => {
    jest.restoreAllMocks();
    process.env = saved;
    resetSettingsForTests();
  });

  function context(lines: string[]): InvocationContext {
    return new InvocationContext({ invocationId: 'inv-1', functionName: 'cluster', logHandler: (_level, ...args) => lines.push(args.map(String).join(' ')) });
  }

  test('registers every cluster activity', () => {
    expect([...registered.keys()].sort()).toEqual(['applyCanary', 'checkRollout', 'ensureStable', 'preflightTarget', 'promoteStable', 'removeCanary', 'restoreStable', 'setTrafficWeight']);
  });

  test('handler reads the sim cluster', async () => {
    const target = targetOf({ namespace: 'gw', replicas: 1 });
    const state = await registered.get('checkRollout')?.({ target, track: 'stable' }, context([]));
    expect(state).toMatchObject({ ready: true, desiredReplicas: 1, unschedulable: false });
  });

  test('failure is short and logged with ids', async () => {
    const lines: string[] = [];
    const target = targetOf({ namespace: 'gw' });
    const call = registered.get('applyCanary')?.({ target, image: 'repo/model:latest' }, context(lines));
    await expect(call).rejects.toThrow(PermanentError);
    await expect(registered.get('applyCanary')?.({ target, image: 'repo/model:latest' }, context([]))).rejects.toThrow(/^image "repo\/model:latest" for endpoint sentiment is not addressed by digest/);
    expect(lines).toHaveLength(1);
    const logged = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    expect(logged).toMatchObject({ level: 'error', message: 'cluster activity failed', activity: 'applyCanary', releaseId: target.releaseId, endpoint: 'sentiment', kind: 'PermanentError', invocationId: 'inv-1' });
  });
});

// Runs last: it removes every GPU node from the cluster.
describe('cluster without GPU nodes', () => {
  beforeAll(async () => {
    await fixture.cluster.scaleNodePool('gpu', 0);
    await fixture.cluster.scaleNodePool('gpuspot', 0);
  });

  test('preflight names missing device plugin', async () => {
    const result = await fixture.handlers.preflightTarget({ target: targetOf({ namespace: 'gw' }), image: imageV2 });
    expect(result.ok).toBe(false);
    expect(result.reasons).toHaveLength(1);
    expect(result.reasons[0]).toMatch(/^no node reports nvidia.com\/gpu capacity: the NVIDIA device plugin is missing or no GPU node pool exists/);
  });
});
