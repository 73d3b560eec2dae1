/**
 * End to end on sim and devhost: the real Kubernetes API (kwok), Prometheus
 * scraping the traffic generator, the Azure simulators behind the real SDK
 * clients, and the app in devhost. Skipped unless the compiled devhost and
 * sim exist (`npm run build`) and PIPELINE_E2E is not "0".
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Devhost, DevhostOptions } from '../../devhost';
import { startDevhost } from '../../devhost';
import type { RunningSim } from '../../sim/src/sim';
import { startSim } from '../../sim/src/sim';
import { defaultNodePools } from '../../sim/src/cluster/pools';
import { appSettingsFromSim } from '../../sim/src/endpoints';
import { ReleaseApiClient } from '../../src/cli/client';
import { watchRelease } from '../../src/cli/watch';
import type { ReleaseStatus } from '../../src/contracts/phases';
import { Logger } from '../../src/observability/log';

const root = join(__dirname, '../..');
const enabled = process.env.PIPELINE_E2E !== '0' && existsSync(join(root, 'dist/devhost/cli.js')) && existsSync(join(root, 'dist/src/index.js'));
const describeE2e = enabled ? describe : describe.skip;

/** Returns the local policy with one 50 % step and short bakes and windows, so that each release takes seconds. */
function testPolicy(): string {
  return `${localPolicyForTests()}
  - name: gated
    namespace: models
    region: switzerlandnorth
    deployment: gated-server
    port: 8080
    replicas: 1
    build:
      mode: mount
      servingImage: contosocr.azurecr.io/serving/mlserver@sha256:c29d0892e72bbea11cad9f2098fdfab443033a54085b71cb4fd0f9570ca55571
    resources: { gpu: 0, cpu: 500m, memory: 512Mi }
    traffic: { provider: gateway-api, gateway: gateways/inference }
    canary: { steps: [50], bake: 8s, progressDeadline: 40s, maxFailedChecks: 1 }
    analysis: { window: 8s, successRate: { min: 0.99 }, latency: { percentile: 0.99, maxMs: 300 }, onInconclusive: rollback }
    validation: { requiredTags: [area] }
    approval: { required: true, timeout: 2m, onTimeout: rollback }
`;
}

function localPolicyForTests(): string {
  const local = readFileSync(join(root, 'config/release-policy.local.yaml'), 'utf8');
  const shortened = local
    .replace('canary: { steps: [10, 50], bake: 20s, progressDeadline: 90s, maxFailedChecks: 1 }', 'canary: { steps: [50], bake: 8s, progressDeadline: 40s, maxFailedChecks: 1 }')
    .replace('window: 30s\n      successRate: { min: 0.99 }\n      latency: { percentile: 0.99, maxMs: 300 }\n      onInconclusive: pause', 'window: 8s\n      successRate: { min: 0.99 }\n      latency: { percentile: 0.99, maxMs: 300 }\n      onInconclusive: rollback');
  // A silent no-op replace would run the tests with the slow local timings, so fail loudly instead.
  if (!shortened.includes('bake: 8s') || !shortened.includes('window: 8s')) {
    throw new Error('config/release-policy.local.yaml changed: update localPolicyForTests so that it still shortens the bake and window');
  }
  return shortened;
}

interface Kube {
  deployment(name: string): Promise<{ image?: string; env: Record<string, string> } | undefined>;
}

async function kubeOf(kubeconfigPath: string): Promise<Kube> {
  const k8s = await import('@kubernetes/client-node');
  const config = new k8s.KubeConfig();
  config.loadFromFile(kubeconfigPath);
  const apps = config.makeApiClient(k8s.AppsV1Api);
  return {
    async deployment(name) {
      try {
        const found = await apps.readNamespacedDeployment({ name, namespace: 'models' });
        const container = found.spec?.template.spec?.containers[0];
        const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value ?? '']));
        return { ...(container?.image ? { image: container.image } : {}), env };
      } catch (error) {
        if ((error as { code?: number }).code === 404) return undefined;
        throw error;
      }
    },
  };
}

