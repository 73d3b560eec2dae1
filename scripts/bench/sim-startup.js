#!/usr/bin/env node
/**
 * Measures how long `startSim` takes with cached binaries: the kwok control
 * plane, the Gateway API CRDs, the node pools, and the whole sim (traffic
 * generator, Prometheus and the Azure simulators included). The target for
 * the cluster is under 60 s. Prints one JSON object as its last line.
 */
'use strict';

const { mkdtempSync, rmSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const { startSim } = require(path.join(root, 'dist', 'sim', 'src', 'sim.js'));
const { Logger } = require(path.join(root, 'dist', 'src', 'observability', 'log.js'));

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
  const stopStarted = Date.now();
  await sim.stop();
  const stopSeconds = (Date.now() - stopStarted) / 1000;
  rmSync(stateDir, { recursive: true, force: true });
  const result = { clusterSeconds: Number(clusterSeconds.toFixed(1)), phases, simSeconds: Number(simSeconds.toFixed(1)), stopSeconds: Number(stopSeconds.toFixed(1)), clusterTargetSeconds: 60, loadAverageBefore: loadBefore };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error) => {
  process.stderr.write(`sim-startup bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
