import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type SimFixture, loopbackHosts, runClient, send, startSims } from './azureHarness';

let fixture: SimFixture;
const scaled: { pool: string; count: number }[] = [];
let failNextScale = false;
/** While set, scale callbacks wait for it, so a test can observe an operation in progress. */
let scaleGate: Promise<void> | undefined;
const kubeconfigPath = join(tmpdir(), `azure-sim-kubeconfig-${process.pid}.yaml`);
const kubeconfig = 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n';

beforeAll(async () => {
  await writeFile(kubeconfigPath, kubeconfig);
  fixture = await startSims({
    kubeconfigPath,
    onAgentPoolScaled: async (pool, count) => {
      await scaleGate;
      if (failNextScale) {
        failNextScale = false;
        throw new Error('kwok refused the nodes');
      }
      scaled.push({ pool, count });
    },
  });
});

afterAll(async () => {
  await fixture?.stop();
  await rm(kubeconfigPath, { force: true });
});

async function armToken(): Promise<string> {
  const response = await send(`${fixture.sims.identity.endpoint}?api-version=2019-08-01&resource=https%3A%2F%2Fmanagement.azure.com`, {
    headers: { 'X-IDENTITY-HEADER': fixture.sims.identity.header },
    ca: fixture.ca,
  });
  return (response.json() as { access_token: string }).access_token;
}

function poolUrl(pool: string, apiVersion = '2026-04-01'): string {
  const { arm, aks } = fixture.sims;
  const query = apiVersion ? `?api-version=${apiVersion}` : '';
  return `${arm.endpoint}/subscriptions/${arm.subscriptionId}/resourceGroups/${aks.resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${aks.clusterName}/agentPools/${pool}${query}`;
}

async function putPool(pool: string, properties: Record<string, unknown>): Promise<{ status: number; body: unknown }> {
  const response = await send(poolUrl(pool), {
    method: 'PUT',
    headers: { authorization: `Bearer ${await armToken()}`, 'content-type': 'application/json' },
    body: JSON.stringify({ properties }),
    ca: fixture.ca,
  });
  return { status: response.status, body: response.json() };
}

describe('Azure ML simulator', () => {
  test('model version reads back as registered', async () => {
    const registered = await send(`${fixture.sims.control.url}/azureml/models`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'churn',
        version: 3,
        tags: { area: 'retention' },
        properties: { auc: '0.91' },
        modelUri: 'azureml://datastores/workspaceblobstore/paths/churn/3/',
        region: 'switzerlandnorth',
        modelType: 'mlflow_model',
        flavors: { sklearn: { data: { pickled_model: 'model.pkl' } } },
      }),
    });
    expect(registered.status).toBe(201);

    const run = await runClient(fixture, 'mlGetVersion', { name: 'churn', version: '3' });

    expect(run.error).toBeUndefined();
    expect(run.result).toMatchObject({
      name: '3',
      properties: {
        tags: { area: 'retention' },
        properties: { auc: '0.91' },
        modelUri: 'azureml://datastores/workspaceblobstore/paths/churn/3/',
        modelType: 'mlflow_model',
        flavors: { sklearn: { data: { pickled_model: 'model.pkl' } } },
        isArchived: false,
      },
    });
    for (const connection of run.connections) expect(loopbackHosts).toContain(connection.host);
  });

  test('model version tag update persists', async () => {
    const run = await runClient(fixture, 'mlUpdateTags', { name: 'sklearn_regression_model', version: '20', tags: { release: 'canary' }, properties: { releasedBy: 'pipeline' } });
    expect(run.error).toBeUndefined();

    const stored = await send(`${fixture.sims.control.url}/azureml/workspaces/${fixture.sims.azureml.workspace}/models/sklearn_regression_model/versions/20`);
    const properties = (stored.json() as { properties: { tags: Record<string, string>; properties: Record<string, string> } }).properties;
    expect(properties.tags).toEqual({ area: 'diabetes', type: 'regression', release: 'canary' });
    expect(properties.properties).toEqual({ type: 'test', releasedBy: 'pipeline' });
    const write = fixture.sims.inspect.armWrites().find((w) => w.method === 'PUT' && w.path.endsWith('/models/sklearn_regression_model/versions/20'));
    expect(write).toMatchObject({ status: 200, apiVersion: '2022-10-01' });
  });

  test('model registration in another region of a workspace gets 409', async () => {
    const response = await send(`${fixture.sims.control.url}/azureml/models`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'churn', version: '4', modelUri: 'azureml://x', region: 'westeurope' }),
    });

    expect(response.status).toBe(409);
  });

  test('changing a version modelUri gets 409', async () => {
    const { arm, azureml } = fixture.sims;
    const url = `${arm.endpoint}/subscriptions/${arm.subscriptionId}/resourceGroups/${azureml.resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${azureml.workspace}/models/sklearn_regression_model/versions/20?api-version=2022-10-01`;
    const response = await send(url, {
      method: 'PUT',
      headers: { authorization: `Bearer ${await armToken()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ properties: { modelUri: 'azureml://elsewhere/' } }),
      ca: fixture.ca,
    });

    expect(response.status).toBe(409);
    expect(response.json()).toMatchObject({ error: { code: 'UserError' } });
  });

  test('non-string tag value gets 400', async () => {
    const { arm, azureml } = fixture.sims;
    const url = `${arm.endpoint}/subscriptions/${arm.subscriptionId}/resourceGroups/${azureml.resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${azureml.workspace}/models/sklearn_regression_model/versions/20?api-version=2022-10-01`;
    const response = await send(url, {
      method: 'PUT',
      headers: { authorization: `Bearer ${await armToken()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ properties: { tags: { approved: true } } }),
      ca: fixture.ca,
    });

    expect(response.status).toBe(400);
  });
});

