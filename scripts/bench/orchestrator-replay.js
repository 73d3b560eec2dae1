#!/usr/bin/env node
/**
 * Measures the replay cost of the release orchestrator. It runs a healthy and
 * an error-spike release under the real durable-functions replay with fake
 * activities (the test harness, compiled to dist/). It reports the episodes,
 * history length and wall time per release and per episode. Every episode
 * replays the whole history, so these numbers bound how long one orchestrator
 * invocation takes as a release grows.
 */
'use strict';

const path = require('node:path');

const dist = path.resolve(__dirname, '../../dist');
const { ReplayEngine } = require(path.join(dist, 'test/pipeline/harness/replay.js'));
const fakes = require(path.join(dist, 'test/pipeline/harness/fakes.js'));
const { releaseOrchestrator } = require(path.join(dist, 'orchestrations/releaseOrchestrator.js'));

const spike = (step) => (step === 1 ? { successRate: { kind: 'values', values: [0.9] }, latencyMs: { kind: 'values', values: [100] } } : fakes.healthy(step));

async function once(metrics) {
  const engine = new ReplayEngine();
  fakes.installFakes(engine, { cluster: fakes.newCluster(), metrics });
  const request = fakes.modelRequest();
  const instance = engine.start(request.instanceId, releaseOrchestrator, request);
  const started = process.hrtime.bigint();
  await engine.run();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  return { ms, episodes: instance.episodes, historyEvents: instance.history.length, phase: instance.output.phase };
}

async function measure(name, metrics, runs) {
  await once(metrics);
  const samples = [];
  for (let i = 0; i < runs; i++) samples.push(await once(metrics));
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const last = samples[samples.length - 1];
  const result = { scenario: name, runs, phase: last.phase, episodes: last.episodes, historyEvents: last.historyEvents, medianMs: ms[Math.floor(runs / 2)], maxMs: ms[runs - 1], medianMsPerEpisode: ms[Math.floor(runs / 2)] / last.episodes };
  console.log(`${name}: ${result.phase}, ${result.episodes} episodes, ${result.historyEvents} history events, median ${result.medianMs.toFixed(1)} ms`);
  return result;
}

async function main() {
  const quiet = console.warn;
  console.warn = () => undefined;
  const results = [await measure('healthy', fakes.healthy, 10), await measure('error-spike', spike, 10)];
  console.warn = quiet;
  process.stdout.write(`${JSON.stringify({ unit: 'ms', results })}\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
