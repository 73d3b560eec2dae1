import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import * as df from 'durable-functions';

import { verifyGitHubSignature } from '../auth/hmac';
import { type ServiceHookAuth, verifyServiceHook } from '../auth/sharedSecret';
import { getSettings } from '../config/settings';
import { TransientError } from '../errors';
import { parseDevOpsMerge, parseDevOpsPush, serviceHookEnvelope } from '../events/azureDevOps';
import { gitRefOf, type GitParseResult, parseGitHubPush, parseGitHubRelease, type ParsedGitChange } from '../events/github';
import { zodProblems } from '../events/zodProblems';
import { currentPolicy, type IntakeDeps, logOutcomes, receivedAt } from '../intake/deps';
import { jsonResponse, mediaTypeOf, parseJsonBody, problemResponse, readLimitedBody } from '../intake/http';
import { decideGitChange } from '../intake/match';
import { ignored, type IntakeOutcome } from '../intake/outcome';
import { buildRequest } from '../intake/request';
import { startRelease } from '../intake/start';
import { durableStarter } from '../intake/starter';
import { errorText, invocationLogger, type Logger } from '../observability/log';

/** Webhook settings, read from app settings by the registered functions and built by hand in tests. */
export interface WebhookConfig {
  maxBodyBytes: number;
  /** GitHub webhook secret; every delivery is rejected while it is unset. */
  githubSecret?: string;
  azureDevOps: ServiceHookAuth;
}

export type WebhookDeps = IntakeDeps & { config: WebhookConfig };

/** Builds the webhook configuration from the app settings. */
export function webhookConfigFromSettings(): WebhookConfig {
  const settings = getSettings();
  const azureDevOps: ServiceHookAuth = {};
  if (settings.AZURE_DEVOPS_WEBHOOK_SECRET) azureDevOps.secret = { header: settings.AZURE_DEVOPS_WEBHOOK_SECRET_HEADER, value: settings.AZURE_DEVOPS_WEBHOOK_SECRET };
  if (settings.AZURE_DEVOPS_BASIC_AUTH_USER && settings.AZURE_DEVOPS_BASIC_AUTH_PASSWORD) {
    azureDevOps.basic = { user: settings.AZURE_DEVOPS_BASIC_AUTH_USER, password: settings.AZURE_DEVOPS_BASIC_AUTH_PASSWORD };
  }
  const config: WebhookConfig = { maxBodyBytes: settings.WEBHOOK_MAX_BODY_BYTES, azureDevOps };
  if (settings.GITHUB_WEBHOOK_SECRET) config.githubSecret = settings.GITHUB_WEBHOOK_SECRET;
  return config;
}

/**
 * Starts a release for each endpoint a Git change maps to, and gives the
 * reason for the others. The response is 202 when something started, 200 otherwise.
 */
async function startGitChanges(changes: ParsedGitChange[], deliveryId: string, deps: WebhookDeps, log: Logger): Promise<IntakeOutcome[]> {
  const outcomes: IntakeOutcome[] = [];
  for (const change of changes) {
    const decisions = decideGitChange(deps.policy, change);
    if (decisions.length === 0) {
      outcomes.push(ignored(`no endpoint in the release policy has a ${change.provider} trigger for repository ${change.repository}`));
      continue;
    }
    for (const decision of decisions) {
      if (!decision.start) {
        outcomes.push(ignored(decision.reason, decision.endpoint.name));
        continue;
      }
      const source = change.provider === 'github' ? 'github' : 'azure-devops';
      const request = buildRequest({ source, endpoint: decision.endpoint.name, git: gitRefOf(change) }, { deliveryId, causedBy: change.actor, receivedAt: receivedAt(deps) });
      outcomes.push(await startRelease(deps.starter, request, log));
    }
  }
  return outcomes;
}