describe('AKS simulator', () => {
  test('agent pool scale completes and calls back', async () => {
    const run = await runClient(fixture, 'aksScale', { pool: 'gpuspot', count: 3 });

    expect(run.error).toBeUndefined();
    expect(run.result).toMatchObject({ before: 1, after: 3, provisioningState: 'Succeeded' });
    expect((run.result as { clusterPools: [string, number][] }).clusterPools).toContainEqual(['gpuspot', 3]);
    expect(scaled).toContainEqual({ pool: 'gpuspot', count: 3 });
    expect(fixture.sims.inspect.agentPoolCounts()['aks-inference/gpuspot']).toBe(3);
    expect((run.result as { kubeconfig: string }).kubeconfig).toBe(kubeconfig);
  });

  test('pool write during a scale gets 409', async () => {
    let release = (): void => undefined;
    scaleGate = new Promise((resolve) => (release = resolve));
    try {
      const written = await putPool('gpu', { count: 2 });
      expect(written.status).toBe(200);
      expect(written.body).toMatchObject({ properties: { count: 2, provisioningState: 'Scaling' } });

      const busy = await putPool('gpu', { count: 4 });
      expect(busy.status).toBe(409);
      expect(busy.body).toMatchObject({ error: { code: 'OperationNotAllowed' } });
    } finally {
      release();
      scaleGate = undefined;
    }
  });

  test('failed scale callback fails the operation', async () => {
    failNextScale = true;
    const run = await runClient(fixture, 'aksScale', { pool: 'system', count: 2 });

    expect(run.error?.message).toContain('kwok refused the nodes');
  });

  test('spot pool carries the corpus spot fields', async () => {
    const sample = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'aks', 'spot-agentpool.aks-docs.json'), 'utf8')) as Record<string, unknown>;
    const response = await send(poolUrl('gpuspot'), { headers: { authorization: `Bearer ${await armToken()}` }, ca: fixture.ca });
    const properties = (response.json() as { properties: Record<string, unknown> }).properties;

    for (const field of ['scaleSetPriority', 'scaleSetEvictionPolicy', 'spotMaxPrice', 'mode', 'osType']) expect(properties[field]).toEqual(sample[field]);
    expect(properties.nodeLabels).toMatchObject(sample.nodeLabels as Record<string, string>);
    expect(properties.nodeTaints).toEqual(expect.arrayContaining(sample.nodeTaints as string[]) as unknown);
  });

  test('cluster write scales a pool through polling', async () => {
    const { arm, aks } = fixture.sims;
    const authorization = `Bearer ${await armToken()}`;
    const clusterUrl = `${arm.endpoint}/subscriptions/${arm.subscriptionId}/resourceGroups/${aks.resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${aks.clusterName}?api-version=2026-04-01`;
    const current = (await send(clusterUrl, { headers: { authorization }, ca: fixture.ca })).json() as { location: string; properties: { agentPoolProfiles: { name: string; count: number }[] } };
    const profiles = current.properties.agentPoolProfiles.map((p) => (p.name === 'gpu' ? { ...p, count: 5 } : p));

    const written = await send(clusterUrl, {
      method: 'PUT',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ location: current.location, tags: { owner: 'mlops' }, properties: { agentPoolProfiles: profiles } }),
      ca: fixture.ca,
    });
    expect(written.status).toBe(200);
    const statusUrl = String(written.headers['azure-asyncoperation']);
    expect(statusUrl).toContain('/providers/Microsoft.ContainerService/locations/switzerlandnorth/operations/');

    const statuses: string[] = [];
    for (let poll = 0; poll < 50 && !['Succeeded', 'Failed'].includes(statuses.at(-1) ?? ''); poll += 1) {
      const status = (await send(statusUrl, { headers: { authorization }, ca: fixture.ca })).json() as { status: string };
      statuses.push(status.status);
    }
    expect(statuses[0]).toBe('InProgress');
    expect(statuses.at(-1)).toBe('Succeeded');
    expect(scaled).toContainEqual({ pool: 'gpu', count: 5 });
    const after = (await send(clusterUrl, { headers: { authorization }, ca: fixture.ca })).json() as { tags: Record<string, string>; properties: { provisioningState: string } };
    expect(after.tags).toEqual({ owner: 'mlops' });
    expect(after.properties.provisioningState).toBe('Succeeded');
  });

  test('cluster write in another location gets 400', async () => {
    const { arm, aks } = fixture.sims;
    const clusterUrl = `${arm.endpoint}/subscriptions/${arm.subscriptionId}/resourceGroups/${aks.resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${aks.clusterName}?api-version=2026-04-01`;
    const response = await send(clusterUrl, {
      method: 'PUT',
      headers: { authorization: `Bearer ${await armToken()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ location: 'westeurope', properties: {} }),
      ca: fixture.ca,
    });

    expect(response.status).toBe(400);
    expect(response.json()).toMatchObject({ error: { code: 'LocationChangeNotAllowed' } });
  });

  test('negative pool count gets 400', async () => {
    const response = await putPool('gpuspot', { count: -1 });

    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: { code: 'InvalidParameter', message: expect.stringContaining('count') as unknown } });
  });

  test('vmSize change gets 400', async () => {
    const response = await putPool('gpuspot', { count: 1, vmSize: 'Standard_NC24ads_A100_v4' });

    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: { code: 'PropertyChangeNotAllowed' } });
  });

  test('malformed taint gets 400', async () => {
    const response = await putPool('gpuspot', { count: 1, nodeTaints: ['spot'] });

    expect(response.status).toBe(400);
  });
});

describe('ARM front door', () => {
  test('request without token gets 401', async () => {
    const response = await send(poolUrl('gpu'), { ca: fixture.ca });

    expect(response.status).toBe(401);
    expect(response.json()).toEqual({ error: { code: 'AuthenticationFailed', message: expect.any(String) as unknown } });
    expect(response.headers['www-authenticate']).toContain('Bearer');
  });

  test('forged token gets 401', async () => {
    const token = await armToken();
    const [header, payload] = token.split('.');
    const response = await send(poolUrl('gpu'), { headers: { authorization: `Bearer ${header}.${payload}.AAAA` }, ca: fixture.ca });

    expect(response.status).toBe(401);
    expect(response.json()).toMatchObject({ error: { code: 'InvalidAuthenticationToken' } });
  });

  test('token for another audience gets 401', async () => {
    const response = await send(`${fixture.sims.identity.endpoint}?api-version=2019-08-01&resource=https%3A%2F%2Fvault.azure.net`, {
      headers: { 'X-IDENTITY-HEADER': fixture.sims.identity.header },
      ca: fixture.ca,
    });
    const token = (response.json() as { access_token: string }).access_token;

    const rejected = await send(poolUrl('gpu'), { headers: { authorization: `Bearer ${token}` }, ca: fixture.ca });

    expect(rejected.status).toBe(401);
    expect(rejected.json()).toMatchObject({ error: { code: 'InvalidAuthenticationTokenAudience' } });
  });

  test('missing api-version gets 400', async () => {
    const response = await send(poolUrl('gpu', ''), { headers: { authorization: `Bearer ${await armToken()}` }, ca: fixture.ca });

    expect(response.status).toBe(400);
    expect(response.json()).toMatchObject({ error: { code: 'MissingApiVersionParameter' } });
  });

  test('unknown route gets the ARM 404 shape', async () => {
    const response = await send(`${fixture.sims.arm.endpoint}/subscriptions/${fixture.sims.arm.subscriptionId}/providers/Microsoft.Nothing/things?api-version=2024-01-01`, {
      headers: { authorization: `Bearer ${await armToken()}` },
      ca: fixture.ca,
    });

    expect(response.status).toBe(404);
    expect(response.json()).toEqual({ error: { code: 'NotFound', message: expect.any(String) as unknown } });
  });

  test('unknown subscription gets 404', async () => {
    const url = poolUrl('gpu').replace(fixture.sims.arm.subscriptionId, '99999999-9999-4999-8999-999999999999');
    const response = await send(url, { headers: { authorization: `Bearer ${await armToken()}` }, ca: fixture.ca });

    expect(response.status).toBe(404);
    expect(response.json()).toMatchObject({ error: { code: 'SubscriptionNotFound' } });
  });

  test('unknown cluster gets ResourceNotFound', async () => {
    const url = poolUrl('gpu').replace(`/managedClusters/${fixture.sims.aks.clusterName}/`, '/managedClusters/nope/');
    const response = await send(url, { headers: { authorization: `Bearer ${await armToken()}` }, ca: fixture.ca });

    expect(response.status).toBe(404);
    expect(response.json()).toMatchObject({ error: { code: 'ResourceNotFound' } });
  });
});
