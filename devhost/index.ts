/**
 * Programmatic API: starts devhost in a child process (Node 22) and returns
 * once it listens. A child process keeps the app's module state, the core
 * module binding and SQLite handles out of the caller, so several devhosts
 * can run from one test file and each can be killed like a real host.
 */
import { type ChildProcess, fork } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export { InstantClock, RealClock } from './clock';
// In-process start, for tools that own their process; one devhost per process, and not under jest's module system.
export { runDevhost, type RunningDevhost, type RuntimeOptions } from './runtime';
export type { DevhostClock } from './clock';

export interface DevhostOptions {
  /** Directory with package.json (whose `main` is the compiled entry point), host.json and optionally local.settings.json. */
  appDir: string;
  /** 0 picks a free port. Default 0. */
  port?: number;
  /** Directory for the SQLite state and host-keys.json; reuse it to resume after a crash. */
  stateDir: string;
  /** App settings that override local.settings.json and the inherited environment. */
  env?: Record<string, string>;
  /** `instant` fires durable timers at once and moves time forward to their due time. Default `real`. */
  clock?: 'real' | 'instant';
  /** Maximum activities running at once. */
  activityConcurrency?: number;
  /** Called with each line the host writes to stdout or stderr; default: discard. */
  onOutput?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Milliseconds to wait for start-up. Default 30000. */
  startTimeoutMs?: number;
}

export interface Devhost {
  url: string;
  port: number;
  routes: string[];
  pid: number;
  /** Stops the host with SIGTERM and waits for it to exit. */
  stop(): Promise<void>;
  /** Kills the host with SIGKILL (a crash) and waits for it to exit. */
  kill(): Promise<void>;
}

/** Finds the compiled CLI beside this file, or under dist/ when running from TypeScript sources. */
function cliPath(): string {
  const sibling = path.join(__dirname, 'cli.js');
  if (fs.existsSync(sibling)) return sibling;
  const compiled = path.resolve(__dirname, '..', 'dist', 'devhost', 'cli.js');
  if (fs.existsSync(compiled)) return compiled;
  throw new Error(`devhost is not built: neither ${sibling} nor ${compiled} exists; run "npm run build".`);
}

/** node:sqlite needs Node 22; under an older Node use the one the project pins in node_modules. */
function nodeBinary(): string {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 22) return process.execPath;
  const pinned = path.resolve(__dirname, '..', '..', 'node_modules', 'node', 'bin', 'node');
  const pinnedFromSource = path.resolve(__dirname, '..', 'node_modules', 'node', 'bin', 'node');
  return [pinned, pinnedFromSource].find((p) => fs.existsSync(p)) ?? process.execPath;
}

/** Starts devhost and resolves when it listens; rejects with the host's own message when the app fails to load. */
export function startDevhost(options: DevhostOptions): Promise<Devhost> {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ...options.env,
    DEVHOST_APP_DIR: path.resolve(options.appDir),
    DEVHOST_STATE_DIR: path.resolve(options.stateDir),
    DEVHOST_PORT: String(options.port ?? 0),
    DEVHOST_CLOCK: options.clock ?? 'real',
  };
  if (options.activityConcurrency !== undefined) env.DEVHOST_ACTIVITY_CONCURRENCY = String(options.activityConcurrency);
  const child = fork(cliPath(), [], { cwd: path.resolve(options.appDir), env, execPath: nodeBinary(), execArgv: ['--no-warnings'], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const output: string[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    let buffered = '';
    child[stream]?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        output.push(line);
        if (output.length > 200) output.shift();
        options.onOutput?.(line, stream);
      }
    });
  }

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`devhost did not start within ${options.startTimeoutMs ?? 30000} ms. Last output:\n${output.slice(-20).join('\n')}`));
    }, options.startTimeoutMs ?? 30000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`devhost exited during start-up (code ${code}, signal ${signal}). Output:\n${output.slice(-20).join('\n')}`));
    });
    child.on('message', (message: { type?: string; url?: string; port?: number; routes?: string[] }) => {
      if (message.type !== 'ready' || !message.url || message.port === undefined) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({ url: message.url, port: message.port, routes: message.routes ?? [], pid: child.pid ?? 0, stop: () => terminate(child, 'SIGTERM'), kill: () => terminate(child, 'SIGKILL') });
    });
  });
}

function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill(signal);
  });
}
