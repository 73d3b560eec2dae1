import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { kubeClients, modelsNamespace, startCluster, type KubeClients, type SimCluster } from '../../sim/src/cluster';
import { queryPrometheus, startPrometheus, type SimPrometheus } from '../../sim/src/prometheus';
import { delay, waitFor } from '../../sim/src/support';
import { startTraffic, type SimTraffic } from '../../sim/src/traffic';
import { Logger } from '../../src/observability/log';

const logger = new Logger(console, {}, 'warn');
const requestsPerSecond = 40;
let stateDir: string;
let cluster: SimCluster;
let kube: KubeClients;
let traffic: SimTraffic;
let prometheus: SimPrometheus;

const routeApi = { group: 'gateway.networking.k8s.io', version: 'v1', namespace: modelsNamespace, plural: 'httproutes' };

async function deploy(name: string, options: { app: string; track: 'stable' | 'canary'; replicas: number; unschedulable?: boolean }): Promise<void> {
  const labels = { app: options.app, track: options.track };
  await kube.apps.createNamespacedDeployment({ namespace: modelsNamespace, body: {
    metadata: { name, labels: { 'release.aksmlops.dev/track': options.track } },
    spec: {
      replicas: options.replicas,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: {
        containers: [{ name: 'server', image: 'contosocr.azurecr.io/serving/mlserver:1' }],
        nodeSelector: options.unschedulable ? { agentpool: 'does-not-exist' } : undefined,
      } },
    },
  } });
  await kube.core.createNamespacedService({ namespace: modelsNamespace, body: {
    metadata: { name },
    spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] },
  } });
}

