import { consoleLogger, errorText, type Logger } from '../../../src/observability/log';
import type { KubeClients } from '../cluster/kube';
import { TrafficMetrics, type SeriesKey } from './metrics';
import { readRoutingObjects } from './objects';
import { computeRouting, type DeploymentView, type EndpointRouting, type RoutingObjects } from './routing';
import { ScenarioBook, type Scenario } from './scenarios';

export interface TrafficGeneratorOptions {
  clients: KubeClients;
  /** Requests per second that each endpoint receives, split across its Deployments; default 20. */
  requestsPerSecond?: number;
  /**
   * Pause between two reads of the routing objects, in milliseconds; default
   * 1000. At 500 ms the reads cost about 6 % of a core in the generator and
   * as much in kube-apiserver; at 1000 ms a change still shows within a 2 s scrape.
   */
  refreshIntervalMs?: number;
  /** How often requests are played, in milliseconds; default 250. */
  tickMs?: number;
  logger?: Logger;
  /** Source of randomness for latencies, for reproducible tests; default Math.random. */
  random?: () => number;
}

/** GPU utilisation of a ready pod that serves nothing. */
const idleGpuUtilization = 0.05;
/** Spread of the log-normal latency distribution around its median. */
const latencySigma = 0.3;

interface Carry {
  requests: number;
  errors: number;
}

/** State of one Deployment in the generator, as the control API returns it. */
export interface DeploymentTraffic extends SeriesKey {
  endpoint: string;
  router: EndpointRouting['router'];
  routeObject?: string;
  weight: number;
  readyReplicas: number;
  scenario: Scenario;
}

/**
 * Plays model-server traffic: reads the routing objects every refresh, and on
 * every tick counts requests per Deployment in proportion to its weight, with
 * the errors and latencies of its scenario. No request goes over the network;
 * the generator writes the metrics a model server behind a gateway would.
 * Request and error counts carry their fractions from tick to tick, so the
 * error rate that Prometheus computes equals the scenario's rate.
 */
export class TrafficGenerator {
  readonly metrics = new TrafficMetrics();
  readonly scenarios = new ScenarioBook();
  requestsPerSecond: number;

