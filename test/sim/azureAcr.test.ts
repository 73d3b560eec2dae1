import { type SimFixture, loopbackHosts, runClient, send, startSims } from './azureHarness';

let fixture: SimFixture;
const servingDigest = 'sha256:c29d0892e72bbea11cad9f2098fdfab443033a54085b71cb4fd0f9570ca55571';
const nginxDigest = 'sha256:57a94fc99816c6aa225678b738ac40d85422e75dbb96115f1bb9b6ed77176166';

beforeAll(async () => {
  fixture = await startSims();
});

afterAll(async () => {
  await fixture?.stop();
});

async function queueBuild(outcome: Record<string, unknown>): Promise<void> {
  const response = await send(`${fixture.sims.control.url}/acr/builds/next`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(outcome) });
  expect(response.status).toBe(202);
}

describe('ACR data plane simulator', () => {
  test('manifest properties of the seeded digest', async () => {
    const run = await runClient(fixture, 'acrManifest', { repository: 'serving/mlserver', reference: servingDigest });

    expect(run.error).toBeUndefined();
    expect(run.result).toEqual({
      repositories: ['samples/nginx', 'serving/mlserver'],
      digest: servingDigest,
      registryLoginServer: 'contosocr.azurecr.io',
      repositoryName: 'serving/mlserver',
      tags: ['latest'],
    });
    for (const connection of run.connections) expect(loopbackHosts).toContain(connection.host);
  });

  test('manifest properties by tag resolve the digest', async () => {
    const run = await runClient(fixture, 'acrManifest', { repository: 'samples/nginx', reference: 'latest' });

    expect(run.error).toBeUndefined();
    expect(run.result).toMatchObject({ digest: nginxDigest, repositoryName: 'samples/nginx' });
  });

  test('request without token gets the challenge', async () => {
    const response = await send(`${fixture.sims.acr.endpoint}/acr/v1/samples%2Fnginx/_tags?api-version=2021-07-01`, { ca: fixture.ca });

    expect(response.status).toBe(401);
    const challenge = String(response.headers['www-authenticate']);
    expect(challenge).toContain(`realm="${fixture.sims.acr.endpoint}/oauth2/token"`);
    expect(challenge).toContain('service="contosocr.azurecr.io"');
    expect(challenge).toContain('scope="repository:samples/nginx:metadata_read"');
  });

  test('access token covers only its scope', async () => {
    const { acr, identity } = fixture.sims;
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const aad = await send(`${identity.endpoint}?api-version=2019-08-01&resource=https%3A%2F%2Fcontainerregistry.azure.net`, { headers: { 'X-IDENTITY-HEADER': identity.header }, ca: fixture.ca });
    const exchange = await send(`${acr.endpoint}/oauth2/exchange?api-version=2021-07-01`, {
      method: 'POST',
      headers: form,
      body: new URLSearchParams({ grant_type: 'access_token', service: acr.loginServer, access_token: (aad.json() as { access_token: string }).access_token }).toString(),
      ca: fixture.ca,
    });
    expect(exchange.status).toBe(200);
    const token = await send(`${acr.endpoint}/oauth2/token?api-version=2021-07-01`, {
      method: 'POST',
      headers: form,
      body: new URLSearchParams({ grant_type: 'refresh_token', service: acr.loginServer, scope: 'repository:samples/nginx:metadata_read', refresh_token: (exchange.json() as { refresh_token: string }).refresh_token }).toString(),
      ca: fixture.ca,
    });
    expect(token.status).toBe(200);
    const authorization = `Bearer ${(token.json() as { access_token: string }).access_token}`;

    const granted = await send(`${acr.endpoint}/acr/v1/samples%2Fnginx?api-version=2021-07-01`, { headers: { authorization }, ca: fixture.ca });
    const other = await send(`${acr.endpoint}/acr/v1/serving%2Fmlserver?api-version=2021-07-01`, { headers: { authorization }, ca: fixture.ca });

    expect(granted.status).toBe(200);
    expect(granted.json()).toMatchObject({ registry: 'contosocr.azurecr.io', imageName: 'samples/nginx', tagCount: 1 });
    expect(other.status).toBe(401);
    expect(String(other.headers['www-authenticate'])).toContain('scope="repository:serving/mlserver:metadata_read"');
  });

  test('exchange with a forged token gets 401', async () => {
    const response = await send(`${fixture.sims.acr.endpoint}/oauth2/exchange?api-version=2021-07-01`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'access_token', service: 'contosocr.azurecr.io', access_token: 'e30.e30.AAAA' }).toString(),
      ca: fixture.ca,
    });

    expect(response.status).toBe(401);
    expect(response.json()).toMatchObject({ errors: [{ code: 'UNAUTHORIZED' }] });
  });

  test('unknown route gets the ARM 404 shape', async () => {
    const response = await send(`${fixture.sims.acr.endpoint}/acr/v2/nothing`, { ca: fixture.ca });

    expect(response.status).toBe(404);
    expect(response.json()).toEqual({ error: { code: 'NotFound', message: expect.any(String) as unknown } });
  });
});

