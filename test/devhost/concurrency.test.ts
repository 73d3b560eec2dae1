import { startOrchestration, startTestHost, type TestHost, waitForStatus } from './helpers';

let host: TestHost;

beforeAll(async () => {
  host = await startTestHost({ activityConcurrency: 2 });
});

afterAll(async () => {
  await host?.stop();
});

describe('activity concurrency', () => {
  test('limit caps parallel activities', async () => {
    const id = await startOrchestration(host, 'fanOut', { count: 6, ms: 150 });
    const status = await waitForStatus(host, id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toBe(2);
  });
});
