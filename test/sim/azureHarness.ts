import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Logger } from '../../src/observability/log';
import { type AzureSimulatorOptions, type AzureSimulators, startAzureSimulators } from '../../sim/src/azure';

/** Simulators started for one test file, with their temporary state directory. */
export interface SimFixture {
  sims: AzureSimulators;
  stateDir: string;
  ca: string;
  stop(): Promise<void>;
}

/** Starts the simulators on random loopback ports with a quiet logger. */
export async function startSims(options: Partial<AzureSimulatorOptions> = {}): Promise<SimFixture> {
  const stateDir = await mkdtemp(join(tmpdir(), 'azure-sim-test-'));
  const sims = await startAzureSimulators({ stateDir, log: new Logger(console, {}, 'error'), ...options });
  return {
    sims,
    stateDir,
    ca: readFileSync(sims.caCertPath, 'utf8'),
    stop: async () => {
      await sims.stop();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

/** What the child client printed: the action's result or its error, and every TCP connection it opened. */
export interface ClientRun {
  exitCode: number | null;
  result?: unknown;
  error?: { message: string; statusCode: number | null; code: string | null };
  connections: { host: string; port: number | string | null }[];
  stderr: string;
}

const clientScript = join(__dirname, 'azureClient.mts');

/**
 * Runs one action of azureClient.mts in a fresh Node process whose only Azure
 * settings point at the simulators, as the app's would under sim. The child
 * gets no AZURE_* variables, so DefaultAzureCredential can only pick the
 * managed identity from IDENTITY_ENDPOINT.
 */
export function runClient(fixture: SimFixture, action: string, input: unknown = {}): Promise<ClientRun> {
  const { sims } = fixture;
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: fixture.stateDir,
    NODE_EXTRA_CA_CERTS: sims.caCertPath,
    IDENTITY_ENDPOINT: sims.identity.endpoint,
    IDENTITY_HEADER: sims.identity.header,
    SIM_ENDPOINTS_JSON: JSON.stringify(sims),
    SIM_CLIENT_INPUT: JSON.stringify(input),
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [clientScript, action], { env, cwd: join(__dirname, '..', '..'), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.on('error', reject);
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      const line = stdout.trim().split('\n').at(-1) ?? '';
      try {
        resolve({ exitCode, stderr, ...(JSON.parse(line) as Omit<ClientRun, 'exitCode' | 'stderr'>) });
      } catch {
        reject(new Error(`client action ${action} printed no result (exit ${String(exitCode)}): ${stdout}\n${stderr}`));
      }
    });
  });
}

/** A raw HTTP(S) exchange with a simulator, trusting only the sim CA. */
export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json(): unknown;
}

export function send(url: string, options: { method?: string; headers?: Record<string, string>; body?: string; ca?: string } = {}): Promise<RawResponse> {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(target, { method: options.method ?? 'GET', headers: options.headers, ...(options.ca ? { ca: options.ca } : {}) }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) as unknown }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Loopback hosts a client may connect to. */
export const loopbackHosts = ['127.0.0.1', '::1', 'localhost'];
