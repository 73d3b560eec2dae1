import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { dirname, join, resolve } from 'node:path';

/** Repository root: the nearest parent of this file that contains package.json and sim/scripts. */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'sim', 'scripts'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the repository root above ${__dirname}: no package.json beside sim/scripts`);
    dir = parent;
  }
}

/** State directory of sim: the option, else SIM_STATE_DIR, else `.sim` in the repository. */
export function resolveStateDir(stateDir?: string): string {
  return resolve(stateDir ?? process.env.SIM_STATE_DIR ?? join(repoRoot(), '.sim'));
}

/**
 * Returns `count` distinct TCP ports on 127.0.0.1 that were free a moment
 * ago. The kernel picks them from its ephemeral range, so two sim runs
 * starting at once get different ports. Another process can still take a
 * port before the caller binds it.
 */
export async function freeLoopbackPorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolveListen, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolveListen());
      });
    }
    return servers.map((server) => (server.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolveClose) => server.close(() => resolveClose()))));
  }
}

/** Returns one TCP port on 127.0.0.1 that was free a moment ago; see freeLoopbackPorts. */
export async function freeLoopbackPort(): Promise<number> {
  const [port] = await freeLoopbackPorts(1);
  if (port === undefined) throw new Error('the kernel returned no port for 127.0.0.1:0');
  return port;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Called with each line the command writes to stderr, for progress output. */
  onStderrLine?: (line: string) => void;
  timeoutMs?: number;
}

/** Runs a command to completion; rejects with its exit code and stderr tail when it fails. */
export async function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let pending = '';
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGTERM'), options.timeoutMs);

    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      stderr += text;
      if (!options.onStderrLine) return;
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) options.onStderrLine(line);
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${command}: ${error.message}`, { cause: error }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolveRun({ stdout, stderr });
      const tail = stderr.trim().split('\n').slice(-15).join('\n');
      const how = signal ? `was stopped by ${signal}` : `exited with code ${code ?? 'unknown'}`;
      reject(new Error(`${command} ${args.join(' ')} ${how}:\n${tail}`));
    });
  });
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolveDelay) => setTimeout(resolveDelay, ms));
}

/**
 * Calls `check` every `intervalMs` until it returns a value other than
 * undefined, and rejects with `what` when `timeoutMs` passes first.
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, options: { timeoutMs: number; intervalMs?: number }): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}`, lastError === undefined ? undefined : { cause: lastError });
    }
    await delay(options.intervalMs ?? 250);
  }
}
