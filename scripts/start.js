#!/usr/bin/env node
/**
 * `npm start`: the main job. Starts sim and devhost on loopback, registers the
 * sample model version in the simulated Azure ML registry, delivers the real
 * ModelRegistered event through the Event Grid endpoint, watches the release
 * to its end and prints the summary. Exit code 0 when the release was
 * promoted; 1 when it ended otherwise (the reason is printed); 3 when a part
 * of the stack is missing or failed to start (the stage is printed).
 *
 *   npm start -- [--scenario healthy|error-spike|latency-regression|approval] [--keep] [--port N]
 */
'use strict';

const { spawn, fork } = require('node:child_process');
const { createWriteStream, existsSync, readFileSync, writeFileSync, mkdirSync } = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
const scenarios = ['healthy', 'error-spike', 'latency-regression', 'approval'];
const sampleEvent = path.join(root, 'config/samples/model-registered.eventgrid-schema.docs.json');
const endpointName = 'regression';

class StageError extends Error {
  constructor(stage, message) {
    super(message);
    this.stage = stage;
  }
}

function say(line) {
  process.stdout.write(`[start] ${line}\n`);
}

function parseOptions() {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { scenario: { type: 'string', default: 'healthy' }, keep: { type: 'boolean', default: false }, port: { type: 'string', default: '7071' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write('usage: npm start -- [--scenario healthy|error-spike|latency-regression|approval] [--keep] [--port N]\n');
    process.exit(0);
  }
  if (!scenarios.includes(values.scenario)) throw new StageError('options', `--scenario "${values.scenario}" is unknown: use one of ${scenarios.join(', ')}`);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new StageError('options', `--port "${values.port}" is not a TCP port number`);
  return { scenario: values.scenario, keep: values.keep, port };
}

/** Runs a command with its output shown, prefixed, and resolves with its exit code. */
function run(command, args, label, env = process.env) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const relay = (stream, target) => {
      let buffered = '';
      stream.on('data', (chunk) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) target.write(`[${label}] ${line}\n`);
      });
    };
    relay(child.stdout, process.stdout);
    relay(child.stderr, process.stderr);
    child.on('error', reject);
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

function requireDist(relative, stage) {
  const file = path.join(dist, relative);
  if (!existsSync(file)) throw new StageError(stage, `${path.relative(root, file)} is missing: run "npm run build" (npm start builds first), or this part is not written yet`);
  return require(file);
}

const simStateDir = process.env.SIM_STATE_DIR ?? path.join(root, '.sim');

/** True when a sim supervisor already runs for the state directory; npm start then reuses it and leaves it running. */
function simRunning() {
  try {
    const pid = Number(readFileSync(path.join(simStateDir, 'supervisor.pid'), 'utf8').trim());
    process.kill(pid, 0);
    return existsSync(path.join(simStateDir, 'endpoints.json'));
  } catch {
    return false;
  }
}

async function startSim() {
  const scripts = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).scripts ?? {};
  if (!scripts['sim:up']) throw new StageError('sim', 'package.json has no "sim:up" script yet, so the local AKS stand-in cannot start');
  const reused = simRunning();
  say(reused ? `reusing the sim that runs in ${path.relative(root, simStateDir) || simStateDir}` : 'starting sim (builds the Kubernetes binaries on first use; that takes a while)');
  const code = await run('npm', ['run', '--silent', 'sim:up'], 'sim');
  if (code !== 0) throw new StageError('sim', `"npm run sim:up" exited with code ${code}; its output above says why`);
  const { readSimEndpoints, appSettingsFromSim } = requireDist('sim/src/endpoints.js', 'sim');
  const sim = readSimEndpoints(simStateDir);
  return { sim, settings: appSettingsFromSim(sim), reused };
}

async function stopSim() {
  say('stopping sim');
  await run('npm', ['run', '--silent', 'sim:down'], 'sim');
}

async function postJson(url, body, headers = {}) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, text };
}

async function registerSampleModel(sim) {
  if (!sim.azureControl) {
    say('sim has no Azure control API; relying on the model version it seeds');
    return;
  }
  const event = JSON.parse(readFileSync(sampleEvent, 'utf8'))[0];
  const { ModelName: name, ModelVersion: version, ModelTags: tags, ModelProperties: properties } = event.data;
  const modelUri = `azureml://subscriptions/${sim.arm.subscriptionId}/resourcegroups/${sim.azureml.resourceGroup}/workspaces/${sim.azureml.workspace}/datastores/workspaceblobstore/paths/models/${name}/${version}/`;
  const result = await postJson(new URL('/azureml/models', sim.azureControl.url), { name, version: String(version), modelUri, tags, properties, region: sim.azureml.region });
  if (result.status >= 300 && result.status !== 409) throw new StageError('register model', `the Azure ML simulator returned HTTP ${result.status}: ${result.text.slice(0, 300)}`);
  say(`model ${name} version ${version} is registered in the simulated workspace ${sim.azureml.workspace}`);
}

