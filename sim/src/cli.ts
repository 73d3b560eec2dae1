#!/usr/bin/env node
/**
 * sim command line. `up` starts a background supervisor that runs the whole
 * sim, and returns once endpoints.json is written. `down` stops it, `status`
 * prints the endpoints, and `supervise` is the supervisor itself.
 *
 *   node dist/sim/src/cli.js up|down|status [--state-dir DIR]
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { consoleLogger, errorText } from '../../src/observability/log';
import { cachedBinDir, ensureBinaries } from './cluster/binaries';
import { defaultClusterName } from './cluster/cluster';
import type { SimEndpoints } from './endpoints';
import { startSim } from './sim';
import { delay, resolveStateDir, run } from './support';

const upTimeoutMs = 10 * 60_000;
const downTimeoutMs = 90_000;

interface Paths {
  stateDir: string;
  endpoints: string;
  log: string;
  supervisorPid: string;
}

function pathsOf(stateDir: string): Paths {
  return { stateDir, endpoints: join(stateDir, 'endpoints.json'), log: join(stateDir, 'sim.log'), supervisorPid: join(stateDir, 'supervisor.pid') };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readPid(path: string): number | undefined {
  if (!existsSync(path)) return undefined;
  const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function readEndpoints(path: string): SimEndpoints | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as SimEndpoints;
  } catch {
    return undefined;
  }
}

async function up(paths: Paths): Promise<number> {
  const existing = readPid(paths.supervisorPid);
  if (existing !== undefined && isRunning(existing)) {
    process.stdout.write(`sim is already running (supervisor pid ${existing}); endpoints in ${paths.endpoints}\n`);
    return 0;
  }
  mkdirSync(paths.stateDir, { recursive: true });
  // A supervisor that died without cleaning up may have left a cluster and Prometheus running.
  await removeLeftovers(paths);

  // The binary build runs in the foreground so that its progress shows here.
  const started = Date.now();
  await ensureBinaries({ onProgress: (line) => process.stdout.write(`${line}\n`) });

  rmSync(paths.endpoints, { force: true });
  const log = openSync(paths.log, 'w');
  const child = spawn(process.execPath, [__filename, 'supervise', '--state-dir', paths.stateDir], { detached: true, stdio: ['ignore', log, log], env: process.env });
  closeSync(log);
  child.unref();
  const pid = child.pid ?? 0;
  writeFileSync(paths.supervisorPid, `${pid}\n`);

  const ready = await followUntilReady(paths, pid);
  if (!ready) {
    process.stderr.write(`sim did not start; see ${paths.log}\n`);
    if (isRunning(pid)) process.kill(pid, 'SIGTERM');
    return 1;
  }
  const endpoints = readEndpoints(paths.endpoints);
  process.stdout.write(`sim is up in ${((Date.now() - started) / 1000).toFixed(1)} s (supervisor pid ${pid})\n`);
  process.stdout.write(`  endpoints:  ${paths.endpoints}\n  kubeconfig: ${endpoints?.kubernetes.kubeconfigPath ?? '?'}\n  prometheus: ${endpoints?.prometheus.url ?? '?'}\n  traffic:    ${endpoints?.traffic.url ?? '?'}\n`);
  if (endpoints?.arm) process.stdout.write(`  arm:        ${endpoints.arm.endpoint}\n`);
  process.stdout.write('Stop it with: npm run sim:down\n');
  return 0;
}

/** Prints the supervisor's progress lines until it writes endpoints.json; false when it exits or times out first. */
async function followUntilReady(paths: Paths, pid: number): Promise<boolean> {
  const deadline = Date.now() + upTimeoutMs;
  let printed = 0;
  for (;;) {
    printed = printNewProgress(paths.log, printed);
    const endpoints = readEndpoints(paths.endpoints);
    if (endpoints?.pid === pid) return true;
    if (!isRunning(pid) || Date.now() > deadline) {
      printNewProgress(paths.log, printed, true);
      return false;
    }
    await delay(250);
  }
}