describe('ACR build simulator', () => {
  test('build run pushes the chosen digest', async () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    await queueBuild({ status: 'Succeeded', digest, durationMs: 100 });

    const run = await runClient(fixture, 'acrBuild', { repository: 'models/regression', tag: 'v20' });

    expect(run.error).toBeUndefined();
    expect(run.result).toMatchObject({
      status: 'Succeeded',
      outputImages: [{ registry: 'contosocr.azurecr.io', repository: 'models/regression', tag: 'v20', digest }],
      registryDigest: digest,
    });
    expect((run.result as { logs: string }).logs).toContain(digest);
    const record = fixture.sims.inspect.runs().find((r) => r.runId === (run.result as { runId: string }).runId);
    expect(record?.request).toMatchObject({ type: 'DockerBuildRequest', dockerFilePath: 'Dockerfile' });
  });

  test('failed build run reports the chosen error', async () => {
    await queueBuild({ status: 'Failed', errorMessage: 'pip install failed', logs: 'ERROR: No matching distribution found for torch==9.9\n', durationMs: 50 });

    const run = await runClient(fixture, 'acrBuild', { repository: 'models/broken', tag: 'v1' });

    expect(run.error).toBeUndefined();
    expect(run.result).toMatchObject({ status: 'Failed', runErrorMessage: 'pip install failed', outputImages: [], registryDigest: null });
    expect((run.result as { logs: string }).logs).toContain('torch==9.9');
  });

  test('context without Dockerfile fails the run', async () => {
    const run = await runClient(fixture, 'acrBuild', { repository: 'models/nodockerfile', tag: 'v1', contextFiles: { 'app/main.py': 'print(1)\n' } });

    expect(run.error).toBeUndefined();
    expect(run.result).toMatchObject({ status: 'Failed', registryDigest: null });
    expect((run.result as { runErrorMessage: string }).runErrorMessage).toContain('Dockerfile');
  });

  test('build without platform gets 400', async () => {
    const token = await send(`${fixture.sims.identity.endpoint}?api-version=2019-08-01&resource=https%3A%2F%2Fmanagement.azure.com`, {
      headers: { 'X-IDENTITY-HEADER': fixture.sims.identity.header },
      ca: fixture.ca,
    });
    const { arm, acr } = fixture.sims;
    const url = `${arm.endpoint}/subscriptions/${arm.subscriptionId}/resourceGroups/${acr.resourceGroup}/providers/Microsoft.ContainerRegistry/registries/${acr.name}/scheduleRun?api-version=2019-06-01-preview`;
    const response = await send(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${(token.json() as { access_token: string }).access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'DockerBuildRequest', imageNames: ['a:b'], dockerFilePath: 'Dockerfile', sourceLocation: 'x' }),
      ca: fixture.ca,
    });

    expect(response.status).toBe(400);
    expect(response.json()).toMatchObject({ error: { code: 'InvalidParameter', message: expect.stringContaining('platform.os') as unknown } });
  });

  test('control API rejects a malformed digest', async () => {
    const response = await send(`${fixture.sims.control.url}/acr/builds/next`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'Succeeded', digest: 'sha256:xyz' }) });

    expect(response.status).toBe(400);
  });
});
