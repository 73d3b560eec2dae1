import type { AnalysisPlan } from '../release/plan';

/**
 * Metric names of the model servers: a request counter labelled by HTTP
 * status code and a latency histogram in seconds, both labelled namespace,
 * deployment and track. The sim traffic generator exposes the same names.
 */
export const metricNames = {
  requests: 'inference_requests_total',
  latencyBuckets: 'inference_request_duration_seconds_bucket',
  codeLabel: 'code',
} as const;

/** One PromQL check with the limits its value must meet. */
export interface CheckQuery {
  name: string;
  query: string;
  min?: number;
  max?: number;
  /** Readable threshold, for status and messages, e.g. ">= 0.99". */
  threshold: string;
}

/** Escapes a label value for a PromQL string literal. */
export function promLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

/** Formats a window in seconds as a PromQL range, e.g. `60s`. */
export function promRange(seconds: number): string {
  return `${Math.max(1, Math.round(seconds))}s`;
}

/** Formats the limits of a check as text such as ">= 0.99" or "between 1 and 5". */
export function thresholdText(min: number | undefined, max: number | undefined, unit = ''): string {
  if (min !== undefined && max !== undefined) return `between ${min}${unit} and ${max}${unit}`;
  if (min !== undefined) return `>= ${min}${unit}`;
  return `<= ${max ?? ''}${unit}`;
}

function percentileLabel(percentile: number): string {
  return `p${Math.round(percentile * 1000) / 10}`;
}

/**
 * Builds the checks of one analysis of the canary Deployment: success rate
 * (share of responses that are not 5xx), the latency percentile in
 * milliseconds, and the policy's extra queries with their placeholders filled.
 */
export function canaryChecks(plan: AnalysisPlan, target: { namespace: string; deployment: string }): CheckQuery[] {
  const selector = `namespace="${promLabelValue(target.namespace)}",deployment="${promLabelValue(target.deployment)}"`;
  const range = promRange(plan.windowSeconds);
  const { requests, latencyBuckets, codeLabel } = metricNames;

  const successRate: CheckQuery = {
    name: 'success-rate',
    query: `sum(rate(${requests}{${selector},${codeLabel}!~"5.."}[${range}])) / sum(rate(${requests}{${selector}}[${range}]))`,
    min: plan.successRateMin,
    threshold: thresholdText(plan.successRateMin, undefined),
  };
  const latency: CheckQuery = {
    name: `latency-${percentileLabel(plan.latency.percentile)}`,
    query: `histogram_quantile(${plan.latency.percentile}, sum by (le) (rate(${latencyBuckets}{${selector}}[${range}]))) * 1000`,
    max: plan.latency.maxMs,
    threshold: thresholdText(undefined, plan.latency.maxMs, ' ms'),
  };
  const extra = plan.queries.map((q): CheckQuery => {
    const query = q.query
      .replaceAll('{{namespace}}', promLabelValue(target.namespace))
      .replaceAll('{{deployment}}', promLabelValue(target.deployment))
      .replaceAll('{{window}}', range);
    const check: CheckQuery = { name: q.name, query, threshold: thresholdText(q.min, q.max) };
    if (q.min !== undefined) check.min = q.min;
    if (q.max !== undefined) check.max = q.max;
    return check;
  });
  return [successRate, latency, ...extra];
}
