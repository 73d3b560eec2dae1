import { Logger } from '../../src/observability/log';
import { type ListeningServer, Router, listen, unknownRoute } from '../../sim/src/azure/http';
import { send } from './azureHarness';

let server: ListeningServer;

beforeAll(async () => {
  const router = new Router()
    .add('POST', '/echo', (request) => ({ status: 200, text: request.body.toString('utf8') }))
    .add('GET', '/repos/*name/tags/:tag', (request) => ({ status: 200, json: request.params }))
    .add('GET', '/fail', () => {
      throw new Error('handler broke');
    });
  server = await listen({ name: 'test', host: '127.0.0.1', port: 0, router, fallback: unknownRoute, log: new Logger(console, {}, 'error'), maxBodyBytes: 10 });
});

afterAll(async () => {
  await server?.close();
});

describe('sim HTTP layer', () => {
  test('body within the limit is read', async () => {
    const response = await send(`${server.origin}/echo`, { method: 'POST', body: '0123456789' });

    expect(response.status).toBe(200);
    expect(response.body).toBe('0123456789');
  });

  test('oversized body gets 413', async () => {
    const response = await send(`${server.origin}/echo`, { method: 'POST', body: '0123456789A' });

    expect(response.status).toBe(413);
    expect(response.json()).toMatchObject({ error: { code: 'RequestEntityTooLarge' } });
  });

  test('multi-segment parameter matches', async () => {
    const response = await send(`${server.origin}/repos/samples/nginx/tags/latest`);

    expect(response.json()).toEqual({ name: 'samples/nginx', tag: 'latest' });
  });

  test('encoded slash decodes in a parameter', async () => {
    const response = await send(`${server.origin}/repos/samples%2Fnginx/tags/latest`);

    expect(response.json()).toEqual({ name: 'samples/nginx', tag: 'latest' });
  });

  test('throwing handler gets 500', async () => {
    const response = await send(`${server.origin}/fail`);

    expect(response.status).toBe(500);
    expect(response.json()).toMatchObject({ error: { code: 'InternalServerError', message: expect.stringContaining('handler broke') as unknown } });
  });

  test('unknown route gets the ARM 404 shape', async () => {
    const response = await send(`${server.origin}/nothing`);

    expect(response.status).toBe(404);
    expect(response.json()).toEqual({ error: { code: 'NotFound', message: expect.stringContaining('/nothing') as unknown } });
  });
});
