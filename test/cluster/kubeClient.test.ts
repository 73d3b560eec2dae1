import type { AccessToken, TokenCredential } from '@azure/core-auth';

import { classifyKubeError, retryOnConflict } from '../../src/clients/kube';
import { RefreshingToken, aksEntraServerScope, clusterFromUserCredential, loadAksEntraKubeConfig } from '../../src/clients/kubeAks';
import { ApiException } from '../../src/clients/kubeModule';
import { PermanentError, TransientError } from '../../src/errors';
import { toBoundaryError } from '../../activities/clusterHandlers';

const ref = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'models', name: 'sentiment' };

describe('kube error classes', () => {
  test.each([409, 429, 500, 503])('HTTP %i is transient', (code) => {
    expect(classifyKubeError(new ApiException(code, 'x', { message: 'busy' }, {}), 'apply', ref)).toBeInstanceOf(TransientError);
  });

  test.each([400, 403, 404, 422])('HTTP %i is permanent', (code) => {
    expect(classifyKubeError(new ApiException(code, 'x', { message: 'bad' }, {}), 'apply', ref)).toBeInstanceOf(PermanentError);
  });

  test('message names object and status', () => {
    const error = classifyKubeError(new ApiException(403, 'x', JSON.stringify({ message: 'deployments.apps is forbidden' }), {}), 'apply', ref);
    expect(error.message).toBe('apply Deployment models/sentiment failed with HTTP 403: deployments.apps is forbidden; check the identity and its Kubernetes RBAC role');
  });

  test('refused connection is transient', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(classifyKubeError(new TypeError('fetch failed', { cause }), 'read', ref)).toBeInstanceOf(TransientError);
  });
});

describe('conflict retry', () => {
  const noSleep = { sleep: () => Promise.resolve() };

  test('retries 409 until success', async () => {
    let calls = 0;
    const result = await retryOnConflict('write', () => {
      calls += 1;
      if (calls < 3) return Promise.reject(new ApiException(409, 'conflict', {}, {}));
      return Promise.resolve('done');
    }, noSleep);
    expect(result).toBe('done');
    expect(calls).toBe(3);
  });

  test('passes other errors through', async () => {
    let calls = 0;
    await expect(retryOnConflict('write', () => {
      calls += 1;
      return Promise.reject(new PermanentError('bad'));
    }, noSleep)).rejects.toThrow('bad');
    expect(calls).toBe(1);
  });

  test('gives up at the deadline', async () => {
    await expect(retryOnConflict('write Deployment x', () => Promise.reject(new ApiException(409, 'conflict', {}, {})), { deadlineMs: 0, ...noSleep })).rejects.toThrow(/write Deployment x still conflicts after 1 attempts/);
  });
});

class CountingCredential implements TokenCredential {
  calls: string[] = [];
  constructor(private readonly lifetimeMs: number, private readonly now: () => number) {}
  getToken(scope: string | string[]): Promise<AccessToken> {
    this.calls.push(String(scope));
    return Promise.resolve({ token: `token-${this.calls.length}`, expiresOnTimestamp: this.now() + this.lifetimeMs });
  }
}

describe('aks entra token', () => {
  test('reuses token until margin', async () => {
    let now = 0;
    const credential = new CountingCredential(60 * 60_000, () => now);
    const token = new RefreshingToken(credential, aksEntraServerScope, { now: () => now });
    expect(await token.get()).toBe('token-1');
    now = 54 * 60_000;
    expect(await token.get()).toBe('token-1');
    now = 56 * 60_000;
    expect(await token.get()).toBe('token-2');
    expect(credential.calls).toEqual([aksEntraServerScope, aksEntraServerScope]);
  });

  test('concurrent callers share a refresh', async () => {
    const credential = new CountingCredential(60 * 60_000, () => 0);
    const token = new RefreshingToken(credential, aksEntraServerScope, { now: () => 0 });
    const tokens = await Promise.all([token.get(), token.get(), token.get()]);
    expect(tokens).toEqual(['token-1', 'token-1', 'token-1']);
    expect(credential.calls).toHaveLength(1);
  });

  test('null token is transient', async () => {
    const token = new RefreshingToken({ getToken: () => Promise.resolve(null) }, aksEntraServerScope);
    await expect(token.get()).rejects.toBeInstanceOf(TransientError);
  });
});

const userKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: aks-inference
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: ${Buffer.from('not a real CA').toString('base64')}
contexts:
- name: aks-inference
  context: { cluster: aks-inference, user: clusterUser_aks-rg_aks-inference }
current-context: aks-inference
users:
- name: clusterUser_aks-rg_aks-inference
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args: [get-token, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630]
`;

describe('aks user credential', () => {
  test('reads server and CA', () => {
    const cluster = clusterFromUserCredential(userKubeconfig, 'aks-inference');
    expect(cluster.server).toBe('https://127.0.0.1:6443');
    expect(cluster.caData).toBe(Buffer.from('not a real CA').toString('base64'));
  });

  test('missing CA is rejected', () => {
    expect(() => clusterFromUserCredential(userKubeconfig.replace(/ *certificate-authority-data.*\n/, ''), 'aks-inference')).toThrow(/has no certificate-authority-data/);
  });

  test('requests carry a bearer token', async () => {
    const credential = new CountingCredential(60 * 60_000, Date.now);
    const config = await loadAksEntraKubeConfig({
      subscriptionId: '00000000-0000-0000-0000-000000000000',
      resourceManagerEndpoint: 'https://127.0.0.1:1',
      resourceGroup: 'aks-rg',
      clusterName: 'aks-inference',
      credential,
      credentialSource: { listClusterUserCredentials: () => Promise.resolve({ kubeconfigs: [{ name: 'clusterUser', value: new TextEncoder().encode(userKubeconfig) }] }) },
    });
    const options: { headers?: Record<string, string> } = {};
    await config.applyToHTTPSOptions(options);
    expect(options.headers?.Authorization).toBe('Bearer token-1');
    expect(config.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
    expect(credential.calls).toEqual([aksEntraServerScope]);
  });

  test('forbidden listing names the role', async () => {
    const forbidden = Object.assign(new Error('AuthorizationFailed'), { statusCode: 403 });
    await expect(loadAksEntraKubeConfig({
      subscriptionId: 's', resourceManagerEndpoint: 'https://127.0.0.1:1', resourceGroup: 'aks-rg', clusterName: 'aks-inference',
      credential: new CountingCredential(1, Date.now),
      credentialSource: { listClusterUserCredentials: () => Promise.reject(forbidden) },
    })).rejects.toThrow(/Azure Kubernetes Service Cluster User Role/);
  });
});

describe('activity boundary errors', () => {
  test('keeps class, shortens message', () => {
    const long = new TransientError(`read Deployment models/x failed: ${'y'.repeat(1000)}`);
    const boundary = toBoundaryError(long);
    expect(boundary).toBeInstanceOf(TransientError);
    expect(boundary.message.length).toBeLessThanOrEqual(300);
    expect(boundary.message.startsWith('read Deployment models/x failed: ')).toBe(true);
  });

  test('unknown errors become permanent', () => {
    expect(toBoundaryError(new TypeError('x is undefined'))).toBeInstanceOf(PermanentError);
    expect(toBoundaryError('plain text').message).toBe('plain text');
  });
});
