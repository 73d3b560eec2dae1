import { Counter, Gauge, Histogram, Registry } from 'prom-client';

import type { RouterKind, Track } from './routing';

/** Latency buckets in seconds, from 5 ms to 10 s. */
export const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface SeriesKey {
  namespace: string;
  deployment: string;
  track: Track;
}

/** The metrics of the traffic generator; names and labels are documented in sim/README.md. */
export class TrafficMetrics {
  readonly registry = new Registry();

  private readonly requests = new Counter({
    name: 'inference_requests_total',
    help: 'Requests served by a model-server Deployment, by HTTP status code (simulated).',
    labelNames: ['namespace', 'deployment', 'track', 'code'] as const,
    registers: [this.registry],
  });

  private readonly duration = new Histogram({
    name: 'inference_request_duration_seconds',
    help: 'Request latency of a model-server Deployment in seconds (simulated).',
    labelNames: ['namespace', 'deployment', 'track'] as const,
    buckets: latencyBuckets,
    registers: [this.registry],
  });

  private readonly gpu = new Gauge({
    name: 'inference_gpu_utilization_ratio',
    help: 'Mean GPU utilisation of the ready pods of a Deployment, 0 to 1 (simulated).',
    labelNames: ['namespace', 'deployment', 'track'] as const,
    registers: [this.registry],
  });

  private readonly weight = new Gauge({
    name: 'inference_traffic_weight_ratio',
    help: 'Share of the endpoint traffic that the routing objects give to a Deployment, 0 to 1.',
    labelNames: ['namespace', 'deployment', 'track', 'router'] as const,
    registers: [this.registry],
  });

  /** Status codes counted per `namespace/deployment`, because prom-client removes a series only by its exact labels. */
  private readonly codes = new Map<string, Set<string>>();

  /** Counts one request with its status code and latency in seconds. */
  observe(key: SeriesKey, code: number, seconds: number): void {
    const id = `${key.namespace}/${key.deployment}`;
    const codes = this.codes.get(id) ?? new Set<string>();
    codes.add(String(code));
    this.codes.set(id, codes);
    this.requests.inc({ ...key, code: String(code) });
    this.duration.observe({ ...key }, seconds);
  }

  setGpuUtilization(key: SeriesKey, ratio: number): void {
    this.gpu.set({ ...key }, ratio);
  }

  /** Replaces every weight series, so a Deployment that left a route loses its series at once. */
  setWeights(weights: (SeriesKey & { router: RouterKind; weight: number })[]): void {
    this.weight.reset();
    for (const { weight, ...labels } of weights) this.weight.set(labels, weight);
  }

  /** Drops every series of a Deployment that no longer exists. */
  forget(key: SeriesKey): void {
    const id = `${key.namespace}/${key.deployment}`;
    for (const code of this.codes.get(id) ?? []) this.requests.remove({ ...key, code });
    this.codes.delete(id);
    this.duration.remove({ ...key });
    this.gpu.remove({ ...key });
  }
}
