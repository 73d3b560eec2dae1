#!/usr/bin/env node
// devhost Durable engine benchmark (not a test). Two scenarios against the
// compiled conformance app on a loopback devhost with a fresh state directory:
//   step:       one orchestration of --steps sequential no-op activities, several
//               times; per-step overhead = time between consecutive TaskScheduled
//               events (one activity invocation plus one orchestrator replay).
//   throughput: --instances orchestrations of --activities sequential no-op
//               activities started at once; elapsed = first start to last completion.
// Prints the result as the last stdout line (the scripts/bench.js convention) and
// writes bench/results/devhost.json.
//
// Usage: npm run build && node scripts/bench/devhost.js [--steps 50] [--runs 5] [--instances 100] [--activities 10]
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const dist = path.join(root, 'dist');

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function json(url, init) {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

function startBody(input) {
  return { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(input) };
}

/** CPU time (user + system) the process has used, in ms; Linux /proc clock ticks are 10 ms. */
function cpuMs(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

async function stepScenario(api, steps, runs, pid) {
  const cpuBefore = cpuMs(pid);
  const overheads = [];
  const wallMs = [];
  for (let run = 0; run < runs; run++) {
    const started = performance.now();
    // timeout= makes the start request wait for completion, so no polling delay is measured.
    const response = await json(`${api}/orchestrators/sequence/step-${run}?timeout=120`, startBody(steps));
    if (response.status !== 200) throw new Error(`step run ${run} did not complete: ${response.status} ${JSON.stringify(response.body)}`);
    wallMs.push(performance.now() - started);
    const status = await json(`${api}/instances/step-${run}?showHistory=true`);
    const scheduled = status.body.historyEvents.filter((e) => e.EventType === 'TaskScheduled').map((e) => Date.parse(e.Timestamp));
    for (let i = 1; i < scheduled.length; i++) overheads.push(scheduled[i] - scheduled[i - 1]);
  }
  const cpuAfter = cpuMs(pid);
  return {
    steps,
    runs,
    hostCpuPerStepMs: cpuBefore === null || cpuAfter === null ? null : Math.round(((cpuAfter - cpuBefore) / (steps * runs)) * 100) / 100,
    medianStepMs: percentile(overheads, 50),
    p95StepMs: percentile(overheads, 95),
    wallPerStepMs: Math.round((percentile(wallMs, 50) / steps) * 100) / 100,
    note: 'medianStepMs: time between consecutive TaskScheduled events (1 ms resolution). wallPerStepMs: median run wall time / steps. hostCpuPerStepMs: devhost process CPU time / steps, which the load of other processes does not inflate.',
  };
}

async function throughputScenario(api, instances, activities) {
  const started = performance.now();
  await Promise.all(Array.from({ length: instances }, (_, i) => json(`${api}/orchestrators/sequence/tp-${i}`, startBody(activities))));
  const deadline = Date.now() + 300_000;
  let completed = 0;
  while (completed < instances && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const list = await json(`${api}/instances/?instanceIdPrefix=tp-&runtimeStatus=Completed`);
    completed = list.body.length;
  }
  const elapsedMs = performance.now() - started;
  if (completed < instances) throw new Error(`only ${completed} of ${instances} orchestrations completed within 300 s`);
  return { instances, activitiesEach: activities, totalSteps: instances * activities, elapsedMs: Math.round(elapsedMs), stepsPerSecond: Math.round((instances * activities * 1000) / elapsedMs) };
}

async function main() {
  const { startDevhost } = require(path.join(dist, 'devhost', 'index.js'));
  const entry = path.join(dist, 'test', 'devhost', 'app', 'index.js');
  if (!fs.existsSync(entry)) throw new Error(`${entry} is missing; run "npm run build" first.`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'devhost-bench-'));
  const appDir = path.join(work, 'app');
  fs.mkdirSync(appDir);
  fs.writeFileSync(path.join(appDir, 'package.json'), JSON.stringify({ main: entry }));
  fs.writeFileSync(path.join(appDir, 'host.json'), JSON.stringify({ version: '2.0', extensions: { durableTask: { hubName: 'Bench', maxConcurrentActivityFunctions: 10, maxConcurrentOrchestratorFunctions: 10 } } }));
  fs.writeFileSync(path.join(appDir, 'local.settings.json'), JSON.stringify({ Values: { RELEASE_EVENTS_TOPIC: 'release-events', YEARLY_SCHEDULE: '0 0 0 1 1 *', LOG_LEVEL: 'warn' } }));

  const host = await startDevhost({ appDir, stateDir: path.join(work, 'state'), port: 0, clock: 'real' });
  try {
    const api = `${host.url}/runtime/webhooks/durabletask`;
    const step = await stepScenario(api, option('steps', 50), option('runs', 5), host.pid);
    process.stdout.write(`step: median ${step.medianStepMs} ms, p95 ${step.p95StepMs} ms, wall ${step.wallPerStepMs} ms/step, host CPU ${step.hostCpuPerStepMs} ms/step\n`);
    const throughput = await throughputScenario(api, option('instances', 100), option('activities', 10));
    process.stdout.write(`throughput: ${throughput.totalSteps} steps in ${throughput.elapsedMs} ms (${throughput.stepsPerSecond}/s)\n`);

    const result = {
      step,
      throughput,
      targets: { medianStepMs: 5, thousandStepsMs: 10_000 },
      meetsTargets: step.medianStepMs !== null && step.medianStepMs < 5 && throughput.elapsedMs < 10_000,
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.version, loadAverage1m: os.loadavg()[0] },
    };
    const resultsDir = path.join(root, 'bench', 'results');
    fs.mkdirSync(resultsDir, { recursive: true });
    fs.writeFileSync(path.join(resultsDir, 'devhost.json'), `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await host.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`devhost bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
