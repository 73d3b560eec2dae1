#!/usr/bin/env node
// Intake throughput benchmark (not a test): signed GitHub push webhooks over
// loopback HTTP into the webhook handler, which starts releases through the
// real durable-functions client against the loopback Durable API used by the
// tests. Three scenarios run in turn: "start" sends a new commit every time
// (status read plus start, the most expensive path), "duplicate" resends one
// commit (status read only), "ignored" pushes a branch the policy does not
// list (no Durable call). Writes bench/results/intake.json.
//
// Usage: npm run build && node scripts/bench/intake.js [--seconds 10] [--connections 8]
'use strict';

const { once } = require('node:events');
const { mkdirSync, readFileSync, writeFileSync } = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { randomBytes } = require('node:crypto');

const root = path.resolve(__dirname, '..', '..');
const dist = path.join(root, 'dist');

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
}

async function main() {
  const seconds = option('seconds', 10);
  const connections = option('connections', 8);
  const warmupSeconds = 1;

  const { HttpRequest } = require('@azure/functions');
  const { handleGitHubWebhook } = require(path.join(dist, 'src/functions/webhooks.js'));
  const { signGitHubBody } = require(path.join(dist, 'src/auth/hmac.js'));
  const { loadReleasePolicy } = require(path.join(dist, 'src/config/policy.js'));
  const { durableStarter } = require(path.join(dist, 'src/intake/starter.js'));
  const { Logger } = require(path.join(dist, 'src/observability/log.js'));
  const { DurableApiServer } = require(path.join(dist, 'test/intake/durableApi.js'));

  const durable = new DurableApiServer();
  await durable.start();
  const secret = 'bench-secret';
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const deps = {
    starter: durableStarter(durable.client()),
    policy: loadReleasePolicy(path.join(root, 'test/fixtures/policy.intake.yaml')),
    log: new Logger(quiet, {}, 'info'),
    config: { maxBodyBytes: 1048576, githubSecret: secret, azureDevOps: {} },
  };

  // The app side: a plain Node server handing each request to the handler, as the Functions host would.
  const app = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const headers = {};
    for (const [key, value] of Object.entries(req.headers)) if (typeof value === 'string') headers[key] = value;
    const request = new HttpRequest({ method: req.method, url: `http://127.0.0.1${req.url}`, headers, body: { bytes: Buffer.concat(chunks) } });
    const response = await handleGitHubWebhook(request, deps);
    const text = JSON.stringify(response.jsonBody ?? null);
    res.writeHead(response.status ?? 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  const port = app.address().port;

  const template = JSON.parse(readFileSync(path.join(root, 'test/fixtures/github/push.default-branch.drone-fixture.json'), 'utf8'));
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const scenarios = {
    start: () => ({ ...template, after: randomBytes(20).toString('hex') }),
    duplicate: () => template,
    ignored: () => ({ ...template, ref: 'refs/heads/unlisted-branch' }),
  };
  const results = {};
  for (const [name, payload] of Object.entries(scenarios)) {
    results[name] = await runScenario(payload);
  }

  async function runScenario(payload) {
  const latencies = [];
  const statuses = {};
  let sent = 0;

  function send() {
    const body = Buffer.from(JSON.stringify(payload()));
    const headers = { 'content-type': 'application/json', 'content-length': body.length, 'x-github-event': 'push', 'x-github-delivery': `bench-${sent++}`, 'x-hub-signature-256': signGitHubBody(body, secret) };
    const started = process.hrtime.bigint();
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/api/webhooks/github', headers, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  const warmupEnds = Date.now() + warmupSeconds * 1000;
  const ends = warmupEnds + seconds * 1000;
  let measuredStart = 0;
  async function worker() {
    while (Date.now() < ends) {
      const { status, ms } = await send();
      if (Date.now() < warmupEnds) continue;
      measuredStart ||= Date.now();
      latencies.push(ms);
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  }
  await Promise.all(Array.from({ length: connections }, worker));
  const elapsed = (Date.now() - measuredStart) / 1000;

  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  const requestsPerSecond = Math.round(latencies.length / elapsed);
  const latencyMs = { p50: +at(0.5).toFixed(2), p90: +at(0.9).toFixed(2), p99: +at(0.99).toFixed(2), max: +(latencies.at(-1) ?? 0).toFixed(2) };
  return { requests: latencies.length, requestsPerSecond, latencyMs, statuses, metTarget: requestsPerSecond >= 500 && latencyMs.p99 < 50 };
  }

  agent.destroy();
  app.close();
  await durable.stop();

  const result = {
    benchmark: 'intake: signed GitHub push webhooks over loopback HTTP',
    when: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version, platform: `${os.platform()} ${os.release()}`, loadAverage1m: +os.loadavg()[0].toFixed(2) },
    settings: { seconds, warmupSeconds, connections },
    target: { requestsPerSecond: 500, p99Ms: 50 },
    scenarios: results,
    note: [
      'Load generator, app handler and the loopback Durable API share one Node process and the machine\'s cores with whatever else runs; loadAverage1m is read at the end.',
      'The start and duplicate scenarios are bound by the durable-functions 3.5 client, which opens a new TCP connection for every call (20 status reads made 20 connections when measured).',
    ],
  };

  const out = path.join(root, 'bench', 'results', 'intake.json');
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
}

main().catch((error) => {
  console.error(`intake benchmark failed: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(1);
});