function answer(deliveryId: string, event: string, outcomes: IntakeOutcome[], log: Logger): HttpResponseInit {
  logOutcomes(log, outcomes);
  const started = outcomes.some((o) => o.outcome === 'started');
  return jsonResponse(started ? 202 : 200, { deliveryId, event, outcomes });
}

/** Runs the start step, returning 503 when the Durable backend cannot be reached so that the sender may retry. */
async function withTransientAnswer(log: Logger, work: () => Promise<HttpResponseInit>): Promise<HttpResponseInit> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof TransientError)) throw error;
    log.error('webhook not processed: Durable backend unreachable', { error: errorText(error), status: 503 });
    return problemResponse(503, 'the release backend is unreachable; redeliver the webhook later', [], { 'retry-after': '30' });
  }
}

/** Reads the GitHub payload from a JSON body or a form-encoded `payload=` field. */
function githubPayload(request: HttpRequest, bytes: Buffer): { ok: true; value: unknown } | { ok: false; response: HttpResponseInit } {
  const mediaType = mediaTypeOf(request);
  if (mediaType === 'application/json') return parseJsonBody(bytes);
  if (mediaType === 'application/x-www-form-urlencoded') {
    const payload = new URLSearchParams(bytes.toString('utf8')).get('payload');
    if (payload === null) {
      return { ok: false, response: problemResponse(400, 'form-encoded body has no payload field', [{ field: 'payload', problem: 'is missing', expected: 'payload=<URL-encoded JSON>, as GitHub sends with content type application/x-www-form-urlencoded' }]) };
    }
    return parseJsonBody(Buffer.from(payload, 'utf8'), 'payload');
  }
  return { ok: false, response: problemResponse(415, `content type ${mediaType || '(none)'} is not supported`, [{ field: 'Content-Type', problem: `is ${mediaType || 'missing'}`, expected: 'application/json or application/x-www-form-urlencoded' }]) };
}

function parseGitHubEvent(event: string, payload: unknown): GitParseResult {
  if (event === 'push') return parseGitHubPush(payload);
  if (event === 'release') {
    const parsed = parseGitHubRelease(payload);
    if (parsed.ok && parsed.changes.length === 0) return { ok: true, changes: [], reason: `release action ${parsed.action ?? '(none)'} does not start a release; only published does` };
    return parsed;
  }
  return { ok: true, changes: [], reason: `GitHub event ${event} does not start a release` };
}

/**
 * Handles a GitHub webhook delivery: limits the body, verifies
 * X-Hub-Signature-256 over the raw bytes, then maps push and release events
 * through the policy. Signature problems return 401 and start nothing.
 */
export async function handleGitHubWebhook(request: HttpRequest, deps: WebhookDeps): Promise<HttpResponseInit> {
  const body = await readLimitedBody(request, deps.config.maxBodyBytes);
  if (!body.ok) return body.response;
  const deliveryId = request.headers.get('x-github-delivery') ?? '';
  const event = request.headers.get('x-github-event') ?? '';
  const log = deps.log.with({ deliveryId, eventType: event, source: 'github' });

  if (!deps.config.githubSecret) {
    log.warn('GitHub webhook rejected: GITHUB_WEBHOOK_SECRET is not set', { status: 401 });
    return problemResponse(401, 'this app has no GitHub webhook secret configured, so it cannot verify deliveries', [{ field: 'X-Hub-Signature-256', problem: 'cannot be verified', expected: 'the operator to set GITHUB_WEBHOOK_SECRET to the webhook secret' }]);
  }
  const signature = verifyGitHubSignature(body.bytes, request.headers.get('x-hub-signature-256'), deps.config.githubSecret, request.headers.get('x-hub-signature'));
  if (!signature.ok) {
    log.warn('GitHub webhook rejected: signature check failed', { status: 401, reason: signature.reason });
    return problemResponse(401, signature.reason, [{ field: 'X-Hub-Signature-256', problem: signature.reason, expected: signature.expected }]);
  }
  const missing = [['X-GitHub-Event', event], ['X-GitHub-Delivery', deliveryId]].filter(([, v]) => !v).map(([name]) => ({ field: name!, problem: 'header is missing', expected: 'the header GitHub sends with every delivery' }));
  if (missing.length > 0) return problemResponse(400, 'GitHub delivery headers are missing', missing);

  const payload = githubPayload(request, body.bytes);
  if (!payload.ok) return payload.response;
  if (event === 'ping') {
    log.info('GitHub ping answered', { outcome: 'pong' });
    return jsonResponse(200, { deliveryId, event, outcomes: [{ outcome: 'ignored', reason: 'ping: the webhook reaches this app' }] });
  }
  const parsed = parseGitHubEvent(event, payload.value);
  if (!parsed.ok) return problemResponse(400, `GitHub ${event} payload is invalid`, parsed.problems);
  if (parsed.reason !== undefined) return answer(deliveryId, event, [ignored(parsed.reason)], log);
  return withTransientAnswer(log, async () => answer(deliveryId, event, await startGitChanges(parsed.changes, deliveryId, deps, log), log));
}

