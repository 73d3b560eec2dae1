/**
 * End to end on sim and devhost for the cases e2e.test.ts leaves out: a
 * canary the scheduler cannot place, and bake mode (an ACR build through the
 * ARM simulator, then the registry's push event for the built digest).
 * Skipped unless the compiled devhost and sim exist (`npm run build`) and
 * PIPELINE_E2E is not "0".
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Devhost } from '../../devhost';
import { startDevhost } from '../../devhost';
import type { RunningSim } from '../../sim/src/sim';
import { startSim } from '../../sim/src/sim';
import { defaultNodePools } from '../../sim/src/cluster/pools';
import { appSettingsFromSim } from '../../sim/src/endpoints';
import { ReleaseApiClient } from '../../src/cli/client';
import { watchRelease } from '../../src/cli/watch';
import type { EndpointLedgerState } from '../../src/contracts/ledger';
import type { ReleaseStatus } from '../../src/contracts/phases';
import { Logger } from '../../src/observability/log';

const root = join(__dirname, '../..');
const enabled = process.env.PIPELINE_E2E !== '0' && existsSync(join(root, 'dist/devhost/cli.js')) && existsSync(join(root, 'dist/src/index.js'));
const describeE2e = enabled ? describe : describe.skip;

const servingImage = 'contosocr.azurecr.io/serving/mlserver@sha256:c29d0892e72bbea11cad9f2098fdfab443033a54085b71cb4fd0f9570ca55571';
const bakeRepository = 'models/baked';
const gpuScheduling = `scheduling:
      nodeSelector: { kubernetes.azure.com/agentpool: gpu }
      tolerations:
        - { key: nvidia.com/gpu, operator: Equal, value: "true", effect: NoSchedule }`;

/**
 * Two endpoints. `tight` takes one GPU and 3 of the 4 CPUs of a GPU node, so
 * a GPU node whose CPUs other pods use passes the GPU preflight yet cannot
 * take the canary. `baked` bakes its image and also lists its own build
 * repository as an image trigger, so only the ledger's record of the build
 * keeps the build's push event from starting another release.
 */
function testPolicy(): string {
  const shared = `traffic: { provider: gateway-api, gateway: gateways/inference }
    analysis: { window: 8s, successRate: { min: 0.99 }, latency: { percentile: 0.99, maxMs: 300 }, onInconclusive: rollback }
    validation: { requiredTags: [area] }`;
  return `apiVersion: release.aksmlops.dev/v1
kind: ReleasePolicy
allowedRegions: [switzerlandnorth]
endpoints:
  - name: tight
    namespace: models
    region: switzerlandnorth
    deployment: tight-server
    port: 8080
    replicas: 1
    build: { mode: mount, servingImage: ${servingImage} }
    resources: { gpu: 1, cpu: "3", memory: 4Gi }
    ${gpuScheduling}
    canary: { steps: [50], bake: 8s, progressDeadline: 20s, maxFailedChecks: 1 }
    ${shared}
  - name: baked
    namespace: models
    region: switzerlandnorth
    deployment: baked-server
    port: 8080
    replicas: 1
    triggers:
      images:
        - { registry: contosocr.azurecr.io, repository: ${bakeRepository} }
    build: { mode: bake, repository: ${bakeRepository}, timeout: 2m }
    resources: { gpu: 0, cpu: 500m, memory: 512Mi }
    canary: { steps: [50], bake: 8s, progressDeadline: 40s, maxFailedChecks: 1 }
    ${shared}
`;
}

interface DeploymentView {
  image?: string;
  replicas?: number;
  readyReplicas?: number;
  generation?: number;
}

interface Kube {
  deployment(name: string, namespace?: string): Promise<DeploymentView | undefined>;
  /** Creates a Deployment of `replicas` pods that request 3 CPUs each on GPU nodes and no GPU. */
  createCpuHog(name: string, replicas: number): Promise<void>;
  deleteDeployment(name: string, namespace?: string): Promise<void>;
}

