import type { ReleaseAction, ReleaseStatus } from '../contracts/phases';

/** Connection settings of the release API client. */
export interface ApiOptions {
  /** Base URL of the function app, e.g. `http://127.0.0.1:7071`. */
  baseUrl: string;
  /** Function key, sent as `x-functions-key`; a local host without keys needs none. */
  functionKey?: string;
  /** Bearer token of a person, for the audit trail. */
  bearerToken?: string;
  fetch?: typeof fetch;
}

/** Body of `GET /api/releases/{id}`. */
export interface ReleaseView {
  releaseId: string;
  runtimeStatus: string;
  phase?: string;
  status?: ReleaseStatus;
  createdTime?: string;
  lastUpdatedTime?: string;
}

/** Raised for a non-2xx response; the message carries the API's problem text. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** Thin client of the release HTTP API. */
export class ReleaseApiClient {
  constructor(private readonly options: ApiOptions) {}

  private async send(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const url = new URL(`/api/${path}`, this.options.baseUrl);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.functionKey) headers['x-functions-key'] = this.options.functionKey;
    if (this.options.bearerToken) headers.authorization = `Bearer ${this.options.bearerToken}`;

    let response: Response;
    try {
      response = await (this.options.fetch ?? fetch)(url, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    } catch (error) {
      throw new ApiError(`cannot reach ${url.origin}: ${(error as Error).message}; check --url or MLRELEASE_URL`, 0);
    }
    const text = await response.text();
    const json: unknown = text ? safeJson(text) : undefined;
    if (!response.ok) throw new ApiError(`${method} ${url.pathname} failed with HTTP ${response.status}: ${problemText(json, text)}`, response.status);
    return { status: response.status, json };
  }

  async start(body: { endpoint: string; model?: { name: string; version: string }; image?: string; reason?: string }): Promise<{ releaseId: string; outcome: string; statusUrl?: string }> {
    return (await this.send('POST', 'releases', body)).json as { releaseId: string; outcome: string };
  }

  async status(releaseId: string): Promise<ReleaseView> {
    return (await this.send('GET', `releases/${encodeURIComponent(releaseId)}`)).json as ReleaseView;
  }

  async list(endpoint?: string, status?: string): Promise<unknown> {
    const query = new URLSearchParams({ ...(endpoint ? { endpoint } : {}), ...(status ? { status } : {}) }).toString();
    return (await this.send('GET', `releases${query ? `?${query}` : ''}`)).json;
  }

  async act(releaseId: string, action: ReleaseAction, reason?: string): Promise<unknown> {
    return (await this.send('POST', `releases/${encodeURIComponent(releaseId)}/${action}`, reason ? { reason } : {})).json;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function problemText(json: unknown, text: string): string {
  const problem = json as { error?: string; problems?: { field: string; problem: string; expected: string }[] } | undefined;
  if (!problem?.error) return text.slice(0, 300) || '(empty body)';
  const fields = (problem.problems ?? []).map((p) => `${p.field} ${p.problem} (expected ${p.expected})`).join('; ');
  return [problem.error, fields].filter(Boolean).join(': ');
}
