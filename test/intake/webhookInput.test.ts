import { HttpRequest } from '@azure/functions';

import { signGitHubBody } from '../../src/auth/hmac';
import { handleAzureDevOpsWebhook, handleGitHubWebhook } from '../../src/functions/webhooks';
import { devOpsRequest, fixtureBytes, githubRequest, githubSecret, type Harness, startHarness, webhookConfig } from './helpers';

let h: Harness;
beforeEach(async () => {
  h = await startHarness({ ...webhookConfig, maxBodyBytes: 16 * 1024 });
});
afterEach(async () => {
  await h.server.stop();
});

interface Problem {
  field: string;
  problem: string;
  expected: string;
}

const problemsOf = (response: { jsonBody?: unknown }): Problem[] => (response.jsonBody as { problems: Problem[] }).problems;

/** Builds a request whose body arrives as a stream without Content-Length, as chunked transfer encoding does. */
function streamedRequest(bytes: Buffer, headers: Record<string, string>): HttpRequest {
  const request = new HttpRequest({ method: 'POST', url: 'http://127.0.0.1/api/webhooks/github', headers, body: { bytes } });
  expect(request.headers.get('content-length')).toBeNull();
  return request;
}

describe('webhook input limits', () => {
  test('declared oversized body gives 413 unread', async () => {
    const body = Buffer.alloc(32 * 1024, 0x20);
    const response = await handleGitHubWebhook(githubRequest(body, { event: 'push', headers: { 'content-length': String(body.length) } }), h.deps);

    expect(response.status).toBe(413);
    expect(problemsOf(response)[0]).toMatchObject({ field: '(body)', expected: 'at most 16384 bytes (WEBHOOK_MAX_BODY_BYTES)' });
  });

  test('streamed oversized body gives 413', async () => {
    const body = Buffer.alloc(32 * 1024, 0x20);
    const response = await handleGitHubWebhook(streamedRequest(body, { 'x-github-event': 'push', 'x-hub-signature-256': signGitHubBody(body, githubSecret) }), h.deps);

    expect(response.status).toBe(413);
  });

  test('oversized Azure DevOps body gives 413', async () => {
    expect((await handleAzureDevOpsWebhook(devOpsRequest(Buffer.alloc(20 * 1024, 0x20)), h.deps)).status).toBe(413);
  });
});

describe('GitHub webhook input', () => {
  const push = fixtureBytes('github/push.default-branch.drone-fixture.json');

  test('missing event header gives 400', async () => {
    const response = await handleGitHubWebhook(githubRequest(push, { event: '' }), h.deps);

    expect(response.status).toBe(400);
    expect(problemsOf(response).map((p) => p.field)).toEqual(['X-GitHub-Event']);
  });

  test('unsupported content type gives 415', async () => {
    const response = await handleGitHubWebhook(githubRequest(push, { event: 'push', contentType: 'text/plain' }), h.deps);

    expect(response.status).toBe(415);
    expect(problemsOf(response)[0]?.expected).toBe('application/json or application/x-www-form-urlencoded');
  });

  test('form without payload field gives 400', async () => {
    const response = await handleGitHubWebhook(githubRequest('other=1', { event: 'push', contentType: 'application/x-www-form-urlencoded' }), h.deps);

    expect(response.status).toBe(400);
    expect(problemsOf(response)[0]?.field).toBe('payload');
  });

  test('invalid JSON gives 400 with the parser message', async () => {
    const response = await handleGitHubWebhook(githubRequest('{"ref":', { event: 'push' }), h.deps);

    expect(response.status).toBe(400);
    expect(problemsOf(response)[0]?.problem).toMatch(/JSON/);
  });

  test('push without commit names the field', async () => {
    const payload = JSON.parse(push.toString('utf8')) as Record<string, unknown>;
    delete payload.after;
    const response = await handleGitHubWebhook(githubRequest(JSON.stringify(payload), { event: 'push' }), h.deps);

    expect(response.status).toBe(400);
    expect(problemsOf(response)[0]?.field).toBe('after');
  });

  test('release edited is ignored with the reason', async () => {
    const payload = { ...(JSON.parse(fixtureBytes('github/release.published.octokit.json').toString('utf8')) as Record<string, unknown>), action: 'edited' };
    const response = await handleGitHubWebhook(githubRequest(JSON.stringify(payload), { event: 'release' }), h.deps);

    expect(response.status).toBe(200);
    expect(JSON.stringify(response.jsonBody)).toContain('release action edited does not start a release; only published does');
    expect(h.server.instances.size).toBe(0);
  });
});

describe('Azure DevOps webhook input', () => {
  const merged = JSON.parse(fixtureBytes('azure-devops/git.pullrequest.merged.docs.json').toString('utf8')) as { resource: Record<string, unknown> };

  test.each([
    ['active', 'succeeded'],
    ['completed', 'conflicts'],
    ['completed', 'failure'],
    ['abandoned', 'notSet'],
  ])('merge with status %s and mergeStatus %s starts nothing', async (status, mergeStatus) => {
    const payload = { ...merged, resource: { ...merged.resource, status, mergeStatus } };
    const response = await handleAzureDevOpsWebhook(devOpsRequest(JSON.stringify(payload)), h.deps);

    expect(response.status).toBe(200);
    expect(JSON.stringify(response.jsonBody)).toContain(`status ${status} and mergeStatus ${mergeStatus}`);
    expect(h.server.instances.size).toBe(0);
  });

  test('push that deletes a branch starts nothing', async () => {
    const push = JSON.parse(fixtureBytes('azure-devops/git.push.docs.json').toString('utf8')) as { resource: { refUpdates: Record<string, unknown>[] } };
    push.resource.refUpdates = [{ ...push.resource.refUpdates[0], newObjectId: '0'.repeat(40) }];
    const response = await handleAzureDevOpsWebhook(devOpsRequest(JSON.stringify(push)), h.deps);

    expect(response.status).toBe(200);
    expect(JSON.stringify(response.jsonBody)).toContain('refs/heads/master was deleted');
  });

  test('event type constructor is ignored', async () => {
    const response = await handleAzureDevOpsWebhook(devOpsRequest(JSON.stringify({ id: 'x', eventType: 'constructor', resource: {} })), h.deps);

    expect(response.status).toBe(200);
    expect(JSON.stringify(response.jsonBody)).toContain('Azure DevOps event constructor does not start a release');
  });
});