/** Prints log lines after byte `from`: plain progress lines, and JSON log lines too when `all` is set. */
function printNewProgress(logPath: string, from: number, all = false): number {
  if (!existsSync(logPath) || statSync(logPath).size <= from) return from;
  const text = readFileSync(logPath).subarray(from).toString('utf8');
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  for (const line of complete.split('\n')) {
    if (line && (all || !line.startsWith('{'))) process.stdout.write(`${line}\n`);
  }
  return from + Buffer.byteLength(complete);
}

async function down(paths: Paths): Promise<number> {
  const pid = readPid(paths.supervisorPid) ?? readEndpoints(paths.endpoints)?.pid;
  if (pid !== undefined && isRunning(pid)) {
    process.stdout.write(`stopping sim (supervisor pid ${pid})\n`);
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + downTimeoutMs;
    while (isRunning(pid) && Date.now() < deadline) await delay(200);
    if (isRunning(pid)) {
      process.stderr.write(`supervisor ${pid} did not stop within ${downTimeoutMs / 1000} s; killing it\n`);
      process.kill(pid, 'SIGKILL');
    }
  }
  await removeLeftovers(paths);
  rmSync(paths.supervisorPid, { force: true });
  rmSync(paths.endpoints, { force: true });
  process.stdout.write('sim is down\n');
  return 0;
}

/** Stops what a supervisor that died without cleaning up left behind: the kwok cluster and Prometheus. */
async function removeLeftovers(paths: Paths): Promise<void> {
  const workdir = join(paths.stateDir, 'kwok');
  if (existsSync(join(workdir, 'clusters', defaultClusterName))) {
    const binDir = await cachedBinDir();
    if (!binDir) throw new Error(`cannot delete the leftover cluster in ${workdir}: the sim binaries are not built, so kwokctl is missing`);
    process.stdout.write(`deleting leftover cluster ${defaultClusterName}\n`);
    await run(join(binDir, 'kwokctl'), ['delete', 'cluster', '--name', defaultClusterName], { env: { ...process.env, KWOK_WORKDIR: workdir } });
  }
  const prometheusPid = readPid(join(paths.stateDir, 'prometheus', 'pid'));
  if (prometheusPid !== undefined && isRunning(prometheusPid) && commandOf(prometheusPid).includes('prometheus')) {
    process.stdout.write(`stopping leftover Prometheus (pid ${prometheusPid})\n`);
    process.kill(prometheusPid, 'SIGTERM');
  }
  rmSync(join(paths.stateDir, 'prometheus', 'pid'), { force: true });
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/** Runs the sim until SIGTERM or SIGINT, then stops every part and exits. */
async function supervise(paths: Paths): Promise<number> {
  const logger = consoleLogger({ component: 'sim-supervisor' });
  // Listen before starting, so a signal during start-up still stops every part.
  const stopRequested = new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  const sim = await startSim({ stateDir: paths.stateDir, logger, onProgress: (line) => process.stdout.write(`${line}\n`) });
  logger.info('sim supervisor running', { pid: process.pid, endpoints: paths.endpoints });

  await stopRequested;
  logger.info('sim supervisor stopping');
  await sim.stop();
  rmSync(paths.supervisorPid, { force: true });
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const stateIndex = rest.indexOf('--state-dir');
  const paths = pathsOf(resolveStateDir(stateIndex >= 0 ? rest[stateIndex + 1] : undefined));
  switch (command) {
    case 'up':
      return up(paths);
    case 'down':
      return down(paths);
    case 'status': {
      const endpoints = readEndpoints(paths.endpoints);
      const running = endpoints !== undefined && isRunning(endpoints.pid);
      process.stdout.write(running ? `${JSON.stringify(endpoints, null, 2)}\n` : `sim is not running (no live supervisor for ${paths.endpoints})\n`);
      return running ? 0 : 1;
    }
    case 'supervise':
      return supervise(paths);
    default:
      process.stderr.write('usage: cli.js up|down|status [--state-dir DIR]\n');
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`sim failed: ${errorText(error)}\n`);
    process.exit(1);
  },
);
