import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { kubeClients, poolNodes } from '../../sim/src/cluster';
import { appSettingsFromSim, readSimEndpoints } from '../../sim/src/endpoints';
import { startSim, type RunningSim } from '../../sim/src/sim';
import { waitFor } from '../../sim/src/support';
import { Logger } from '../../src/observability/log';
import { runClient } from './azureHarness';

let stateDir: string;
let sim: RunningSim;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'sim-whole-'));
  sim = await startSim({ stateDir, podReadyDelayMs: 300, logger: new Logger(console, {}, 'warn'), onProgress: () => undefined });
}, 240_000);

afterAll(async () => {
  await sim?.stop();
  rmSync(stateDir, { recursive: true, force: true });
}, 90_000);

/** True while a process exists and is not a zombie. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('startSim', () => {
  test('endpoints file points at loopback', () => {
    const endpoints = readSimEndpoints(stateDir);
    const settings = appSettingsFromSim(endpoints);

    expect(endpoints.pid).toBe(process.pid);
    expect(endpoints.kubernetes.kubeconfigPath).toBe(join(stateDir, 'kubeconfig'));
    for (const url of [endpoints.kubernetes.server, endpoints.prometheus.url, endpoints.traffic.url, endpoints.arm.endpoint, endpoints.identity.endpoint, endpoints.imds.endpoint]) {
      expect(new URL(url).hostname).toBe('127.0.0.1');
    }
    expect(settings.KUBECONFIG_PATH).toBe(endpoints.kubernetes.kubeconfigPath);
    expect(settings.AKS_CLUSTER_NAME).toBe(endpoints.kubernetes.clusterName);
    expect(existsSync(settings.NODE_EXTRA_CA_CERTS ?? '')).toBe(true);
  });

  test('AKS scale through ARM adds Ready kwok nodes', async () => {
    const azure = sim.azure;
    if (!azure) throw new Error('startSim did not start the Azure simulators');
    const kube = await kubeClients(sim.cluster.kubeconfigPath);

    const run = await runClient({ sims: azure, stateDir, ca: readFileSync(azure.caCertPath, 'utf8'), stop: () => Promise.resolve() }, 'aksScale', { pool: 'gpuspot', count: 3 });

    expect(run.error).toBeUndefined();
    expect(run.result).toMatchObject({ before: 2, after: 3, provisioningState: 'Succeeded' });
    const ready = await waitFor('3 Ready gpuspot nodes', async () => {
      const nodes = await poolNodes(kube, 'gpuspot');
      const readyNodes = nodes.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      return readyNodes.length === 3 ? readyNodes : undefined;
    }, { timeoutMs: 15_000 });
    expect(ready.every((node) => node.metadata?.labels?.['kubernetes.azure.com/scalesetpriority'] === 'spot')).toBe(true);
  });

  test('stop leaves nothing running', async () => {
    const pidsDir = join(sim.cluster.workdir, 'clusters', sim.cluster.name, 'pids');
    const componentPids = readdirSync(pidsDir).map((file) => Number.parseInt(readFileSync(join(pidsDir, file), 'utf8'), 10));
    const prometheusPid = sim.prometheus.pid;
    expect(componentPids.length).toBeGreaterThanOrEqual(5);
    expect(componentPids.every(isRunning)).toBe(true);

    await sim.stop();

    expect(componentPids.filter(isRunning)).toEqual([]);
    expect(isRunning(prometheusPid)).toBe(false);
    expect(existsSync(join(stateDir, 'endpoints.json'))).toBe(false);
    await expect(fetch(`${sim.endpoints.traffic.url}/healthz`)).rejects.toThrow();
  });
});
