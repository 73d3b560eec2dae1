import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { type Devhost, type DevhostOptions, startDevhost } from '../../devhost/index';

const root = path.resolve(__dirname, '..', '..');
export const conformanceEntry = path.join(root, 'dist', 'test', 'devhost', 'app', 'index.js');

/** Writes an app directory whose package.json points at the compiled conformance app. */
export function makeAppDir(values: Record<string, string> = {}): string {
  if (!fs.existsSync(conformanceEntry)) throw new Error(`${conformanceEntry} is missing; run "npm run build" before these tests.`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devhost-app-'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'devhost-conformance', main: conformanceEntry }));
  fs.writeFileSync(path.join(dir, 'host.json'), JSON.stringify({ version: '2.0', extensions: { http: { routePrefix: 'api' }, durableTask: { hubName: '%DURABLE_TASK_HUB%', maxConcurrentActivityFunctions: 10 } } }));
  const settings = { DURABLE_TASK_HUB: 'ConformanceHub', RELEASE_EVENTS_TOPIC: 'release-events', YEARLY_SCHEDULE: '0 0 0 1 1 *', ServiceBusConnection: 'Endpoint=sb://127.0.0.1;UseDevelopmentEmulator=true', ...values };
  fs.writeFileSync(path.join(dir, 'local.settings.json'), JSON.stringify({ IsEncrypted: false, Values: settings }));
  return dir;
}

export interface TestHost extends Devhost {
  appDir: string;
  stateDir: string;
  output: string[];
}

/** Starts devhost on a random loopback port with the conformance app. */
export async function startTestHost(options: Partial<DevhostOptions> & { values?: Record<string, string> } = {}): Promise<TestHost> {
  const appDir = options.appDir ?? makeAppDir(options.values);
  const stateDir = options.stateDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'devhost-state-'));
  const output: string[] = [];
  const host = await startDevhost({ clock: 'instant', ...options, appDir, stateDir, port: 0, onOutput: (line) => output.push(line) });
  return { ...host, appDir, stateDir, output };
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

export async function request(url: string, init: RequestInit = {}): Promise<JsonResponse> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    // Plain-text bodies stay text.
  }
  return { status: response.status, headers: response.headers, body, text };
}

export async function postJson(url: string, value: unknown): Promise<JsonResponse> {
  return request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) });
}

export interface InstanceStatus {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  input: unknown;
  output: unknown;
  customStatus: unknown;
  historyEvents?: Record<string, unknown>[];
}

/** Starts an orchestration through the Durable HTTP API and returns its instance id. */
export async function startOrchestration(host: Devhost, name: string, input?: unknown, instanceId?: string): Promise<string> {
  const suffix = instanceId ? `/${encodeURIComponent(instanceId)}` : '';
  const response = await request(`${host.url}/runtime/webhooks/durabletask/orchestrators/${name}${suffix}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: input === undefined ? '' : JSON.stringify(input) });
  if (response.status !== 202) throw new Error(`start ${name} returned ${response.status}: ${response.text}`);
  return (response.body as { id: string }).id;
}

export async function getStatus(host: Devhost, instanceId: string, query = 'showHistory=true&showHistoryOutput=true'): Promise<InstanceStatus> {
  const response = await request(`${host.url}/runtime/webhooks/durabletask/instances/${encodeURIComponent(instanceId)}?${query}`);
  if (response.status === 404) throw new Error(`instance ${instanceId} not found`);
  return response.body as InstanceStatus;
}

/** Polls the status until `done` returns true or the timeout passes, then returns the last status. */
export async function waitForStatus(host: Devhost, instanceId: string, done: (s: InstanceStatus) => boolean = (s) => ['Completed', 'Failed', 'Terminated'].includes(s.runtimeStatus), timeoutMs = 20000): Promise<InstanceStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await getStatus(host, instanceId);
    if (done(status) || Date.now() > deadline) return status;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Lists the history events that take task ids, as `EventType:EventId`. */
export function scheduledIds(history: Record<string, unknown>[] | undefined): string[] {
  const kinds = new Set(['TaskScheduled', 'TimerCreated', 'SubOrchestrationInstanceCreated', 'EventSent']);
  return (history ?? []).filter((e) => kinds.has(String(e.EventType))).map((e) => `${String(e.EventType)}:${String(e.EventId)}`);
}
