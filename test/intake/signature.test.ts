import { createHmac } from 'node:crypto';

import { signGitHubBody, verifyGitHubSignature } from '../../src/auth/hmac';
import { secretsEqual, verifyServiceHook } from '../../src/auth/sharedSecret';
import { handleAzureDevOpsWebhook, handleGitHubWebhook } from '../../src/functions/webhooks';
import { devOpsRequest, devOpsSecret, fixtureBytes, githubRequest, githubSecret, type Harness, outcomesOf, startHarness, webhookConfig } from './helpers';

const pushBody = fixtureBytes('github/push.default-branch.drone-fixture.json');
const validSignature = signGitHubBody(pushBody, githubSecret);

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.server.stop();
});

async function expectRejected(signature: string | null, body: Buffer = pushBody, headers: Record<string, string> = {}): Promise<string> {
  const response = await handleGitHubWebhook(githubRequest(body, { event: 'push', signature, headers }), h.deps);
  expect(response.status).toBe(401);
  expect(h.server.instances.size).toBe(0);
  expect(h.server.calls).toHaveLength(0);
  return (response.jsonBody as { error: string }).error;
}

describe('GitHub signature', () => {
  test('valid signature starts a release', async () => {
    const response = await handleGitHubWebhook(githubRequest(pushBody, { event: 'push', signature: validSignature }), h.deps);

    expect(response.status).toBe(202);
    expect(h.server.instances.size).toBe(1);
  });

  test('one body byte changed', async () => {
    const changed = Buffer.from(pushBody);
    changed[100] = changed[100]! ^ 0x01;
    expect(await expectRejected(validSignature, changed)).toMatch(/does not match the request body/);
  });

  test('wrong secret', async () => {
    expect(await expectRejected(signGitHubBody(pushBody, 'another-secret'))).toMatch(/does not match/);
  });

  test('truncated signature', async () => {
    expect(await expectRejected(validSignature.slice(0, -2))).toMatch(/malformed/);
  });

  test('non-hex signature', async () => {
    expect(await expectRejected(`sha256=${'z'.repeat(64)}`)).toMatch(/malformed/);
  });

  test('multibyte signature', async () => {
    // 32 two-byte characters: as many bytes as a hex digest would give, but not hex.
    expect(await expectRejected(`sha256=${'\u00e9'.repeat(32)}`)).toMatch(/malformed/);
  });

  test('sha1 header only', async () => {
    const sha1 = `sha1=${createHmac('sha1', githubSecret).update(pushBody).digest('hex')}`;
    expect(await expectRejected(null, pushBody, { 'x-hub-signature': sha1 })).toMatch(/sha1 signatures are not accepted/);
  });

  test('no signature header', async () => {
    expect(await expectRejected(null)).toMatch(/X-Hub-Signature-256 header is missing/);
  });

  test('unset secret rejects every delivery', async () => {
    const { githubSecret: _unset, ...config } = webhookConfig;
    const response = await handleGitHubWebhook(githubRequest(pushBody, { event: 'push' }), { ...h.deps, config });

    expect(response.status).toBe(401);
    expect((response.jsonBody as { error: string }).error).toMatch(/no GitHub webhook secret configured/);
  });

  test('HMAC covers raw bytes, not re-serialised JSON', async () => {
    // \u00e9, \/ and \u2028 are escapes that JSON.stringify(JSON.parse(...)) writes differently.
    const raw = Buffer.from(pushBody.toString('utf8').replace('"ref": "refs/heads/master"', '"ref": "refs\\/heads\\/master", "note": "caf\\u00e9 \\u2028"'), 'utf8');
    expect(raw.toString()).toContain('refs\\/heads');
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(raw.toString('utf8'))), 'utf8');
    expect(reserialised.equals(raw)).toBe(false);

    const rawSigned = await handleGitHubWebhook(githubRequest(raw, { event: 'push', signature: signGitHubBody(raw, githubSecret) }), h.deps);
    expect(rawSigned.status).toBe(202);

    const reserialisedSigned = await handleGitHubWebhook(githubRequest(raw, { event: 'push', signature: signGitHubBody(reserialised, githubSecret), delivery: 'other' }), h.deps);
    expect(reserialisedSigned.status).toBe(401);
  });

  test('form-encoded payload is verified over the form bytes', async () => {
    const form = Buffer.from(`payload=${encodeURIComponent(pushBody.toString('utf8'))}`, 'utf8');
    const response = await handleGitHubWebhook(githubRequest(form, { event: 'push', contentType: 'application/x-www-form-urlencoded' }), h.deps);

    expect(response.status).toBe(202);
    expect(outcomesOf(response.jsonBody)[0]).toMatchObject({ outcome: 'started', endpoint: 'nginx-demo' });
  });

  test('signature is never logged', async () => {
    await handleGitHubWebhook(githubRequest(pushBody, { event: 'push', signature: validSignature }), h.deps);
    await handleGitHubWebhook(githubRequest(pushBody, { event: 'push', signature: signGitHubBody(pushBody, 'wrong') }), h.deps);

    const log = h.lines.join('\n');
    expect(log).toContain('72d3162e-cc78-11e3-81ab-4c9367dc0958');
    expect(log).not.toContain(validSignature.slice(7));
    expect(log).not.toContain(githubSecret);
  });

  test('verifier rejects uppercase hex', () => {
    expect(verifyGitHubSignature(pushBody, validSignature.toUpperCase().replace('SHA256', 'sha256'), githubSecret).ok).toBe(false);
  });
});

describe('Azure DevOps authentication', () => {
  const push = fixtureBytes('azure-devops/git.push.docs.json');
  const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  test('shared secret header accepted', async () => {
    expect((await handleAzureDevOpsWebhook(devOpsRequest(push, { 'x-webhook-secret': devOpsSecret }), h.deps)).status).toBe(202);
  });

  test('basic auth accepted', async () => {
    expect((await handleAzureDevOpsWebhook(devOpsRequest(push, { authorization: basic('hook', 'hook-password') }), h.deps)).status).toBe(202);
  });

  test.each([
    ['wrong secret', { 'x-webhook-secret': 'nope' }],
    ['wrong password', { authorization: basic('hook', 'nope') }],
    ['wrong user', { authorization: basic('someone', 'hook-password') }],
    ['no credentials', {}],
  ])('%s gives 401', async (_name, headers: Record<string, string>) => {
    const response = await handleAzureDevOpsWebhook(devOpsRequest(push, headers), h.deps);

    expect(response.status).toBe(401);
    expect(h.server.instances.size).toBe(0);
  });

  test('nothing configured rejects', () => {
    const check = verifyServiceHook(new Headers({ 'x-webhook-secret': 'x' }), {});
    expect(check).toMatchObject({ ok: false, reason: expect.stringMatching(/no secret configured/) as unknown });
  });

  test('secret comparison handles unequal lengths', () => {
    expect(secretsEqual('short', 'a-much-longer-secret')).toBe(false);
    expect(secretsEqual('same', 'same')).toBe(true);
  });
});
