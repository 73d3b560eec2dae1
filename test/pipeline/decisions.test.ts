import { canaryChecks, promLabelValue, thresholdText } from '../../src/analysis/queries';
import type { QueryResult } from '../../src/analysis/verdict';
import { evaluateCheck, verdictOf } from '../../src/analysis/verdict';
import type { AnalysisSummary, ReleasePhase } from '../../src/contracts/phases';
import type { ReleaseSignal } from '../../src/release/machine';
import { isTerminal, transition } from '../../src/release/machine';
import type { AnalysisPlan } from '../../src/release/plan';
import { bakeSeconds, decideAfterAnalysis, failedCheckCount } from '../../src/release/steps';

describe('phase transitions', () => {
  const allowed: [ReleasePhase, ReleaseSignal, ReleasePhase][] = [
    ['Queued', 'granted', 'Validating'],
    ['Queued', 'superseded', 'Superseded'],
    ['Queued', 'abort', 'RolledBack'],
    ['Validating', 'validated', 'Building'],
    ['Validating', 'invalid', 'Rejected'],
    ['Building', 'imageReady', 'Deploying'],
    ['Building', 'failed', 'Failed'],
    ['Deploying', 'canaryReady', 'Progressing'],
    ['Deploying', 'rollback', 'RollingBack'],
    ['Deploying', 'promote', 'Promoting'],
    ['Progressing', 'awaitPerson', 'AwaitingApproval'],
    ['AwaitingApproval', 'resume', 'Progressing'],
    ['AwaitingApproval', 'promote', 'Promoting'],
    ['AwaitingApproval', 'rollback', 'RollingBack'],
    ['Promoting', 'promoted', 'Succeeded'],
    ['Promoting', 'failed', 'Failed'],
    ['RollingBack', 'rolledBack', 'RolledBack'],
    ['RollingBack', 'failed', 'Failed'],
  ];
  test.each(allowed)('%s on %s goes to %s', (from, signal, to) => {
    expect(transition(from, signal)).toEqual({ ok: true, phase: to });
  });

  const refused: [ReleasePhase, ReleaseSignal][] = [
    ['Succeeded', 'rollback'],
    ['RolledBack', 'failed'],
    ['Queued', 'promote'],
    ['Progressing', 'abort'],
    ['Promoting', 'abort'],
    ['Validating', 'canaryReady'],
  ];
  test.each(refused)('%s refuses %s', (from, signal) => {
    const result = transition(from, signal);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toContain(`signal ${signal} is not allowed in phase ${from}`);
  });

  test('terminal phases accept no signal', () => {
    for (const phase of ['Succeeded', 'RolledBack', 'Rejected', 'Failed', 'Superseded'] as ReleasePhase[]) {
      expect(isTerminal(phase)).toBe(true);
      for (const signal of ['granted', 'rollback', 'promote', 'failed', 'abort'] as ReleaseSignal[]) expect(transition(phase, signal).ok).toBe(false);
    }
  });
});

const plan: AnalysisPlan = { windowSeconds: 30, successRateMin: 0.99, latency: { percentile: 0.99, maxMs: 250 }, queries: [], onInconclusive: 'pause' };
const [successCheck, latencyCheck] = canaryChecks(plan, { namespace: 'models', deployment: 'regression-server-canary' });

describe('check verdicts', () => {
  const cases: [string, QueryResult, string, number | undefined][] = [
    ['pass above min', { kind: 'values', values: [0.995] }, 'pass', 0.995],
    ['fail below min', { kind: 'values', values: [0.97] }, 'fail', 0.97],
    ['exactly min passes', { kind: 'values', values: [0.99] }, 'pass', 0.99],
    ['empty is no data', { kind: 'values', values: [] }, 'no-data', undefined],
    ['NaN is no data', { kind: 'values', values: [Number.NaN] }, 'no-data', undefined],
    ['error is query failed', { kind: 'query-failed', error: 'HTTP 503' }, 'query-failed', undefined],
    ['worst series decides', { kind: 'values', values: [0.999, 0.95] }, 'fail', 0.95],
  ];
  test.each(cases)('success rate %s', (_name, result, outcome, value) => {
    const check = evaluateCheck(successCheck!, result);
    expect(check.outcome).toBe(outcome);
    expect(check.value).toBe(value);
  });

  test('latency above max fails', () => {
    expect(evaluateCheck(latencyCheck!, { kind: 'values', values: [251] }).outcome).toBe('fail');
    expect(evaluateCheck(latencyCheck!, { kind: 'values', values: [Number.POSITIVE_INFINITY] }).outcome).toBe('fail');
    expect(evaluateCheck(latencyCheck!, { kind: 'values', values: [249] }).outcome).toBe('pass');
  });

  const verdicts: [string, string[], string][] = [
    ['all pass', ['pass', 'pass'], 'pass'],
    ['one fail', ['pass', 'fail'], 'fail'],
    ['fail beats no data', ['no-data', 'fail'], 'fail'],
    ['no data', ['pass', 'no-data'], 'inconclusive'],
    ['query failed', ['query-failed', 'pass'], 'inconclusive'],
  ];
  test.each(verdicts)('verdict %s', (_name, outcomes, verdict) => {
    const checks = outcomes.map((outcome) => ({ name: 'c', threshold: '', outcome })) as AnalysisSummary['checks'];
    expect(verdictOf(checks)).toBe(verdict);
  });
});

