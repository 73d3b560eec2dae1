import { computeRouting, type DeploymentView, type RoutingObjects } from '../../sim/src/traffic/routing';

function deployment(name: string, readyReplicas: number, labels: Record<string, string>): DeploymentView {
  return { namespace: 'models', name, track: name.endsWith('-canary') ? 'canary' : 'stable', podLabels: labels, readyReplicas };
}

const stable = deployment('scorer', 3, { app: 'scorer', track: 'stable' });
const canary = deployment('scorer-canary', 1, { app: 'scorer', track: 'canary' });
const services = [
  { namespace: 'models', name: 'scorer', selector: { app: 'scorer', track: 'stable' } },
  { namespace: 'models', name: 'scorer-canary', selector: { app: 'scorer', track: 'canary' } },
];

function objects(partial: Partial<RoutingObjects>): RoutingObjects {
  return { deployments: [stable, canary], services, httpRoutes: [], ingresses: [], ...partial };
}

describe('computeRouting', () => {
  test('HTTPRoute weights split traffic', () => {
    const [routing] = computeRouting(objects({
      httpRoutes: [{ namespace: 'models', name: 'scorer', rules: [{ backendRefs: [{ name: 'scorer', weight: 80 }, { name: 'scorer-canary', weight: 20 }] }] }],
    }));

    expect(routing?.router).toBe('httproute');
    expect(routing?.routeObject).toBe('models/scorer');
    expect(routing?.weights).toEqual({ scorer: 0.8, 'scorer-canary': 0.2 });
  });

  test('HTTPRoute weight defaults to 1', () => {
    const [routing] = computeRouting(objects({
      httpRoutes: [{ namespace: 'models', name: 'scorer', rules: [{ backendRefs: [{ name: 'scorer' }, { name: 'scorer-canary' }] }] }],
    }));

    expect(routing?.weights).toEqual({ scorer: 0.5, 'scorer-canary': 0.5 });
  });

  test('HTTPRoute zero weight leaves canary at 0', () => {
    const [routing] = computeRouting(objects({
      httpRoutes: [{ namespace: 'models', name: 'scorer', rules: [{ backendRefs: [{ name: 'scorer', weight: 100 }, { name: 'scorer-canary', weight: 0 }] }] }],
    }));

    expect(routing?.weights).toEqual({ scorer: 1, 'scorer-canary': 0 });
  });

  test('Service over both tracks splits by ready pods', () => {
    const [routing] = computeRouting(objects({
      services: [{ namespace: 'models', name: 'scorer-all', selector: { app: 'scorer' } }],
      httpRoutes: [{ namespace: 'models', name: 'scorer', rules: [{ backendRefs: [{ name: 'scorer-all' }] }] }],
    }));

    expect(routing?.weights).toEqual({ scorer: 0.75, 'scorer-canary': 0.25 });
  });

  test('route in another namespace is ignored', () => {
    const [routing] = computeRouting(objects({
      httpRoutes: [{ namespace: 'other', name: 'scorer', rules: [{ backendRefs: [{ name: 'scorer', weight: 1 }, { name: 'scorer-canary', weight: 1 }] }] }],
    }));

    expect(routing?.router).toBe('replicas');
  });

  test('NGINX canary weight splits traffic', () => {
    const path = (service: string) => [{ host: 'scorer.local', path: '/', service }];
    const [routing] = computeRouting(objects({
      ingresses: [
        { namespace: 'models', name: 'scorer', canary: false, canaryWeight: 0, canaryWeightTotal: 100, paths: path('scorer') },
        { namespace: 'models', name: 'scorer-canary', canary: true, canaryWeight: 30, canaryWeightTotal: 100, paths: path('scorer-canary') },
      ],
    }));

    expect(routing?.router).toBe('ingress');
    expect(routing?.weights.scorer).toBeCloseTo(0.7);
    expect(routing?.weights['scorer-canary']).toBeCloseTo(0.3);
  });

  test('NGINX canary weight above total is capped', () => {
    const path = (service: string) => [{ host: '', path: '/', service }];
    const [routing] = computeRouting(objects({
      ingresses: [
        { namespace: 'models', name: 'scorer', canary: false, canaryWeight: 0, canaryWeightTotal: 100, paths: path('scorer') },
        { namespace: 'models', name: 'scorer-canary', canary: true, canaryWeight: 150, canaryWeightTotal: 100, paths: path('scorer-canary') },
      ],
    }));

    expect(routing?.weights).toEqual({ scorer: 0, 'scorer-canary': 1 });
  });

  test('no route splits by ready replicas', () => {
    const [routing] = computeRouting(objects({}));

    expect(routing?.router).toBe('replicas');
    expect(routing?.weights).toEqual({ scorer: 0.75, 'scorer-canary': 0.25 });
  });

  test('no ready pod keeps traffic on stable', () => {
    const [routing] = computeRouting(objects({ deployments: [{ ...stable, readyReplicas: 0 }, { ...canary, readyReplicas: 0 }] }));

    expect(routing?.weights).toEqual({ scorer: 1, 'scorer-canary': 0 });
  });

  test('endpoints group by stable name', () => {
    const other = deployment('ranker', 1, { app: 'ranker' });

    const routings = computeRouting(objects({ deployments: [stable, canary, other] }));

    expect(routings.map((r) => r.endpoint)).toEqual(['ranker', 'scorer']);
  });
});