async function kubeOf(kubeconfigPath: string): Promise<Kube> {
  const k8s = await import('@kubernetes/client-node');
  const config = new k8s.KubeConfig();
  config.loadFromFile(kubeconfigPath);
  const apps = config.makeApiClient(k8s.AppsV1Api);
  const notFound = (error: unknown) => (error as { code?: number }).code === 404;
  return {
    async deployment(name, namespace = 'models') {
      try {
        const found = await apps.readNamespacedDeployment({ name, namespace });
        const image = found.spec?.template.spec?.containers[0]?.image;
        return {
          ...(image ? { image } : {}),
          ...(found.spec?.replicas !== undefined ? { replicas: found.spec.replicas } : {}),
          ...(found.status?.readyReplicas !== undefined ? { readyReplicas: found.status.readyReplicas } : {}),
          ...(found.metadata?.generation !== undefined ? { generation: found.metadata.generation } : {}),
        };
      } catch (error) {
        if (notFound(error)) return undefined;
        throw error;
      }
    },
    async createCpuHog(name, replicas) {
      const labels = { app: name };
      await apps.createNamespacedDeployment({
        namespace: 'default',
        body: {
          metadata: { name, labels },
          spec: {
            replicas,
            selector: { matchLabels: labels },
            template: {
              metadata: { labels },
              spec: {
                nodeSelector: { 'kubernetes.azure.com/agentpool': 'gpu' },
                tolerations: [{ key: 'nvidia.com/gpu', operator: 'Equal', value: 'true', effect: 'NoSchedule' }],
                containers: [{ name: 'batch', image: 'registry.k8s.io/pause:3.10', resources: { requests: { cpu: '3' } } }],
              },
            },
          },
        },
      });
    },
    async deleteDeployment(name, namespace = 'default') {
      try {
        await apps.deleteNamespacedDeployment({ name, namespace });
      } catch (error) {
        if (!notFound(error)) throw error;
      }
    },
  };
}