describe('canary queries', () => {
  test('queries select the canary deployment', () => {
    expect(successCheck?.query).toBe(
      'sum(rate(inference_requests_total{namespace="models",deployment="regression-server-canary",code!~"5.."}[30s])) / sum(rate(inference_requests_total{namespace="models",deployment="regression-server-canary"}[30s]))',
    );
    expect(latencyCheck?.query).toBe('histogram_quantile(0.99, sum by (le) (rate(inference_request_duration_seconds_bucket{namespace="models",deployment="regression-server-canary"}[30s]))) * 1000');
    expect(latencyCheck?.name).toBe('latency-p99');
  });

  test('extra query placeholders are filled', () => {
    const checks = canaryChecks({ ...plan, queries: [{ name: 'gpu', query: 'avg(gpu{namespace="{{namespace}}",deployment="{{deployment}}"}[{{window}}])', max: 0.9 }] }, { namespace: 'm', deployment: 'd' });
    expect(checks[2]).toEqual({ name: 'gpu', query: 'avg(gpu{namespace="m",deployment="d"}[30s])', max: 0.9, threshold: '<= 0.9' });
  });

  test('label values are escaped', () => {
    expect(promLabelValue('a"b\\c')).toBe('a\\"b\\\\c');
  });

  test('threshold text', () => {
    expect(thresholdText(1, 5)).toBe('between 1 and 5');
    expect(thresholdText(0.99, undefined)).toBe('>= 0.99');
    expect(thresholdText(undefined, 250, ' ms')).toBe('<= 250 ms');
  });
});

function analysis(verdict: AnalysisSummary['verdict'], fails = 0): AnalysisSummary {
  const checks: AnalysisSummary['checks'] = [
    ...Array.from({ length: fails }, () => ({ name: 'success-rate', outcome: 'fail' as const, value: 0.9, threshold: '>= 0.99' })),
    { name: 'latency-p99', outcome: verdict === 'inconclusive' ? ('no-data' as const) : ('pass' as const), threshold: '<= 250 ms' },
  ];
  return { step: 0, weight: 10, verdict, checks, at: '2026-12-04T10:00:00.000Z' };
}

describe('step decisions', () => {
  const base = { step: 0, steps: [10, 50], failedChecks: 0, maxFailedChecks: 1, onInconclusive: 'pause' as const, approvalRequired: false };

  test('pass moves to next step', () => {
    expect(decideAfterAnalysis(analysis('pass'), base)).toEqual({ kind: 'next-step', step: 1, weight: 50 });
  });
  test('pass after last step promotes', () => {
    expect(decideAfterAnalysis(analysis('pass'), { ...base, step: 1 })).toEqual({ kind: 'promote' });
  });
  test('pass after last step with approval gates', () => {
    expect(decideAfterAnalysis(analysis('pass'), { ...base, step: 1, approvalRequired: true })).toEqual({ kind: 'gate' });
  });
  test('failed checks at threshold roll back', () => {
    const decision = decideAfterAnalysis(analysis('fail', 1), { ...base, failedChecks: 1 });
    expect(decision.kind).toBe('rollback');
    expect(decision.kind === 'rollback' && decision.reason).toContain('success-rate 0.9000 outside >= 0.99');
  });
  test('failed checks below threshold continue', () => {
    expect(decideAfterAnalysis(analysis('fail', 1), { ...base, failedChecks: 1, maxFailedChecks: 2 })).toEqual({ kind: 'next-step', step: 1, weight: 50 });
  });
  test.each([
    ['pause', 'pause'],
    ['rollback', 'rollback'],
    ['continue', 'next-step'],
  ] as const)('inconclusive with %s', (policy, kind) => {
    expect(decideAfterAnalysis(analysis('inconclusive'), { ...base, onInconclusive: policy }).kind).toBe(kind);
  });
  test('failed check count ignores no data', () => {
    expect(failedCheckCount(analysis('inconclusive'))).toBe(0);
    expect(failedCheckCount(analysis('fail', 2))).toBe(2);
  });
  test('bake covers the query window', () => {
    expect(bakeSeconds(20, 30)).toBe(30);
    expect(bakeSeconds(300, 60)).toBe(300);
  });
});