/**
 * Makes room for the release. The local policy runs 2 stable replicas with
 * one GPU each and the canary takes a third GPU. Promoting stable rolls one
 * surge pod onto a fourth, because stable never goes below its replica count
 * during an update.
 */
async function scaleGpuPool(settings) {
  const code = await run(process.execPath, [path.join(__dirname, 'start/scale-pool.js'), 'gpu', '4'], 'arm', { ...process.env, ...settings });
  if (code !== 0) throw new StageError('scale gpu pool', 'the simulated AKS API did not scale agent pool gpu to 4 nodes; the output above says why');
}

/**
 * Gives the endpoint a stable Deployment to compare the canary with. The
 * first release of an endpoint deploys stable directly, so npm start first
 * releases version 19 over the release API. The real event for version 20
 * then runs the canary.
 */
async function releaseBaseline(sim, baseUrl) {
  const event = JSON.parse(readFileSync(sampleEvent, 'utf8'))[0];
  const name = event.data.ModelName;
  const version = String(Number(event.data.ModelVersion) - 1);
  if (sim.azureControl) {
    const modelUri = `azureml://subscriptions/${sim.arm.subscriptionId}/resourcegroups/${sim.azureml.resourceGroup}/workspaces/${sim.azureml.workspace}/datastores/workspaceblobstore/paths/models/${name}/${version}/`;
    const registered = await postJson(new URL('/azureml/models', sim.azureControl.url), { name, version, modelUri, tags: event.data.ModelTags, properties: event.data.ModelProperties, region: sim.azureml.region });
    if (registered.status >= 300 && registered.status !== 409) throw new StageError('baseline', `the Azure ML simulator returned HTTP ${registered.status}: ${registered.text.slice(0, 300)}`);
  }
  const { ReleaseApiClient } = requireDist('src/cli/client.js', 'baseline');
  const { watchRelease } = requireDist('src/cli/watch.js', 'baseline');
  const api = new ReleaseApiClient({ baseUrl });
  const started = await api.start({ endpoint: endpointName, model: { name, version }, reason: 'baseline for the npm start demo' });
  say(`baseline: releasing ${name} version ${version} first (${started.releaseId}), so that version ${event.data.ModelVersion} has a stable to compare with`);
  let approved = false;
  const print = (line) => {
    process.stdout.write(`  baseline: ${line}\n`);
    // With the approval scenario the baseline meets the gate too; npm start lets it through.
    if (!approved && line.startsWith('phase AwaitingApproval')) {
      approved = true;
      api.act(started.releaseId, 'approve', 'baseline for the npm start demo').catch((error) => say(`baseline approve failed: ${error.message}`));
    }
  };
  const result = await watchRelease(api, started.releaseId, { intervalMs: 1000, timeoutMs: 10 * 60 * 1000, print });
  if (!result.finished || result.status.phase !== 'Succeeded') {
    throw new StageError('baseline', result.finished ? `the baseline release ended ${result.status.phase}: ${result.status.reason ?? ''}` : result.reason);
  }
}

async function chooseScenario(sim, scenario) {
  if (scenario !== 'error-spike' && scenario !== 'latency-regression') return;
  const url = new URL(`/v1/scenarios/models/regression-server-canary`, sim.traffic.url);
  const response = await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ scenario }) });
  if (!response.ok) throw new StageError('scenario', `the traffic generator rejected scenario ${scenario} with HTTP ${response.status}: ${await response.text()}`);
  say(`the canary will play "${scenario}"`);
}

/** Writes a copy of the local policy with the approval gate on, for the approval scenario. */
function policyFor(scenario) {
  const local = path.join(root, 'config/release-policy.local.yaml');
  if (scenario !== 'approval') return local;
  const text = readFileSync(local, 'utf8').replace('approval: { required: false, timeout: 5m, onTimeout: rollback }', 'approval: { required: true, timeout: 5m, onTimeout: rollback }');
  const dir = path.join(root, '.devhost');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'release-policy.approval.yaml');
  writeFileSync(file, text);
  return file;
}

