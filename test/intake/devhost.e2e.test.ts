/**
 * Intake end to end on devhost, the local Functions host: webhooks and Event
 * Grid deliveries go through the host's real routes into the compiled app,
 * and the Durable engine behind it holds the releases. Skipped until
 * `npm run build` has produced dist/.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type Devhost, startDevhost } from '../../devhost';
import { signGitHubBody } from '../../src/auth/hmac';
import { instanceIdOf, releaseKeyOf } from '../../src/contracts/release';
import { fixtureBytes, fixturesDir } from './helpers';

const root = join(__dirname, '../..');
const built = existsSync(join(root, 'dist/devhost/cli.js')) && existsSync(join(root, 'dist/src/index.js'));
const describeBuilt = built ? describe : describe.skip;
const secret = 'devhost-e2e-secret';

let host: Devhost;
let stateDir: string;
const output: string[] = [];

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'intake-e2e-'));
  const sample = (JSON.parse(readFileSync(join(root, 'local.settings.sample.json'), 'utf8')) as { Values: Record<string, string> }).Values;
  host = await startDevhost({
    appDir: root,
    stateDir,
    port: 0,
    clock: 'instant',
    env: { ...sample, RELEASE_POLICY_FILE: join(fixturesDir, 'policy.intake.yaml'), GITHUB_WEBHOOK_SECRET: secret, LOG_LEVEL: 'info' },
    onOutput: (line) => output.push(line),
    startTimeoutMs: 60000,
  });
}, 90000);

afterAll(async () => {
  await host?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

async function post(path: string, body: Buffer, headers: Record<string, string>): Promise<Response> {
  return fetch(`${host.url}${path}`, { method: 'POST', body, headers });
}

interface Status {
  runtimeStatus: string;
  createdTime: string;
}

async function statusOf(instanceId: string): Promise<{ code: number; body?: Status }> {
  const response = await fetch(`${host.url}/runtime/webhooks/durabletask/instances/${instanceId}`);
  return response.status === 404 ? { code: 404 } : { code: response.status, body: (await response.json()) as Status };
}

const finishedStatuses = ['Completed', 'Failed', 'Terminated'];

/** Polls the status until the instance has finished; the release may fail on its own before the terminate lands. */
async function waitUntilFinished(instanceId: string): Promise<Status> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const status = await statusOf(instanceId);
    if (status.body && finishedStatuses.includes(status.body.runtimeStatus)) return status.body;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`instance ${instanceId} did not finish; host output:\n${output.slice(-20).join('\n')}`);
}

describeBuilt('intake on devhost', () => {
  test('GitHub push delivered three times, one release', async () => {
    const body = fixtureBytes('github/push.default-branch.drone-fixture.json');
    const headers = { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': 'e2e-delivery-1', 'x-hub-signature-256': signGitHubBody(body, secret) };

    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await post('/api/webhooks/github', body, headers)).status);

    expect(statuses).toEqual([202, 200, 200]);
    const key = releaseKeyOf({ source: 'github', endpoint: 'nginx-demo', git: { repository: 'Codertocat/Hello-World', ref: 'refs/heads/master', commit: '199eddf46df50de8d02e99bf1c5fdb4101338224' } });
    expect((await statusOf(instanceIdOf(key, 'nginx-demo'))).code).not.toBe(404);
  });

  test('bad signature gives 401 through the host', async () => {
    const body = fixtureBytes('github/push.default-branch.drone-fixture.json');
    const response = await post('/api/webhooks/github', body, { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': 'e2e-bad', 'x-hub-signature-256': signGitHubBody(body, 'wrong') });

    expect(response.status).toBe(401);
  });

  test('model event in both schemas, then after termination, one release', async () => {
    const eventGrid = { 'content-type': 'application/json', 'aeg-event-type': 'Notification' };
    const first = await post('/runtime/webhooks/eventgrid?functionName=modelRegistryEvents', fixtureBytes('azureml/model-registered.eventgrid-schema.docs.json'), eventGrid);
    const second = await post('/runtime/webhooks/eventgrid?functionName=modelRegistryEvents', fixtureBytes('azureml/model-registered.cloudevents-array.docs.json'), { ...eventGrid, 'content-type': 'application/cloudevents-batch+json; charset=utf-8' });
    expect(first.status).toBeLessThan(300);
    expect(second.status).toBeLessThan(300);

    const instanceId = instanceIdOf('model|regression|sklearn_regression_model|20', 'regression');
    const terminate = await fetch(`${host.url}/runtime/webhooks/durabletask/instances/${instanceId}/terminate?reason=e2e`, { method: 'POST' });
    expect([202, 410]).toContain(terminate.status);
    const finished = await waitUntilFinished(instanceId);

    const late = await post('/runtime/webhooks/eventgrid?functionName=modelRegistryEvents', fixtureBytes('azureml/model-registered.eventgrid-schema.docs.json'), eventGrid);
    expect(late.status).toBeLessThan(300);
    const after = await statusOf(instanceId);
    expect(after.body?.createdTime).toBe(finished.createdTime);
    expect(after.body?.runtimeStatus).toBe(finished.runtimeStatus);
  });

  test('unsupported and malformed events are acknowledged', async () => {
    const headers = { 'content-type': 'application/json', 'aeg-event-type': 'Notification' };
    const files = ['cloudevents/legacy-v0.1-blob-created.eventgrid-docs.json', 'acr/image-pushed.placeholder-digest.sdk-fixture.json', 'cloudevents/batch-two-events.spec.json'];

    const answers: [string, number][] = [];
    for (const file of files) answers.push([file, (await post('/runtime/webhooks/eventgrid?functionName=containerRegistryEvents', fixtureBytes(file), headers)).status]);

    expect(answers).toEqual(files.map((file) => [file, 202]));
  });

  test('release API reads a started release', async () => {
    const instanceId = instanceIdOf('model|regression|sklearn_regression_model|20', 'regression');
    const response = await fetch(`${host.url}/api/releases/${instanceId}`);

    expect(response.status).toBe(200);
    expect((await response.json()) as Record<string, unknown>).toMatchObject({ releaseId: instanceId, request: { endpoint: 'regression', model: { name: 'sklearn_regression_model', version: '20' } } });
  });
});
