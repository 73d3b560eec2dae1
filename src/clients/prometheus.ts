import type { TokenCredential } from '@azure/identity';

import type { QueryResult } from '../analysis/verdict';

/** Token scope of Azure Monitor managed Prometheus query endpoints. */
export const prometheusScope = 'https://prometheus.monitor.azure.com/.default';

export interface PrometheusOptions {
  url: string;
  /** Sends a bearer token for Azure Monitor managed Prometheus when set; the local sim needs none. */
  credential?: TokenCredential;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

interface PromResponse {
  status: 'success' | 'error';
  data?: { resultType: string; result: { value?: [number, string] }[] | [number, string] };
  errorType?: string;
  error?: string;
}

/**
 * Instant queries through the Prometheus HTTP API (`/api/v1/query`). A query
 * that cannot run returns `query-failed` with the reason; it never throws, so
 * that the analysis can tell a broken query from a failed check.
 */
export class PrometheusClient {
  constructor(private readonly options: PrometheusOptions) {}

  async query(promql: string, at: Date): Promise<QueryResult> {
    const url = new URL('api/v1/query', this.options.url.endsWith('/') ? this.options.url : `${this.options.url}/`);
    const body = new URLSearchParams({ query: promql, time: (at.getTime() / 1000).toFixed(3) });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };

    try {
      if (this.options.credential) {
        const token = await this.options.credential.getToken(prometheusScope);
        if (!token) return { kind: 'query-failed', error: `no token for ${prometheusScope}: check the managed identity's Monitoring Data Reader role` };
        headers.authorization = `Bearer ${token.token}`;
      }
      const response = await (this.options.fetch ?? fetch)(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.options.timeoutMs ?? 15000) });
      const text = await response.text();
      if (!response.ok) return { kind: 'query-failed', error: `HTTP ${response.status} from ${url.origin}: ${text.slice(0, 200)}` };
      return parseResult(JSON.parse(text) as PromResponse);
    } catch (error) {
      return { kind: 'query-failed', error: `query to ${url.origin} failed: ${(error as Error).message}` };
    }
  }
}

/** Turns an API response into sample values; a scalar counts as one value. */
export function parseResult(response: PromResponse): QueryResult {
  if (response.status !== 'success' || !response.data) {
    return { kind: 'query-failed', error: `${response.errorType ?? 'error'}: ${response.error ?? 'no data in response'}` };
  }
  const { resultType, result } = response.data;
  if (resultType === 'scalar') return { kind: 'values', values: [Number((result as [number, string])[1])] };
  if (resultType !== 'vector') return { kind: 'query-failed', error: `expected an instant vector, got ${resultType}` };
  const series = result as { value?: [number, string] }[];
  return { kind: 'values', values: series.map((s) => Number(s.value?.[1] ?? Number.NaN)) };
}
