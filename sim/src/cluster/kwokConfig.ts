import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parseAllDocuments, stringify } from 'yaml';

import type { SimBinaries } from './binaries';

/** Annotation that overrides the pod-ready delay of one pod, as a Go duration ("5s", "1500ms"). */
export const podReadyDelayAnnotation = 'pod-ready.stage.kwok.x-k8s.io/delay';

export interface KwokConfigOptions {
  binaries: SimBinaries;
  /** Delay before a scheduled pod turns Running and Ready, in milliseconds. */
  podReadyDelayMs: number;
  /** Random extra delay per pod, 0 to this many milliseconds. */
  podReadyJitterMs: number;
  ports: ClusterPorts;
}

/**
 * Every port the binary runtime listens on. Left to itself, kwokctl scans down
 * from 32767 and takes the first free port, so two clusters created at the
 * same moment could pick the same ones. sim takes them from the kernel instead.
 */
export interface ClusterPorts {
  etcdPort: number;
  etcdPeerPort: number;
  kubeApiserverPort: number;
  kubeControllerManagerPort: number;
  kubeSchedulerPort: number;
  kwokControllerPort: number;
}

type YamlObject = Record<string, unknown>;

/**
 * Builds the multi-document kwokctl configuration: the binary runtime on
 * 127.0.0.1 with every binary a local path, so kwokctl never downloads, and
 * kwok's own Stage manifests with a delay added to pod-ready. Any Stage in the
 * file replaces all of kwok's default stages, which is why the node stages
 * are listed as well.
 */
export function kwokConfigYaml(options: KwokConfigOptions): string {
  const bin = (name: string): string => join(options.binaries.binDir, name);
  const kwokctl = {
    kind: 'KwokctlConfiguration',
    apiVersion: 'config.kwok.x-k8s.io/v1alpha1',
    options: {
      runtime: 'binary',
      kubeVersion: options.binaries.kubeVersion,
      bindAddress: '127.0.0.1',
      kubeApiserverBinary: bin('kube-apiserver'),
      kubeControllerManagerBinary: bin('kube-controller-manager'),
      kubeSchedulerBinary: bin('kube-scheduler'),
      kubectlBinary: bin('kubectl'),
      kwokControllerBinary: bin('kwok'),
      etcdBinary: bin('etcd'),
      etcdctlBinary: bin('etcdctl'),
      quietPull: true,
      ...options.ports,
    },
  };

  const stages = readStages(join(options.binaries.assetsDir, 'stages')).map((stage) => withPodReadyDelay(stage, options));
  return [kwokctl, ...stages].map((document) => stringify(document)).join('---\n');
}

function readStages(dir: string): YamlObject[] {
  const files = readdirSync(dir).filter((name) => name.endsWith('.yaml')).sort();
  if (files.length === 0) throw new Error(`no kwok Stage manifests in ${dir}; run sim/scripts/build-binaries.sh`);
  return files.flatMap((file) =>
    parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((document) => document.toJS() as YamlObject),
  );
}

function withPodReadyDelay(stage: YamlObject, options: KwokConfigOptions): YamlObject {
  const metadata = stage.metadata as { name?: string } | undefined;
  if (metadata?.name !== 'pod-ready') return stage;
  const spec = stage.spec as YamlObject;
  return {
    ...stage,
    spec: {
      ...spec,
      delay: {
        durationMilliseconds: options.podReadyDelayMs,
        durationFrom: { expressionFrom: `.metadata.annotations["${podReadyDelayAnnotation}"]` },
        // kwok takes the jitter bound as the delay when it is below the
        // duration, so the annotation sets both and a pod's delay is exact.
        jitterDurationMilliseconds: options.podReadyDelayMs + options.podReadyJitterMs,
        jitterDurationFrom: { expressionFrom: `.metadata.annotations["${podReadyDelayAnnotation}"]` },
      },
    },
  };
}
