#!/usr/bin/env node
/**
 * Measures sim with cached binaries. It times each start-up phase of
 * `startSim` (kwok control plane, Gateway API CRDs, node pools, the whole sim)
 * and how long a changed HTTPRoute weight takes to show in the traffic
 * generator's /metrics. The targets are a cluster start under 60 s and a
 * weight change inside one 2 s scrape interval. Prints one JSON object as
 * its last line.
 */
'use strict';

const { mkdtempSync, rmSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const { startSim } = require(path.join(root, 'dist', 'sim', 'src', 'sim.js'));
const { kubeClients } = require(path.join(root, 'dist', 'sim', 'src', 'cluster', 'kube.js'));
const { Logger } = require(path.join(root, 'dist', 'src', 'observability', 'log.js'));

const namespace = 'models';
const route = { group: 'gateway.networking.k8s.io', version: 'v1', namespace, plural: 'httproutes' };

async function deploy(kube, name, track) {
  const labels = { app: 'bench', track };
  await kube.apps.createNamespacedDeployment({ namespace, body: {
    metadata: { name },
    spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'server', image: 'example/server:1' }] } } },
  } });
  await kube.core.createNamespacedService({ namespace, body: { metadata: { name }, spec: { selector: labels, ports: [{ port: 80 }] } } });
}

async function waitForWeight(trafficUrl, weight, timeoutMs) {
  const pattern = new RegExp(`inference_traffic_weight_ratio\\{[^}]*deployment="bench-canary"[^}]*\\} ${weight}$`, 'm');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (pattern.test(await (await fetch(`${trafficUrl}/metrics`)).text())) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for bench-canary weight ${weight} in ${trafficUrl}/metrics`);
}

/** Patches the route from 90/10 to 50/50 and back, and returns how long each change took to show, in ms. */
async function weightChangeMs(sim) {
  const kube = await kubeClients(sim.cluster.kubeconfigPath);
  await deploy(kube, 'bench', 'stable');
  await deploy(kube, 'bench-canary', 'canary');
  const rules = (stable, canary) => [{ backendRefs: [{ name: 'bench', port: 80, weight: stable }, { name: 'bench-canary', port: 80, weight: canary }] }];
  await kube.custom.createNamespacedCustomObject({ ...route, body: {
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'bench' },
    spec: { parentRefs: [{ name: 'inference', namespace: 'gateways' }], rules: rules(90, 10) },
  } });
  await waitForWeight(sim.traffic.url, '0.1', 30_000);

  const samples = [];
  for (const [stable, canary, shown] of [[50, 50, '0.5'], [90, 10, '0.1'], [50, 50, '0.5'], [90, 10, '0.1']]) {
    const started = Date.now();
    await kube.custom.patchNamespacedCustomObject({ ...route, name: 'bench', body: { spec: { rules: rules(stable, canary) } } },
      kube.module.setHeaderOptions('Content-Type', kube.module.PatchStrategy.MergePatch));
    await waitForWeight(sim.traffic.url, shown, 10_000);
    samples.push(Date.now() - started);
  }
  return samples;
}

async function main() {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'sim-bench-'));
  const phases = {};
  const onProgress = (line) => {
    process.stdout.write(`${line}\n`);
    const match = /sim cluster: (control plane up|installed \d+ Gateway API CRDs|\d+ nodes Ready) in ([\d.]+) s/.exec(line);
    if (match) phases[match[1].replace(/\d+ /g, '').replace(/ /g, '_')] = Number(match[2]);
  };
  const loadBefore = os.loadavg()[0];
  const started = Date.now();
  const sim = await startSim({ stateDir, onProgress, logger: new Logger(console, {}, 'warn') });
  const simSeconds = (Date.now() - started) / 1000;
  const clusterSeconds = Object.values(phases).reduce((sum, value) => sum + value, 0);

  let weightSamplesMs;
  try {
    weightSamplesMs = await weightChangeMs(sim);
  } finally {
    const stopStarted = Date.now();
    await sim.stop();
    phases.stop = (Date.now() - stopStarted) / 1000;
    rmSync(stateDir, { recursive: true, force: true });
  }

  process.stdout.write(`${JSON.stringify({
    clusterSeconds: Number(clusterSeconds.toFixed(1)),
    phases,
    simSeconds: Number(simSeconds.toFixed(1)),
    clusterTargetSeconds: 60,
    weightChangeVisibleMs: weightSamplesMs,
    weightChangeTargetMs: 2000,
    loadAverageBefore: loadBefore,
  })}\n`);
}

main().catch((error) => {
  process.stderr.write(`sim-startup bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
