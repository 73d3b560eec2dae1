import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

import { parseAllDocuments } from 'yaml';

import { pinnedKubeVersion } from '../../sim/src/cluster/binaries';
import { kwokConfigYaml, podReadyDelayAnnotation, type ClusterPorts } from '../../sim/src/cluster/kwokConfig';
import { scenarioFrom } from '../../sim/src/traffic/scenarios';

const root = join(__dirname, '..', '..');
const ports: ClusterPorts = { etcdPort: 41001, etcdPeerPort: 41002, kubeApiserverPort: 41003, kubeControllerManagerPort: 41004, kubeSchedulerPort: 41005, kwokControllerPort: 41006 };

interface Document {
  kind?: string;
  metadata?: { name?: string };
  options?: Record<string, unknown>;
  spec?: { delay?: Record<string, unknown> };
}

function configDocuments(): Document[] {
  // The assets come from the pinned kwok module; build-binaries.sh --assets copies them.
  const assetsDir = execFileSync('bash', [join(root, 'sim', 'scripts', 'build-binaries.sh'), '--assets'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const yaml = kwokConfigYaml({ binaries: { binDir: '/cache/bin', assetsDir, kubeVersion: 'v1.36.1' }, podReadyDelayMs: 1500, podReadyJitterMs: 500, ports });
  return parseAllDocuments(yaml).map((document) => document.toJS() as Document);
}

describe('kwokConfigYaml', () => {
  test('binaries are local paths', () => {
    const options = configDocuments()[0]?.options ?? {};
    const binaries = Object.entries(options).filter(([key]) => key.endsWith('Binary'));

    expect(binaries.map(([key]) => key).sort()).toEqual(['etcdBinary', 'etcdctlBinary', 'kubeApiserverBinary', 'kubeControllerManagerBinary', 'kubeSchedulerBinary', 'kubectlBinary', 'kwokControllerBinary']);
    for (const [, value] of binaries) expect(String(value)).toMatch(/^\/cache\/bin\//);
    expect(options.runtime).toBe('binary');
    expect(options.bindAddress).toBe('127.0.0.1');
  });

  test('ports come from the caller', () => {
    const options = configDocuments()[0]?.options ?? {};

    expect(options).toMatchObject({ ...ports });
  });

  test('node and pod stages are all listed', () => {
    const names = configDocuments().filter((d) => d.kind === 'Stage').map((d) => d.metadata?.name).sort();

    expect(names).toEqual(['node-heartbeat-with-lease', 'node-initialize', 'pod-complete', 'pod-delete', 'pod-ready']);
  });

  test('pod-ready stage gets the delay', () => {
    const podReady = configDocuments().find((d) => d.metadata?.name === 'pod-ready');

    expect(podReady?.spec?.delay).toEqual({
      durationMilliseconds: 1500,
      durationFrom: { expressionFrom: `.metadata.annotations["${podReadyDelayAnnotation}"]` },
      jitterDurationMilliseconds: 2000,
      jitterDurationFrom: { expressionFrom: `.metadata.annotations["${podReadyDelayAnnotation}"]` },
    });
  });
});

describe('pinnedKubeVersion', () => {
  test('reads the k8s tools pin', () => {
    expect(pinnedKubeVersion(root)).toMatch(/^v1\.(3[4-9]|[4-9]\d)\.\d+$/);
  });
});

describe('scenarioFrom', () => {
  test('error spike defaults', () => {
    expect(scenarioFrom({ scenario: 'error-spike' })).toEqual({ scenario: 'error-spike', errorRate: 0.25, errorCode: 500, latencyMs: 80 });
  });

  test('request overrides defaults', () => {
    expect(scenarioFrom({ scenario: 'latency-regression', latencyMs: 900, gpuUtilization: 0.9 })).toEqual({ scenario: 'latency-regression', errorRate: 0, errorCode: 500, latencyMs: 900, gpuUtilization: 0.9 });
  });
});