async function until<T>(what: string, read: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

describeE2e('release end to end: scheduling and bake', () => {
  let dir: string;
  let sim: RunningSim | undefined;
  let host: Devhost | undefined;
  let api: ReleaseApiClient;
  let kube: Kube;
  const output: string[] = [];

  function started(): { sim: RunningSim; host: Devhost } {
    if (!sim || !host) throw new Error(`sim or devhost did not start:\n${output.slice(-30).join('\n')}`);
    return { sim, host };
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pipeline-e2e-build-'));
    // Three GPU nodes: one for tight's stable, two for the CPU hogs that leave their GPUs free.
    const pools = defaultNodePools().map((p) => (p.name === 'gpu' ? { ...p, count: 3 } : p));
    const quiet = new Logger({ debug: () => undefined, info: () => undefined, warn: () => undefined, error: (...args: unknown[]) => output.push(args.map(String).join(' ')) });
    try {
      sim = await startSim({ stateDir: join(dir, 'sim'), pools, scrapeIntervalSeconds: 2, podReadyDelayMs: 1000, logger: quiet, onProgress: () => undefined });
      const policyFile = join(dir, 'policy.yaml');
      writeFileSync(policyFile, testPolicy());
      const sample = (JSON.parse(readFileSync(join(root, 'local.settings.sample.json'), 'utf8')) as { Values: Record<string, string> }).Values;
      host = await startDevhost({ appDir: root, stateDir: join(dir, 'devhost'), port: 0, env: { ...sample, ...appSettingsFromSim(sim.endpoints), RELEASE_POLICY_FILE: policyFile }, startTimeoutMs: 60000, onOutput: (line) => output.push(line) });
      api = new ReleaseApiClient({ baseUrl: host.url });
      kube = await kubeOf(sim.endpoints.kubernetes.kubeconfigPath);
    } catch (error) {
      // afterAll still runs, but stopping here keeps a half-started sim from outliving a failed start.
      await host?.stop();
      await sim?.stop();
      throw error;
    }
  }, 300000);

  afterAll(async () => {
    await host?.stop();
    await sim?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120000);

  async function control(path: string, body: unknown): Promise<Response> {
    const url = started().sim.endpoints.azureControl?.url;
    if (!url) throw new Error('sim has no Azure control API');
    return fetch(new URL(path, url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  async function registerModel(version: string): Promise<void> {
    const response = await control('/azureml/models', { name: 'sklearn_regression_model', version, modelUri: `azureml://models/sklearn_regression_model/${version}/`, tags: { area: 'diabetes' }, region: started().sim.endpoints.azureml.region });
    expect([201, 409]).toContain(response.status);
  }

  /** Returns the tags of a model version as the ARM simulator stores them. */
  async function modelTags(version: string): Promise<Record<string, string>> {
    const { azureControl, azureml } = started().sim.endpoints;
    const url = new URL(`/azureml/workspaces/${azureml.workspace}/models/sklearn_regression_model/versions/${version}`, azureControl?.url);
    const response = await fetch(url);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { properties?: { tags?: Record<string, string> } };
    return body.properties?.tags ?? {};
  }

  async function releaseVersion(version: string, endpoint: string, onLine: (line: string, releaseId: string) => void = () => undefined): Promise<ReleaseStatus & { releaseId: string }> {
    await registerModel(version);
    const start = await api.start({ endpoint, model: { name: 'sklearn_regression_model', version } });
    const result = await watchRelease(api, start.releaseId, { intervalMs: 1000, timeoutMs: 240000, print: (line) => onLine(line, start.releaseId) });
    if (!result.finished) throw new Error(`${result.reason}\n${output.slice(-30).join('\n')}`);
    return { ...result.status, releaseId: start.releaseId };
  }

  async function readLedger(endpoint: string): Promise<EndpointLedgerState> {
    // devhost serves the Durable HTTP API without a key to loopback callers.
    const response = await fetch(new URL(`/durabletask/entities/endpointLedger/${endpoint}`, started().host.url));
    expect(response.status).toBe(200);
    return (await response.json()) as EndpointLedgerState;
  }

  /** Returns the sorted ids of every orchestration instance in devhost, without entities. */
  async function orchestrationIds(): Promise<string[]> {
    const response = await fetch(new URL('/durabletask/instances/?top=1000', started().host.url));
    expect(response.status).toBe(200);
    const instances = (await response.json()) as { instanceId: string }[];
    return instances.map((i) => i.instanceId).filter((id) => !id.startsWith('@')).sort();
  }

  /** Delivers an ImagePushed event of the build repository, shaped as the captured fixture; returns its id. */
  async function pushEvent(tag: string, digest: string): Promise<string> {
    const fixture = JSON.parse(readFileSync(join(root, 'test/fixtures/acr/image-pushed.eventgrid-schema.captured.rest-specs.json'), 'utf8')) as { data: { target: Record<string, unknown> } };
    const id = randomUUID();
    const event = { ...fixture, id, subject: `${bakeRepository}:${tag}`, data: { ...fixture.data, id, target: { ...fixture.data.target, repository: bakeRepository, tag, digest } } };
    const url = new URL('/runtime/webhooks/eventgrid?functionName=containerRegistryEvents', started().host.url);
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification' }, body: JSON.stringify([event]) });
    expect(response.status).toBeLessThan(300);
    return id;
  }

  test('unschedulable canary rolls back at the deadline', async () => {
    const first = await releaseVersion('40', 'tight');
    expect(first.phase).toBe('Succeeded');
    const before = await kube.deployment('tight-server');
    expect(before?.readyReplicas).toBe(1);

    // Other pods take the CPUs of the two GPU nodes that stable left free, but none of their GPUs.
    await kube.createCpuHog('gpu-batch', 2);
    try {
      await until('the CPU hogs to run', async () => ((await kube.deployment('gpu-batch', 'default'))?.readyReplicas === 2 ? true : undefined), 60000);

      const status = await releaseVersion('41', 'tight');
      expect(status.phase).toBe('RolledBack');
      expect(status.reason).toContain('canary Deployment');
      expect(status.reason).toContain('progress deadline of 20 s');
      // The scheduler's own words, from the pod's PodScheduled condition or FailedScheduling event.
      expect(status.reason).toMatch(/is unschedulable: 0\/\d+ nodes are available: .*Insufficient cpu/);
      expect(await kube.deployment('tight-server-canary')).toBeUndefined();
      expect(await kube.deployment('tight-server')).toEqual(before);
      const tags = await modelTags('41');
      expect(tags['release.aksmlops.dev/state']).toBe('rolled-back');
      expect(tags['release.aksmlops.dev/release-id']).toBe(status.releaseId);
    } finally {
      await kube.deleteDeployment('gpu-batch');
    }
  }, 300000);

  test('bake builds, canary runs the digest, push joins the release', async () => {
    // The first release of the endpoint deploys stable from its own build; the second runs a canary.
    const firstDigest = `sha256:${'a1'.repeat(32)}`;
    expect((await control('/acr/builds/next', { status: 'Succeeded', digest: firstDigest })).status).toBe(202);
    const first = await releaseVersion('42', 'baked');
    expect(first.phase).toBe('Succeeded');
    expect(first.image).toBe(`contosocr.azurecr.io/${bakeRepository}@${firstDigest}`);

    const digest = `sha256:${'b2'.repeat(32)}`;
    expect((await control('/acr/builds/next', { status: 'Succeeded', digest })).status).toBe(202);
    const canaryImages: Promise<string | undefined>[] = [];
    const status = await releaseVersion('43', 'baked', (line) => {
      if (canaryImages.length === 0 && line.startsWith('phase Progressing')) canaryImages.push(kube.deployment('baked-server-canary').then((d) => d?.image));
    });
    const image = `contosocr.azurecr.io/${bakeRepository}@${digest}`;
    expect(status.phase).toBe('Succeeded');
    expect(status.image).toBe(image);
    expect(await Promise.all(canaryImages)).toEqual([image]);
    expect((await kube.deployment('baked-server'))?.image).toBe(image);

    // The build ran in the ARM simulator and pushed the release's tag.
    const runsUrl = new URL('/acr/runs', started().sim.endpoints.azureControl?.url);
    const runs = JSON.stringify(await (await fetch(runsUrl)).json());
    expect(runs).toContain(`${bakeRepository}:${status.releaseId}`);

    const ledger = await readLedger('baked');
    expect(ledger.builtDigests[digest]).toBe(status.releaseId);
    expect(ledger.builtDigests[firstDigest]).toBe(first.releaseId);

    const releasesBefore = ((await api.list('baked')) as { releases: unknown[] }).releases.length;
    const instancesBefore = await orchestrationIds();
    const deliveryId = await pushEvent(status.releaseId, digest);

    // The push is recorded through an entity signal, which runs after the webhook returns.
    const recorded = await until('the push on the ledger', async () => (await readLedger('baked')).recordedPushes.find((p) => p.deliveryId === deliveryId), 30000);
    expect(recorded).toMatchObject({ digest, releaseId: status.releaseId, tag: status.releaseId });
    const after = (await api.list('baked')) as { releases: { releaseId: string; state: string }[] };
    expect(after.releases).toHaveLength(releasesBefore);
    expect(after.releases.filter((r) => r.state !== 'finished')).toEqual([]);
    // A started release would exist as an instance at once, before it reaches the ledger.
    expect(await orchestrationIds()).toEqual(instancesBefore);

    // Control: a push of a digest no release built does start one through the image trigger.
    await pushEvent('manual', `sha256:${'c3'.repeat(32)}`);
    const added = (await orchestrationIds()).filter((id) => !instancesBefore.includes(id));
    expect(added).toHaveLength(1);
    const unbuilt = await watchRelease(api, added[0] ?? '', { intervalMs: 1000, timeoutMs: 120000, print: () => undefined });
    // The sim's registry never received that digest, so verification rejects the release.
    if (!unbuilt.finished) throw new Error(`release ${added[0] ?? ''} of the unbuilt push did not finish: ${unbuilt.reason}`);
    expect(unbuilt.status.phase).toBe('Rejected');
  }, 300000);
});
