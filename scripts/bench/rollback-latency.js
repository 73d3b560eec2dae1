#!/usr/bin/env node
/**
 * Measures how long an error spike on the canary takes to end with traffic
 * back on stable, on sim and devhost with the local policy (bake 20 s,
 * analysis window 30 s, failed-check threshold 1). The spike starts as soon
 * as the canary takes its first traffic step. The clock stops when the
 * release reports RolledBack, which happens after removeCanary has set 100 %
 * stable. Target: one analysis interval (the 30 s bake) plus 10 s.
 */
'use strict';

const { mkdtempSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '../..');
const dist = path.join(root, 'dist');
const { startSim } = require(path.join(dist, 'sim/src/sim.js'));
const { defaultNodePools } = require(path.join(dist, 'sim/src/cluster/pools.js'));
const { appSettingsFromSim } = require(path.join(dist, 'sim/src/endpoints.js'));
const { startDevhost } = require(path.join(dist, 'devhost/index.js'));
const { ReleaseApiClient } = require(path.join(dist, 'src/cli/client.js'));
const { watchRelease } = require(path.join(dist, 'src/cli/watch.js'));

const analysisIntervalSeconds = 30;

async function registerModel(sim, version) {
  await fetch(new URL('/azureml/models', sim.endpoints.azureControl.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'sklearn_regression_model', version, modelUri: `azureml://models/sklearn_regression_model/${version}/`, tags: { area: 'diabetes' }, region: sim.endpoints.azureml.region }),
  });
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-rollback-'));
  const pools = defaultNodePools().map((p) => (p.name === 'gpu' ? { ...p, count: 4 } : p));
  const sim = await startSim({ stateDir: path.join(dir, 'sim'), pools, onProgress: (line) => console.log(line) });
  let host;
  try {
    const sample = JSON.parse(readFileSync(path.join(root, 'local.settings.sample.json'), 'utf8')).Values;
    host = await startDevhost({ appDir: root, stateDir: path.join(dir, 'devhost'), port: 0, env: { ...sample, ...appSettingsFromSim(sim.endpoints) }, startTimeoutMs: 60000 });
    const api = new ReleaseApiClient({ baseUrl: host.url });

    await registerModel(sim, '19');
    const baseline = await api.start({ endpoint: 'regression', model: { name: 'sklearn_regression_model', version: '19' } });
    const first = await watchRelease(api, baseline.releaseId, { intervalMs: 1000, timeoutMs: 600000, print: () => undefined });
    if (!first.finished || first.status.phase !== 'Succeeded') throw new Error(`baseline release did not succeed: ${JSON.stringify(first)}`);

    await registerModel(sim, '21');
    const started = await api.start({ endpoint: 'regression', model: { name: 'sklearn_regression_model', version: '21' } });
    let faultAt;
    const result = await watchRelease(api, started.releaseId, {
      intervalMs: 250,
      timeoutMs: 600000,
      print: (line) => {
        if (faultAt === undefined && line.startsWith('[') && !line.includes('  0 % canary')) {
          faultAt = Date.now();
          fetch(new URL('/v1/scenarios/models/regression-server-canary', sim.endpoints.traffic.url), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ scenario: 'error-spike' }) }).catch((error) => console.error(error));
        }
      },
    });
    const endedAt = Date.now();
    if (!result.finished || faultAt === undefined) throw new Error(`release did not finish after the fault: ${JSON.stringify(result)}`);
    const seconds = (endedAt - faultAt) / 1000;
    console.log(`fault to RolledBack: ${seconds.toFixed(1)} s (target ${analysisIntervalSeconds + 10} s), phase ${result.status.phase}`);
    process.stdout.write(`${JSON.stringify({ unit: 's', faultToTrafficOnStableSeconds: seconds, targetSeconds: analysisIntervalSeconds + 10, metTarget: seconds <= analysisIntervalSeconds + 10, phase: result.status.phase, reason: result.status.reason, pollIntervalMs: 250 })}\n`);
  } finally {
    await host?.stop();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