  private readonly logger: Logger;
  private readonly random: () => number;
  private routing: EndpointRouting[] = [];
  private deployments = new Map<string, DeploymentView>();
  private readonly carries = new Map<string, Carry>();
  private lastTick = Date.now();
  private refreshFailing = false;
  private running = false;
  private tickTimer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: TrafficGeneratorOptions) {
    this.requestsPerSecond = options.requestsPerSecond ?? 20;
    this.logger = options.logger ?? consoleLogger({ component: 'sim-traffic' });
    this.random = options.random ?? Math.random;
  }

  /** Reads the routing objects once, then refreshes and plays traffic on timers until stop(). */
  async start(): Promise<void> {
    await this.refresh();
    this.running = true;
    this.lastTick = Date.now();
    this.tickTimer = setInterval(() => this.tick(Date.now()), this.options.tickMs ?? 250);
    this.scheduleRefresh();
  }

  stop(): void {
    this.running = false;
    clearInterval(this.tickTimer);
    clearTimeout(this.refreshTimer);
  }

  /**
   * Waits the refresh interval after each read finishes, so reads never
   * overlap when the API server is slow (four lists take about 250 ms on a
   * busy two-core machine).
   */
  private scheduleRefresh(): void {
    if (!this.running) return;
    this.refreshTimer = setTimeout(() => {
      void this.refresh().finally(() => this.scheduleRefresh());
    }, this.options.refreshIntervalMs ?? 1000);
  }

  /** Reads the routing objects and recomputes weights; on failure keeps the last weights and logs once. */
  async refresh(): Promise<void> {
    let objects: RoutingObjects;
    try {
      objects = await readRoutingObjects(this.options.clients);
    } catch (error) {
      if (!this.refreshFailing) this.logger.warn('cannot read routing objects; keeping the last traffic split', { error: errorText(error) });
      this.refreshFailing = true;
      return;
    }
    if (this.refreshFailing) this.logger.info('reading routing objects again');
    this.refreshFailing = false;
    this.apply(objects);
  }

  /** Applies routing objects read elsewhere; refresh() calls it. */
  apply(objects: RoutingObjects): void {
    const next = new Map(objects.deployments.map((deployment) => [`${deployment.namespace}/${deployment.name}`, deployment]));
    for (const [id, previous] of this.deployments) {
      if (next.get(id)?.track === previous.track) continue;
      this.metrics.forget(seriesKey(previous));
      this.carries.delete(id);
    }
    this.deployments = next;
    this.routing = computeRouting(objects);

    const weights = this.routing.flatMap((endpoint) =>
      Object.entries(endpoint.weights).flatMap(([name, weight]) => {
        const deployment = this.deployments.get(`${endpoint.namespace}/${name}`);
        return deployment ? [{ ...seriesKey(deployment), router: endpoint.router, weight }] : [];
      }),
    );
    this.metrics.setWeights(weights);
  }

  /** Plays the requests of the time since the last tick. */
  tick(now: number): void {
    const seconds = Math.max(0, (now - this.lastTick) / 1000);
    this.lastTick = now;
    for (const endpoint of this.routing) {
      for (const [name, weight] of Object.entries(endpoint.weights)) {
        const deployment = this.deployments.get(`${endpoint.namespace}/${name}`);
        if (deployment) this.play(deployment, weight, seconds);
      }
    }
  }

  /** Lists every Deployment with its endpoint, weight and scenario. */
  state(): DeploymentTraffic[] {
    return this.routing.flatMap((endpoint) =>
      Object.entries(endpoint.weights).flatMap(([name, weight]) => {
        const deployment = this.deployments.get(`${endpoint.namespace}/${name}`);
        if (!deployment) return [];
        return [{
          ...seriesKey(deployment),
          endpoint: endpoint.endpoint,
          router: endpoint.router,
          ...(endpoint.routeObject ? { routeObject: endpoint.routeObject } : {}),
          weight,
          readyReplicas: deployment.readyReplicas,
          scenario: this.scenarios.get(deployment.namespace, deployment.name),
        }];
      }),
    );
  }

  private play(deployment: DeploymentView, weight: number, seconds: number): void {
    const key = seriesKey(deployment);
    const id = `${deployment.namespace}/${deployment.name}`;
    const scenario = this.scenarios.get(deployment.namespace, deployment.name);
    const carry = this.carries.get(id) ?? { requests: 0, errors: 0 };
    this.carries.set(id, carry);

    if (scenario.scenario === 'no-traffic') {
      carry.requests = 0;
      carry.errors = 0;
      this.metrics.setGpuUtilization(key, deployment.readyReplicas > 0 ? idleGpuUtilization : 0);
      return;
    }

    const expected = this.requestsPerSecond * weight * seconds + carry.requests;
    const count = Math.floor(expected);
    carry.requests = expected - count;

    if (deployment.readyReplicas === 0) {
      // A gateway returns 503 when the backend Service has no ready endpoint.
      for (let i = 0; i < count; i++) this.metrics.observe(key, 503, 0.001);
      this.metrics.setGpuUtilization(key, 0);
      return;
    }

    const expectedErrors = count * scenario.errorRate + carry.errors;
    const errors = Math.floor(expectedErrors);
    carry.errors = expectedErrors - errors;
    for (let i = 0; i < count; i++) this.metrics.observe(key, i < errors ? scenario.errorCode : 200, this.latencySeconds(scenario));

    const perReplicaRps = (this.requestsPerSecond * weight) / deployment.readyReplicas;
    const busy = idleGpuUtilization + perReplicaRps * (scenario.latencyMs / 1000) * 0.6;
    this.metrics.setGpuUtilization(key, scenario.gpuUtilization ?? Math.min(0.99, busy));
  }

  /** Draws a latency from a log-normal distribution whose median is the scenario's latency. */
  private latencySeconds(scenario: Scenario): number {
    const u1 = Math.max(this.random(), Number.EPSILON);
    const u2 = this.random();
    const normal = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    return (scenario.latencyMs / 1000) * Math.exp(latencySigma * normal);
  }
}

function seriesKey(deployment: DeploymentView): SeriesKey {
  return { namespace: deployment.namespace, deployment: deployment.name, track: deployment.track };
}