async function setScenario(deployment: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${traffic.url}/v1/scenarios/${modelsNamespace}/${deployment}`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
}

/** Sums inference_requests_total per deployment (and per code) from the generator's /metrics. */
async function requestCounts(): Promise<Map<string, number>> {
  const text = await (await fetch(`${traffic.url}/metrics`)).text();
  const counts = new Map<string, number>();
  for (const match of text.matchAll(/^inference_requests_total\{([^}]*)\} (\S+)$/gm)) {
    const labels = new Map<string, string>();
    for (const pair of (match[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels.set(pair[1] ?? '', pair[2] ?? '');
    const deployment = labels.get('deployment') ?? '';
    const value = Number(match[2]);
    for (const key of [deployment, `${deployment}:${labels.get('code') ?? ''}`]) counts.set(key, (counts.get(key) ?? 0) + value);
  }
  return counts;
}

/** Share of requests that `canary` received among `deployments` during `ms`. */
async function measuredShare(canary: string, deployments: string[], ms: number): Promise<number> {
  const before = await requestCounts();
  await delay(ms);
  const after = await requestCounts();
  const grown = (name: string): number => (after.get(name) ?? 0) - (before.get(name) ?? 0);
  const total = deployments.reduce((sum, name) => sum + grown(name), 0);
  return total === 0 ? NaN : grown(canary) / total;
}

async function weightOf(deployment: string): Promise<number | undefined> {
  const state = (await (await fetch(`${traffic.url}/v1/state`)).json()) as { deployments: { deployment: string; weight: number; readyReplicas: number }[] };
  return state.deployments.find((d) => d.deployment === deployment)?.weight;
}

async function readyReplicas(deployment: string): Promise<number> {
  const state = (await (await fetch(`${traffic.url}/v1/state`)).json()) as { deployments: { deployment: string; readyReplicas: number }[] };
  return state.deployments.find((d) => d.deployment === deployment)?.readyReplicas ?? 0;
}

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'sim-traffic-'));
  cluster = await startCluster({ stateDir, podReadyDelayMs: 300, logger });
  kube = await kubeClients(cluster.kubeconfigPath);
  traffic = await startTraffic({ kubeconfigPath: cluster.kubeconfigPath, requestsPerSecond, refreshIntervalMs: 250, logger });
  prometheus = await startPrometheus({ stateDir, targets: [new URL(traffic.url).host], scrapeIntervalSeconds: 1, logger });

  // Scenarios can be chosen before their Deployment exists.
  expect((await setScenario('faulty', { scenario: 'error-spike', errorRate: 0.2 })).status).toBe(200);
  expect((await setScenario('slow', { scenario: 'latency-regression', latencyMs: 400 })).status).toBe(200);
  await deploy('faulty', { app: 'faulty', track: 'stable', replicas: 1 });
  await deploy('slow', { app: 'slow', track: 'stable', replicas: 1 });
  await deploy('steady', { app: 'steady', track: 'stable', replicas: 1 });
  await waitFor('faulty, slow and steady ready', async () => {
    const ready = await Promise.all(['faulty', 'slow', 'steady'].map(readyReplicas));
    return ready.every((count) => count >= 1) ? true : undefined;
  }, { timeoutMs: 30_000 });
}, 180_000);

afterAll(async () => {
  await prometheus?.stop();
  await traffic?.stop();
  await cluster?.stop();
  rmSync(stateDir, { recursive: true, force: true });
}, 60_000);

describe('traffic generator', () => {
  test('HTTPRoute weight change moves canary share', async () => {
    await deploy('router', { app: 'router', track: 'stable', replicas: 2 });
    await deploy('router-canary', { app: 'router', track: 'canary', replicas: 1 });
    await kube.custom.createNamespacedCustomObject({ ...routeApi, body: {
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'router' },
      spec: { parentRefs: [{ name: 'inference', namespace: 'gateways' }], rules: [{ backendRefs: [{ name: 'router', port: 80, weight: 90 }, { name: 'router-canary', port: 80, weight: 10 }] }] },
    } });
    await waitFor('router pods ready', async () => ((await readyReplicas('router')) === 2 && (await readyReplicas('router-canary')) === 1 ? true : undefined), { timeoutMs: 20_000 });
    expect(await weightOf('router-canary')).toBeCloseTo(0.1);
    const shareBefore = await measuredShare('router-canary', ['router', 'router-canary'], 2500);

    await kube.custom.patchNamespacedCustomObject(
      { ...routeApi, name: 'router', body: { spec: { rules: [{ backendRefs: [{ name: 'router', port: 80, weight: 50 }, { name: 'router-canary', port: 80, weight: 50 }] }] } } },
      kube.module.setHeaderOptions('Content-Type', kube.module.PatchStrategy.MergePatch),
    );
    // How fast the change shows is measured by scripts/bench/sim-startup.js, not asserted here.
    await waitFor('canary weight 0.5 in /metrics', async () => {
      const text = await (await fetch(`${traffic.url}/metrics`)).text();
      return /inference_traffic_weight_ratio\{[^}]*deployment="router-canary"[^}]*\} 0\.5$/m.test(text) ? true : undefined;
    }, { timeoutMs: 10_000, intervalMs: 100 });
    const shareAfter = await measuredShare('router-canary', ['router', 'router-canary'], 2500);

    expect(shareBefore).toBeGreaterThan(0.05);
    expect(shareBefore).toBeLessThan(0.15);
    expect(shareAfter).toBeGreaterThan(0.45);
    expect(shareAfter).toBeLessThan(0.55);
  });

  test('Prometheus returns the scenario error rate', async () => {
    // The window must lie after the Deployment turned ready; 12 s covers a 10 s window.
    await delay(12_000);

    const [sample] = await queryPrometheus(prometheus.url,
      'sum(rate(inference_requests_total{namespace="models",deployment="faulty",code=~"5.."}[10s])) / sum(rate(inference_requests_total{namespace="models",deployment="faulty"}[10s]))');
    const [healthy] = await queryPrometheus(prometheus.url,
      'sum(rate(inference_requests_total{namespace="models",deployment="steady",code=~"5.."}[10s])) or vector(0)');

    expect(sample?.value).toBeGreaterThan(0.18);
    expect(sample?.value).toBeLessThan(0.22);
    expect(healthy?.value).toBe(0);
  });

  test('Prometheus shows the latency regression', async () => {
    const median = (deployment: string) =>
      `histogram_quantile(0.5, sum by (le) (rate(inference_request_duration_seconds_bucket{namespace="models",deployment="${deployment}"}[10s])))`;

    const [slow] = await queryPrometheus(prometheus.url, median('slow'));
    const [steady] = await queryPrometheus(prometheus.url, median('steady'));

    expect(slow?.value).toBeGreaterThan(0.25);
    expect(slow?.value).toBeLessThanOrEqual(0.5);
    expect(steady?.value).toBeGreaterThan(0.05);
    expect(steady?.value).toBeLessThanOrEqual(0.1);
  });

  test('GPU gauge reports load', async () => {
    const [sample] = await queryPrometheus(prometheus.url, 'inference_gpu_utilization_ratio{namespace="models",deployment="steady"}');

    expect(sample?.metric.track).toBe('stable');
    expect(sample?.value).toBeGreaterThan(0.05);
    expect(sample?.value).toBeLessThan(1);
  });

  test('NGINX canary weight splits traffic', async () => {
    await deploy('inked', { app: 'inked', track: 'stable', replicas: 1 });
    await deploy('inked-canary', { app: 'inked', track: 'canary', replicas: 1 });
    const ingress = (name: string, annotations?: Record<string, string>) => ({
      metadata: { name, annotations },
      spec: { ingressClassName: 'nginx', rules: [{ host: 'inked.local', http: { paths: [{ path: '/', pathType: 'Prefix' as const, backend: { service: { name, port: { number: 80 } } } }] } }] },
    });
    await kube.networking.createNamespacedIngress({ namespace: modelsNamespace, body: ingress('inked') });
    await kube.networking.createNamespacedIngress({ namespace: modelsNamespace, body: ingress('inked-canary', { 'nginx.ingress.kubernetes.io/canary': 'true', 'nginx.ingress.kubernetes.io/canary-weight': '30' }) });

    const weight = await waitFor('inked-canary weight', async () => {
      const value = await weightOf('inked-canary');
      return value !== undefined && value > 0 ? value : undefined;
    }, { timeoutMs: 10_000 });

    expect(weight).toBeCloseTo(0.3);
    expect(await weightOf('inked')).toBeCloseTo(0.7);
  });

  test('no-traffic scenario stops requests', async () => {
    expect((await setScenario('steady', { scenario: 'no-traffic' })).status).toBe(200);
    await delay(300);

    const before = (await requestCounts()).get('steady') ?? 0;
    await delay(1000);
    const after = (await requestCounts()).get('steady') ?? 0;

    expect(after).toBe(before);
    expect((await fetch(`${traffic.url}/v1/scenarios/${modelsNamespace}/steady`, { method: 'DELETE' })).status).toBe(204);
  });

  test('unready backend answers 503', async () => {
    await deploy('stuck', { app: 'stuck', track: 'stable', replicas: 1, unschedulable: true });

    const count = await waitFor('503 responses for stuck', async () => {
      const value = (await requestCounts()).get('stuck:503') ?? 0;
      return value > 0 ? value : undefined;
    }, { timeoutMs: 5000 });

    expect(count).toBeGreaterThan(0);
    expect((await requestCounts()).get('stuck:200')).toBeUndefined();
  });

  test('control API rejects unknown scenario', async () => {
    const response = await setScenario('steady', { scenario: 'meltdown' });
    const body = (await response.json()) as { error: { code: string; message: string } };

    expect(response.status).toBe(400);
    expect(body.error.code).toBe('InvalidRequest');
    expect(body.error.message).toMatch(/healthy, error-spike, latency-regression, no-traffic/);
  });

  test('control API rejects out-of-range error rate', async () => {
    const response = await setScenario('steady', { scenario: 'error-spike', errorRate: 1.5 });

    expect(response.status).toBe(400);
  });

  test('control API answers 404 for unknown routes', async () => {
    const response = await fetch(`${traffic.url}/v2/anything`);

    expect(response.status).toBe(404);
  });
});
