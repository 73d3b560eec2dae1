import { listLine, runCli } from '../../src/cli/main';
import { analysisLine, progressBar, WatchRenderer } from '../../src/cli/render';
import type { ReleaseStatus } from '../../src/contracts/phases';

const base: ReleaseStatus = {
  releaseId: 'rel-regression-0123456789abcdef01234567',
  releaseKey: 'model|regression|sklearn_regression_model|20',
  endpoint: 'regression',
  phase: 'Queued',
  canaryWeight: 0,
  step: -1,
  totalSteps: 2,
  failedChecks: 0,
  updatedAt: '2026-12-04T10:00:00.000Z',
};
const analysis = {
  step: 0,
  weight: 10,
  verdict: 'pass' as const,
  checks: [
    { name: 'success-rate', outcome: 'pass' as const, value: 0.9985, threshold: '>= 0.99' },
    { name: 'latency-p99', outcome: 'pass' as const, value: 120, threshold: '<= 250 ms' },
  ],
  at: '2026-12-04T10:01:00.000Z',
};

/** Returns a fetch that plays the release API from a script of statuses, one per status read. */
function scriptedApi(statuses: ReleaseStatus[], calls: string[]): typeof fetch {
  let index = 0;
  const api = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : input);
    calls.push(`${init?.method ?? 'GET'} ${url.pathname} ${JSON.stringify(init?.headers ?? {})}`);
    if (url.pathname.endsWith('/approve')) return Promise.resolve(new Response(JSON.stringify({ error: 'cannot approve a release in phase Progressing', problems: [] }), { status: 409 }));
    const status = statuses[Math.min(index++, statuses.length - 1)];
    return Promise.resolve(new Response(JSON.stringify({ releaseId: base.releaseId, runtimeStatus: 'Running', status, createdTime: base.updatedAt }), { status: 200 }));
  };
  return api;
}

describe('command line', () => {
  test('list prints one line per release', async () => {
    const releases = [
      { releaseId: 'rel-regression-aaa', endpoint: 'regression', state: 'running', phase: 'Progressing', updatedAt: '2026-12-04T10:00:00.000Z' },
      { releaseId: 'rel-regression-bbb', endpoint: 'regression', state: 'finished', phase: 'RolledBack', updatedAt: '2026-12-04T09:00:00.000Z', reason: 'success-rate 0.75 outside >= 0.99' },
    ];
    const api = (): Promise<Response> => Promise.resolve(new Response(JSON.stringify({ endpoint: 'regression', releases }), { status: 200 }));
    const out: string[] = [];
    const code = await runCli(['list', '--endpoint', 'regression'], { out: (l) => out.push(l), err: () => undefined, env: {}, fetch: api });
    expect(code).toBe(0);
    expect(out).toEqual(releases.map(listLine));
    expect(out[1]).toBe('rel-regression-bbb  regression  finished  RolledBack  2026-12-04T09:00:00.000Z  success-rate 0.75 outside >= 0.99');
  });

  test('progress bar follows weight', () => {
    expect(progressBar({ canaryWeight: 50, step: 1, totalSteps: 2 }, 10)).toBe('[#####-----]  50 % canary, step 2/2');
    expect(progressBar({ canaryWeight: 0, step: -1, totalSteps: 3 }, 4)).toBe('[----]   0 % canary, step 0/3');
  });

  test('analysis line shows numbers', () => {
    expect(analysisLine(analysis)).toBe('analysis step 1 at 10 %: PASS - success-rate 0.9985 (>= 0.99) pass; latency-p99 120 (<= 250 ms) pass');
  });

  test('renderer prints only changes', () => {
    const renderer = new WatchRenderer();
    expect(renderer.update(base)).toEqual(['phase Queued']);
    expect(renderer.update(base)).toEqual([]);
    const progressing = { ...base, phase: 'Progressing' as const, canaryWeight: 10, step: 0, lastAnalysis: analysis };
    expect(renderer.update(progressing)).toHaveLength(3);
    expect(renderer.update(progressing)).toEqual([]);
  });

  test('watch ends with summary and exit code', async () => {
    const out: string[] = [];
    const calls: string[] = [];
    const statuses: ReleaseStatus[] = [
      base,
      { ...base, phase: 'Progressing', canaryWeight: 10, step: 0, lastAnalysis: analysis },
      { ...base, phase: 'RolledBack', canaryWeight: 0, step: 1, failedChecks: 1, reason: 'canary analysis failed at step 2' },
    ];
    const code = await runCli(['watch', base.releaseId, '--interval', '0.2', '--key', 'k1'], { out: (l) => out.push(l), err: (l) => out.push(l), env: {}, fetch: scriptedApi(statuses, calls) });
    expect(code).toBe(1);
    expect(out).toContain('phase RolledBack - canary analysis failed at step 2');
    expect(out).toContain(`release ${base.releaseId} ended RolledBack`);
    expect(calls[0]).toContain('"x-functions-key":"k1"');
  });

  test('refused action shows the reason', async () => {
    const err: string[] = [];
    const code = await runCli(['approve', base.releaseId], { out: () => undefined, err: (l) => err.push(l), env: { MLRELEASE_URL: 'http://127.0.0.1:1' }, fetch: scriptedApi([base], []) });
    expect(code).toBe(2);
    expect(err[0]).toContain('HTTP 409: cannot approve a release in phase Progressing');
  });

  test('bad model option is a usage error', async () => {
    const err: string[] = [];
    const code = await runCli(['start', '--endpoint', 'regression', '--model', 'nover'], { out: () => undefined, err: (l) => err.push(l), env: {}, fetch: scriptedApi([base], []) });
    expect(code).toBe(2);
    expect(err[0]).toContain('--model "nover" is invalid: expected NAME:VERSION');
  });
});
