import { z } from 'zod';

/** What a Deployment's simulated model server does. */
export const scenarioNames = ['healthy', 'error-spike', 'latency-regression', 'no-traffic'] as const;
export type ScenarioName = (typeof scenarioNames)[number];

export interface Scenario {
  scenario: ScenarioName;
  /** Share of requests answered with `errorCode`, 0 to 1. */
  errorRate: number;
  /** HTTP status of a failed request, 500 to 599. */
  errorCode: number;
  /** Median request latency in milliseconds. */
  latencyMs: number;
  /** GPU utilisation to report, 0 to 1; computed from the load when absent. */
  gpuUtilization?: number;
}

const defaults: Record<ScenarioName, Omit<Scenario, 'scenario'>> = {
  healthy: { errorRate: 0, errorCode: 500, latencyMs: 80 },
  'error-spike': { errorRate: 0.25, errorCode: 500, latencyMs: 80 },
  'latency-regression': { errorRate: 0, errorCode: 500, latencyMs: 400 },
  'no-traffic': { errorRate: 0, errorCode: 500, latencyMs: 80 },
};

/** Request body of `PUT /v1/scenarios/{namespace}/{deployment}`; unset fields take the scenario's defaults. */
export const scenarioRequestSchema = z.strictObject({
  scenario: z.enum(scenarioNames),
  errorRate: z.number().min(0).max(1).optional(),
  errorCode: z.number().int().min(500).max(599).optional(),
  latencyMs: z.number().positive().max(60_000).optional(),
  gpuUtilization: z.number().min(0).max(1).optional(),
});
export type ScenarioRequest = z.infer<typeof scenarioRequestSchema>;

/** Fills a scenario request with the defaults of its scenario. */
export function scenarioFrom(request: ScenarioRequest): Scenario {
  const base = defaults[request.scenario];
  return {
    scenario: request.scenario,
    errorRate: request.errorRate ?? base.errorRate,
    errorCode: request.errorCode ?? base.errorCode,
    latencyMs: request.latencyMs ?? base.latencyMs,
    ...(request.gpuUtilization === undefined ? {} : { gpuUtilization: request.gpuUtilization }),
  };
}

/** Scenario of a Deployment nobody has chosen one for. */
export function defaultScenario(): Scenario {
  return scenarioFrom({ scenario: 'healthy' });
}

/** Scenarios chosen per Deployment, keyed `namespace/deployment`; a Deployment may get one before it exists. */
export class ScenarioBook {
  private readonly chosen = new Map<string, Scenario>();

  set(namespace: string, deployment: string, scenario: Scenario): void {
    this.chosen.set(`${namespace}/${deployment}`, scenario);
  }

  /** Removes the choice; returns false when there was none. */
  clear(namespace: string, deployment: string): boolean {
    return this.chosen.delete(`${namespace}/${deployment}`);
  }

  get(namespace: string, deployment: string): Scenario {
    return this.chosen.get(`${namespace}/${deployment}`) ?? defaultScenario();
  }

  list(): ({ namespace: string; deployment: string } & Scenario)[] {
    return [...this.chosen.entries()].map(([key, scenario]) => {
      const [namespace = '', deployment = ''] = key.split('/');
      return { namespace, deployment, ...scenario };
    });
  }
}
