import { type SimFixture, loopbackHosts, runClient, send, startSims } from './azureHarness';

let fixture: SimFixture;

beforeAll(async () => {
  fixture = await startSims();
});

afterAll(async () => {
  await fixture?.stop();
});

function tokenUrl(query: string): string {
  return `${fixture.sims.identity.endpoint}?${query}`;
}

describe('identity simulator', () => {
  test('DefaultAzureCredential gets a token over loopback only', async () => {
    const run = await runClient(fixture, 'token');

    expect(run.error).toBeUndefined();
    expect(run.result).toEqual({ expiresOnTimestamp: expect.any(Number) as unknown, length: expect.any(Number) as unknown });
    expect(run.connections.length).toBeGreaterThan(0);
    for (const connection of run.connections) expect(loopbackHosts).toContain(connection.host);
    expect(run.connections.map((c) => c.host)).not.toContain('169.254.169.254');
    const requests = fixture.sims.inspect.identityRequests();
    expect(requests.at(-1)).toMatchObject({ resource: 'https://management.azure.com', status: 200 });
  });

  test('token response has the App Service shape', async () => {
    const response = await send(tokenUrl('api-version=2019-08-01&resource=https%3A%2F%2Fmanagement.azure.com'), {
      headers: { 'X-IDENTITY-HEADER': fixture.sims.identity.header },
      ca: fixture.ca,
    });

    expect(response.status).toBe(200);
    const body = response.json() as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['access_token', 'client_id', 'expires_on', 'resource', 'token_type']);
    expect(body.token_type).toBe('Bearer');
    expect(body.resource).toBe('https://management.azure.com');
    expect(body.expires_on).toMatch(/^\d{10}$/);
    expect(String(body.access_token).split('.')).toHaveLength(3);
  });

  test('wrong identity header gets 401', async () => {
    const response = await send(tokenUrl('api-version=2019-08-01&resource=https%3A%2F%2Fmanagement.azure.com'), {
      headers: { 'X-IDENTITY-HEADER': 'not-the-secret' },
      ca: fixture.ca,
    });

    expect(response.status).toBe(401);
    expect(response.json()).toMatchObject({ statusCode: 401, message: expect.stringContaining('X-IDENTITY-HEADER') as unknown });
  });

  test('other api-version gets 400', async () => {
    const response = await send(tokenUrl('api-version=2017-09-01&resource=https%3A%2F%2Fmanagement.azure.com'), {
      headers: { 'X-IDENTITY-HEADER': fixture.sims.identity.header },
      ca: fixture.ca,
    });

    expect(response.status).toBe(400);
    expect(response.json()).toMatchObject({ message: expect.stringContaining('2019-08-01') as unknown });
  });

  test('missing resource gets 400', async () => {
    const response = await send(tokenUrl('api-version=2019-08-01'), { headers: { 'X-IDENTITY-HEADER': fixture.sims.identity.header }, ca: fixture.ca });

    expect(response.status).toBe(400);
  });

  test('unknown user-assigned identity gets 400', async () => {
    const response = await send(tokenUrl('api-version=2019-08-01&resource=https%3A%2F%2Fmanagement.azure.com&client_id=99999999-9999-4999-8999-999999999999'), {
      headers: { 'X-IDENTITY-HEADER': fixture.sims.identity.header },
      ca: fixture.ca,
    });

    expect(response.status).toBe(400);
  });

  test('unknown route gets the ARM 404 shape', async () => {
    const origin = new URL(fixture.sims.identity.endpoint).origin;
    const response = await send(`${origin}/no/such/route`, { ca: fixture.ca });

    expect(response.status).toBe(404);
    expect(response.json()).toEqual({ error: { code: 'NotFound', message: expect.stringContaining('/no/such/route') as unknown } });
  });
});
