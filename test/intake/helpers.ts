import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { HttpRequest } from '@azure/functions';

import { signGitHubBody } from '../../src/auth/hmac';
import { loadReleasePolicy, type ReleasePolicy } from '../../src/config/policy';
import type { WebhookConfig, WebhookDeps } from '../../src/functions/webhooks';
import type { IntakeOutcome } from '../../src/intake/outcome';
import { durableStarter } from '../../src/intake/starter';
import { Logger, type LogSink } from '../../src/observability/log';
import { DurableApiServer } from './durableApi';

export const fixturesDir = join(__dirname, '..', 'fixtures');
export const githubSecret = 'test-github-secret-\u00e9\u2603';
export const devOpsSecret = 'test-devops-secret';
export const fixedNow = new Date('2026-01-02T03:04:05.000Z');

export function fixtureBytes(path: string): Buffer {
  return readFileSync(join(fixturesDir, path));
}

export function fixtureJson(path: string): unknown {
  return JSON.parse(fixtureBytes(path).toString('utf8')) as unknown;
}

let policy: ReleasePolicy | undefined;
export function testPolicy(): ReleasePolicy {
  policy ??= loadReleasePolicy(join(fixturesDir, 'policy.intake.yaml'));
  return policy;
}

/** Creates a logger that keeps every line it writes, so that tests can read the log. */
export function capturingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const push = (...args: unknown[]): void => void lines.push(args.map(String).join(' '));
  const sink: LogSink = { debug: push, info: push, warn: push, error: push };
  return { log: new Logger(sink, {}, 'debug'), lines };
}

export const webhookConfig: WebhookConfig = {
  maxBodyBytes: 1024 * 1024,
  githubSecret,
  azureDevOps: { secret: { header: 'x-webhook-secret', value: devOpsSecret }, basic: { user: 'hook', password: 'hook-password' } },
};

/** A loopback Durable API, a real DurableClient on it, and handler dependencies. */
export interface Harness {
  server: DurableApiServer;
  deps: WebhookDeps;
  lines: string[];
}

export async function startHarness(config: WebhookConfig = webhookConfig): Promise<Harness> {
  const server = new DurableApiServer();
  await server.start();
  const { log, lines } = capturingLogger();
  return { server, lines, deps: { starter: durableStarter(server.client()), policy: testPolicy(), log, now: () => fixedNow, config } };
}

export interface GitHubDelivery {
  event: string;
  delivery?: string;
  contentType?: string;
  /** Signature header value; computed with the test secret when absent. */
  signature?: string | null;
  headers?: Record<string, string>;
}

export function githubRequest(body: Buffer | string, options: GitHubDelivery): HttpRequest {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const headers: Record<string, string> = {
    'content-type': options.contentType ?? 'application/json',
    'x-github-event': options.event,
    'x-github-delivery': options.delivery ?? '72d3162e-cc78-11e3-81ab-4c9367dc0958',
    ...options.headers,
  };
  const signature = options.signature === undefined ? signGitHubBody(bytes, githubSecret) : options.signature;
  if (signature !== null) headers['x-hub-signature-256'] = signature;
  return new HttpRequest({ method: 'POST', url: 'http://127.0.0.1/api/webhooks/github', headers, body: { bytes } });
}

export function devOpsRequest(body: Buffer | string, headers: Record<string, string> = { 'x-webhook-secret': devOpsSecret }): HttpRequest {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return new HttpRequest({ method: 'POST', url: 'http://127.0.0.1/api/webhooks/azure-devops', headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: { bytes } });
}

/** Returns the outcomes in a webhook response body. */
export function outcomesOf(body: unknown): IntakeOutcome[] {
  return (body as { outcomes: IntakeOutcome[] }).outcomes;
}