function startDevhost(settings, port, policyFile) {
  const cli = path.join(dist, 'devhost/cli.js');
  if (!existsSync(cli)) throw new StageError('devhost', 'dist/devhost/cli.js is missing, so the local Functions host cannot start');
  const sample = JSON.parse(readFileSync(path.join(root, 'local.settings.sample.json'), 'utf8')).Values;
  // A fresh state directory per run, so that instances and the ledger of an earlier run do not mix with this one.
  const stateDir = path.join('.devhost', `start-${Date.now()}`);
  const env = { ...process.env, ...sample, ...settings, RELEASE_POLICY_FILE: policyFile, DEVHOST_PORT: String(port), DEVHOST_STATE_DIR: stateDir };
  say(`starting devhost on 127.0.0.1:${port}`);
  const child = fork(cli, [], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const log = path.join(root, '.devhost', 'start.log');
  mkdirSync(path.dirname(log), { recursive: true });
  // Stream the log to the file as it comes, so that `tail -f .devhost/start.log` follows a --keep run.
  const logStream = createWriteStream(log);
  child.stdout.pipe(logStream, { end: false });
  child.stderr.pipe(logStream, { end: false });
  const flush = () => logStream.write('');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new StageError('devhost', `devhost did not report ready within 120 s; its log is in ${path.relative(root, log)}`)), 120000);
    child.on('message', (message) => {
      if (message?.type === 'ready') {
        clearTimeout(timer);
        resolve({ child, url: message.url, flush, log });
      }
      if (message?.type === 'error') {
        clearTimeout(timer);
        flush();
        reject(new StageError('devhost', `devhost failed to start: ${message.message}`));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      flush();
      reject(new StageError('devhost', `devhost exited with code ${code} before it was ready; its log is in ${path.relative(root, log)}`));
    });
  });
}

async function deliverEvent(baseUrl) {
  const body = readFileSync(sampleEvent, 'utf8');
  const url = new URL('/runtime/webhooks/eventgrid?functionName=modelRegistryEvents', baseUrl);
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification' }, body });
  const text = await response.text();
  if (!response.ok) throw new StageError('deliver event', `the Event Grid endpoint returned HTTP ${response.status}: ${text.slice(0, 300)}`);
  say(`delivered ${path.relative(root, sampleEvent)}: HTTP ${response.status}`);
}

function releaseIdOfSample() {
  const { releaseKeyOf, instanceIdOf } = requireDist('src/contracts/release.js', 'watch');
  const event = JSON.parse(readFileSync(sampleEvent, 'utf8'))[0];
  const key = releaseKeyOf({ source: 'azureml', endpoint: endpointName, model: { name: event.data.ModelName, version: String(event.data.ModelVersion) } });
  return instanceIdOf(key, endpointName);
}

async function watch(baseUrl, releaseId, scenario) {
  const { ReleaseApiClient } = requireDist('src/cli/client.js', 'watch');
  const { watchRelease } = requireDist('src/cli/watch.js', 'watch');
  const api = new ReleaseApiClient({ baseUrl });
  let approved = false;
  const print = (line) => {
    process.stdout.write(`  ${line}\n`);
    if (scenario === 'approval' && !approved && line.startsWith('phase AwaitingApproval')) {
      approved = true;
      say('approving the release over HTTP, as a person would');
      api.act(releaseId, 'approve', 'approved by npm start --scenario approval').catch((error) => say(`approve failed: ${error.message}`));
    }
  };
  say(`watching release ${releaseId}`);
  return watchRelease(api, releaseId, { intervalMs: 1000, timeoutMs: 20 * 60 * 1000, print });
}

async function main() {
  const cleanups = [];
  let exitCode = 3;
  try {
    const options = parseOptions();
    // Only checked, not loaded: the app entry point validates settings that devhost sets later.
    if (!existsSync(path.join(dist, 'src/index.js'))) throw new StageError('build', 'dist/src/index.js is missing: run "npm run build"');
    const { sim, settings, reused } = await startSim();
    if (!reused) cleanups.push(stopSim);
    await registerSampleModel(sim);
    await scaleGpuPool(settings);

    const host = await startDevhost(settings, options.port, policyFor(options.scenario));
    cleanups.push(async () => {
      say('stopping devhost');
      host.child.kill('SIGTERM');
      await new Promise((resolve) => host.child.once('exit', resolve));
      host.flush();
    });

    await releaseBaseline(sim, host.url);
    await chooseScenario(sim, options.scenario);
    await deliverEvent(host.url);
    const result = await watch(host.url, releaseIdOfSample(), options.scenario);
    if (!result.finished) throw new StageError('watch', result.reason);
    exitCode = result.status.phase === 'Succeeded' ? 0 : 1;
    say(exitCode === 0 ? 'the release was promoted' : `the release was not promoted: ${result.status.phase}: ${result.status.reason ?? 'no reason recorded'}`);
    if (options.keep) {
      say(`--keep: devhost stays at ${host.url} and sim keeps running for further events; press Ctrl-C to stop both`);
      await new Promise((resolve) => process.once('SIGINT', resolve));
    }
  } catch (error) {
    const stage = error instanceof StageError ? error.stage : 'unexpected';
    say(`stopped at stage "${stage}": ${error.message}`);
    exitCode = 3;
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        say(`cleanup failed: ${error.message}`);
      }
    }
  }
  process.exit(exitCode);
}

main();