describeE2e('release end to end', () => {
  let dir: string;
  let sim: RunningSim;
  let host: Devhost;
  let api: ReleaseApiClient;
  let kube: Kube;
  let devhostOptions: DevhostOptions;
  const output: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pipeline-e2e-'));
    // Stable takes 2 GPUs, the canary 1 and the surge pod of stable's rolling update 1.
    const pools = defaultNodePools().map((p) => (p.name === 'gpu' ? { ...p, count: 4 } : p));
    const quiet = new Logger({ debug: () => undefined, info: () => undefined, warn: () => undefined, error: (...args: unknown[]) => output.push(args.map(String).join(' ')) });
    sim = await startSim({ stateDir: join(dir, 'sim'), pools, scrapeIntervalSeconds: 2, podReadyDelayMs: 1000, logger: quiet, onProgress: () => undefined });
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, testPolicy());
    const sample = (JSON.parse(readFileSync(join(root, 'local.settings.sample.json'), 'utf8')) as { Values: Record<string, string> }).Values;
    devhostOptions = { appDir: root, stateDir: join(dir, 'devhost'), port: 0, env: { ...sample, ...appSettingsFromSim(sim.endpoints), RELEASE_POLICY_FILE: policyFile }, startTimeoutMs: 60000 };
    host = await startDevhost({ ...devhostOptions, onOutput: (line) => output.push(line) });
    api = new ReleaseApiClient({ baseUrl: host.url });
    kube = await kubeOf(sim.endpoints.kubernetes.kubeconfigPath);
  }, 300000);

  afterAll(async () => {
    await host?.stop();
    await sim?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120000);

  async function registerModel(version: string): Promise<void> {
    const control = sim.endpoints.azureControl?.url;
    if (!control) throw new Error('sim has no Azure control API');
    const response = await fetch(new URL('/azureml/models', control), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'sklearn_regression_model', version, modelUri: `azureml://models/sklearn_regression_model/${version}/`, tags: { area: 'diabetes' }, region: sim.endpoints.azureml.region }),
    });
    expect([201, 409]).toContain(response.status);
  }

  async function releaseVersion(version: string, endpoint = 'regression', onLine: (line: string, releaseId: string) => void = () => undefined): Promise<ReleaseStatus> {
    await registerModel(version);
    const started = await api.start({ endpoint, model: { name: 'sklearn_regression_model', version } });
    const result = await watchRelease(api, started.releaseId, { intervalMs: 1000, timeoutMs: 240000, print: (line) => onLine(line, started.releaseId) });
    if (!result.finished) throw new Error(`${result.reason}\n${output.slice(-30).join('\n')}`);
    return result.status;
  }

  async function setCanaryScenario(scenario: string): Promise<void> {
    const response = await fetch(new URL('/v1/scenarios/models/regression-server-canary', sim.endpoints.traffic.url), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ scenario }) });
    expect(response.status).toBe(200);
  }

  test('first release deploys stable', async () => {
    const status = await releaseVersion('19');
    expect(status.phase).toBe('Succeeded');
    expect(status.stableOrigin).toBe('deployed');
    // Nothing to compare a canary with, so stable was deployed with the new image and no analysis ran.
    expect(status.lastAnalysis).toBeUndefined();
    expect(await kube.deployment('regression-server')).toBeDefined();
    expect(await kube.deployment('regression-server-canary')).toBeUndefined();
  }, 300000);

  test('healthy canary is promoted', async () => {
    const status = await releaseVersion('20');
    expect(status.phase).toBe('Succeeded');
    // The stable-origin annotation keeps saying how the endpoint first got its stable.
    expect(status.stableOrigin).toBe('deployed');
    expect(status.lastAnalysis?.verdict).toBe('pass');
    const successRate = status.lastAnalysis?.checks.find((c) => c.name === 'success-rate');
    expect(successRate?.value).toBeGreaterThanOrEqual(0.99);
    expect(await kube.deployment('regression-server-canary')).toBeUndefined();
    const stable = await kube.deployment('regression-server');
    expect(stable?.image).toBe(status.image);
  }, 300000);

  test('error spike rolls back', async () => {
    const before = await kube.deployment('regression-server');
    await setCanaryScenario('error-spike');
    const status = await releaseVersion('21');
    expect(status.phase).toBe('RolledBack');
    expect(status.reason).toContain('success-rate');
    expect(status.failedChecks).toBeGreaterThanOrEqual(1);
    expect(await kube.deployment('regression-server-canary')).toBeUndefined();
    expect(await kube.deployment('regression-server')).toEqual(before);
  }, 300000);

  test('latency regression names the percentile', async () => {
    await setCanaryScenario('latency-regression');
    const status = await releaseVersion('22');
    expect(status.phase).toBe('RolledBack');
    expect(status.reason).toMatch(/latency-p99 \d+(\.\d+)? outside <= 300 ms/);
    expect(await kube.deployment('regression-server-canary')).toBeUndefined();
  }, 300000);

  /** Sends an action once, when the watch prints a line that starts with `trigger`. */
  function actWhen(trigger: string, action: 'approve' | 'reject' | 'abort' | 'promote', sent: Promise<unknown>[]): (line: string, releaseId: string) => void {
    return (line, releaseId) => {
      if (sent.length === 0 && line.startsWith(trigger)) sent.push(api.act(releaseId, action, `e2e ${action}`));
    };
  }

  test('approval gate approve promotes', async () => {
    // The endpoint's first release gives it a stable; it passes the gate only when it ran a canary.
    const baselineSent: Promise<unknown>[] = [];
    expect((await releaseVersion('29', 'gated', actWhen('phase AwaitingApproval', 'approve', baselineSent))).phase).toBe('Succeeded');
    await Promise.all(baselineSent);

    const sent: Promise<unknown>[] = [];
    const status = await releaseVersion('30', 'gated', actWhen('phase AwaitingApproval', 'approve', sent));
    await Promise.all(sent);
    expect(sent).toHaveLength(1);
    expect(status.phase).toBe('Succeeded');
    expect(status.reason).toMatch(/^approved by .+: e2e approve$/);
    expect(await kube.deployment('gated-server-canary')).toBeUndefined();
  }, 300000);

  test('approval gate reject rolls back', async () => {
    const before = await kube.deployment('gated-server');
    const sent: Promise<unknown>[] = [];
    const status = await releaseVersion('31', 'gated', actWhen('phase AwaitingApproval', 'reject', sent));
    await Promise.all(sent);
    expect(status.phase).toBe('RolledBack');
    expect(status.reason).toMatch(/^rejected by .+: e2e reject$/);
    expect(await kube.deployment('gated-server')).toEqual(before);
  }, 300000);

  test('abort mid-canary cleans up', async () => {
    const sent: Promise<unknown>[] = [];
    const status = await releaseVersion('32', 'gated', actWhen('phase Progressing', 'abort', sent));
    await Promise.all(sent);
    expect(status.phase).toBe('RolledBack');
    expect(status.reason).toMatch(/^aborted by .+: e2e abort$/);
    expect(await kube.deployment('gated-server-canary')).toBeUndefined();
  }, 300000);

  /** Lifecycle events the release published, read from the topic's tap subscription. */
  async function publishedEvents(releaseId: string): Promise<{ kind: string; releaseId: string }[]> {
    const url = new URL('/admin/devhost/servicebus/topics/release-events/subscriptions/$tap/messages?max=5000', host.url);
    const response = await fetch(url);
    expect(response.status).toBe(200);
    const messages = (await response.json()) as { body: unknown }[] | { messages: { body: unknown }[] };
    const list = Array.isArray(messages) ? messages : messages.messages;
    return list.map((m) => (typeof m.body === 'string' ? JSON.parse(m.body) : m.body) as { kind: string; releaseId: string }).filter((e) => e.releaseId === releaseId);
  }

  test('same event three times gives one release', async () => {
    const event = readFileSync(join(root, 'config/samples/model-registered.eventgrid-schema.docs.json'), 'utf8');
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await fetch(new URL('/runtime/webhooks/eventgrid?functionName=modelRegistryEvents', host.url), { method: 'POST', headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification' }, body: event });
      statuses.push(response.status);
    }
    expect(statuses.every((s) => s < 300)).toBe(true);
    // Version 20 of the corpus event was released above, so all three deliveries find that release.
    const list = (await api.list('regression')) as { releases: { releaseId: string; request: { model?: { version: string } } }[] };
    expect(list.releases.filter((r) => r.request.model?.version === '20')).toHaveLength(1);
  }, 120000);

  test('devhost killed mid-canary promotes once', async () => {
    await setCanaryScenario('healthy');
    await registerModel('23');
    const started = await api.start({ endpoint: 'regression', model: { name: 'sklearn_regression_model', version: '23' } });
    for (let i = 0; i < 120; i++) {
      const view = await api.status(started.releaseId);
      if (view.status?.phase === 'Progressing') break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await host.kill();
    host = await startDevhost({ ...devhostOptions, onOutput: (line) => output.push(line) });
    api = new ReleaseApiClient({ baseUrl: host.url });

    const result = await watchRelease(api, started.releaseId, { intervalMs: 1000, timeoutMs: 240000, print: () => undefined });
    expect(result.finished && result.status.phase).toBe('Succeeded');
    const promoted = (await publishedEvents(started.releaseId)).filter((e) => e.kind === 'promoted');
    expect(promoted).toHaveLength(1);
    expect(await kube.deployment('regression-server-canary')).toBeUndefined();
  }, 300000);

  test('manual promote skips remaining steps', async () => {
    const sent: Promise<unknown>[] = [];
    const status = await releaseVersion('33', 'gated', actWhen('phase Progressing', 'promote', sent));
    await Promise.all(sent);
    expect(status.phase).toBe('Succeeded');
    expect(status.reason).toMatch(/^promoted by .+: e2e promote$/);
    expect(await kube.deployment('gated-server-canary')).toBeUndefined();
  }, 300000);

  test('two models for one endpoint run in turn', async () => {
    await registerModel('24');
    await registerModel('25');
    const first = await api.start({ endpoint: 'regression', model: { name: 'sklearn_regression_model', version: '24' } });
    const second = await api.start({ endpoint: 'regression', model: { name: 'sklearn_regression_model', version: '25' } });
    const secondPhases: string[] = [];
    const [a, b] = await Promise.all([
      watchRelease(api, first.releaseId, { intervalMs: 1000, timeoutMs: 240000, print: () => undefined }),
      watchRelease(api, second.releaseId, { intervalMs: 500, timeoutMs: 240000, print: (line) => secondPhases.push(line) }),
    ]);
    expect(a.finished && a.status.phase).toBe('Succeeded');
    expect(b.finished && b.status.phase).toBe('Succeeded');
    expect(secondPhases.some((line) => line.includes('number 1 in the queue'))).toBe(true);
  }, 300000);
});