const devOpsParsers = new Map<string, (resource: unknown) => GitParseResult>([
  ['git.push', parseDevOpsPush],
  ['git.pullrequest.merged', parseDevOpsMerge],
]);

/**
 * Handles an Azure DevOps service hook: limits the body, checks the shared
 * secret or basic auth, then maps git.push and completed, succeeded
 * git.pullrequest.merged through the policy.
 */
export async function handleAzureDevOpsWebhook(request: HttpRequest, deps: WebhookDeps): Promise<HttpResponseInit> {
  const body = await readLimitedBody(request, deps.config.maxBodyBytes);
  if (!body.ok) return body.response;
  const log = deps.log.with({ source: 'azure-devops' });

  const auth = verifyServiceHook(request.headers, deps.config.azureDevOps);
  if (!auth.ok) {
    log.warn('Azure DevOps service hook rejected: authentication failed', { status: 401, reason: auth.reason });
    return problemResponse(401, auth.reason, [{ field: 'Authorization', problem: auth.reason, expected: auth.expected }], { 'www-authenticate': 'Basic realm="azure-devops-service-hook"' });
  }
  const json = parseJsonBody(body.bytes);
  if (!json.ok) return json.response;
  const envelope = serviceHookEnvelope.safeParse(json.value);
  if (!envelope.success) return problemResponse(400, 'service hook payload is invalid', zodProblems(envelope.error.issues));

  const { id: deliveryId, eventType, resource } = envelope.data;
  const eventLog = log.with({ deliveryId, eventType });
  const parser = devOpsParsers.get(eventType);
  if (parser === undefined) return answer(deliveryId, eventType, [ignored(`Azure DevOps event ${eventType} does not start a release`)], eventLog);
  const parsed = parser(resource);
  if (!parsed.ok) return problemResponse(400, `Azure DevOps ${eventType} payload is invalid`, parsed.problems);
  if (parsed.reason !== undefined) return answer(deliveryId, eventType, [ignored(parsed.reason)], eventLog);
  return withTransientAnswer(eventLog, async () => answer(deliveryId, eventType, await startGitChanges(parsed.changes, deliveryId, deps, eventLog), eventLog));
}

df.app.client.http('githubWebhook', {
  route: 'webhooks/github',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: (request, client, context) =>
    handleGitHubWebhook(request, { starter: durableStarter(client), policy: currentPolicy(), log: invocationLogger(context), config: webhookConfigFromSettings() }),
});

df.app.client.http('azureDevOpsWebhook', {
  route: 'webhooks/azure-devops',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: (request, client, context) =>
    handleAzureDevOpsWebhook(request, { starter: durableStarter(client), policy: currentPolicy(), log: invocationLogger(context), config: webhookConfigFromSettings() }),
});
