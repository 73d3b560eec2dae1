/** HTTP triggers: route table, function keys, request and response conversion. */
import type { RegisteredFunction } from './core';
import { decodeTypedData } from './invoke';
import type { FunctionHost } from './host';
import type { AuthLevel, KeyStore } from './keys';
import { compileRoute, type CompiledRoute, matchRoute } from './routes';
import { presentedKey, type WebRequest, type WebResponse } from './web';

interface HttpRoute {
  fn: RegisteredFunction;
  route: CompiledRoute;
  methods: string[] | undefined;
  authLevel: AuthLevel;
}

interface RpcHttpResponse {
  statusCode?: string | number;
  headers?: Record<string, string>;
  cookies?: { name: string; value: string; domain?: string; path?: string; expires?: { value?: number }; secure?: boolean; httpOnly?: boolean; sameSite?: number; maxAge?: number }[];
  body?: unknown;
}

export class HttpTriggers {
  readonly routes: HttpRoute[];

  constructor(
    private readonly host: FunctionHost,
    private readonly keys: KeyStore,
    readonly routePrefix: string,
  ) {
    this.routes = host
      .functions()
      .filter((fn) => fn.trigger.type === 'httpTrigger')
      .map((fn) => {
        const template = typeof fn.trigger.route === 'string' && fn.trigger.route.length > 0 ? fn.trigger.route : fn.name;
        const methods = Array.isArray(fn.trigger.methods) ? (fn.trigger.methods as string[]).map((m) => m.toUpperCase()) : undefined;
        const authLevel = (typeof fn.trigger.authLevel === 'string' ? fn.trigger.authLevel.toLowerCase() : 'function') as AuthLevel;
        return { fn, route: compileRoute(template), methods, authLevel };
      })
      .sort((a, b) => b.route.literalSegments - a.route.literalSegments || a.route.params.length - b.route.params.length);
  }

  /** The public path of a route, for the start-up listing. */
  pathOf(route: HttpRoute): string {
    return `/${[this.routePrefix, route.route.template].filter((p) => p.length > 0).join('/')}`;
  }

  /** Handles the request if a route matches its path, else returns undefined. */
  async handle(request: WebRequest): Promise<WebResponse | undefined> {
    const prefix = this.routePrefix.length > 0 ? `/${this.routePrefix}` : '';
    const pathname = request.url.pathname;
    if (prefix && !(pathname.toLowerCase() === prefix.toLowerCase() || pathname.toLowerCase().startsWith(`${prefix.toLowerCase()}/`))) return undefined;
    const rest = pathname.slice(prefix.length);

    let pathMatched = false;
    for (const entry of this.routes) {
      const params = matchRoute(entry.route, rest);
      if (!params) continue;
      pathMatched = true;
      if (entry.methods && !entry.methods.includes(request.method.toUpperCase())) continue;
      if (!this.keys.allows(entry.authLevel, presentedKey(request), { functionName: entry.fn.name })) return { status: 401 };
      return this.invoke(entry.fn, request, params);
    }
    return pathMatched ? { status: 405 } : undefined;
  }

  private async invoke(fn: RegisteredFunction, request: WebRequest, params: Record<string, string>): Promise<WebResponse> {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const query: Record<string, string> = {};
    for (const [name, value] of request.url.searchParams) query[name] = query[name] === undefined ? value : `${query[name]},${value}`;

    const http = { method: request.method.toUpperCase(), url: request.url.toString(), headers, query, params, body: { bytes: new Uint8Array(request.body) } };
    const result = await this.host.run(fn, { trigger: { http }, triggerMetadata: {} });
    if (!result.ok) return { status: 500 };

    const outputName = Object.entries(fn.bindings).find(([, binding]) => binding.direction === 'out' && binding.type === 'http')?.[0];
    const encoded = outputName === '$return' || outputName === undefined ? result.returnValue : result.outputs.get(outputName);
    const response = encoded?.http as RpcHttpResponse | undefined;
    if (!response) return { status: 204 };
    return toWebResponse(response);
  }
}

function toWebResponse(response: RpcHttpResponse): WebResponse {
  const headers: Record<string, string | string[]> = { ...(response.headers ?? {}) };
  const cookies = (response.cookies ?? []).map((cookie) => {
    const parts = [`${cookie.name}=${cookie.value}`];
    if (cookie.domain) parts.push(`Domain=${cookie.domain}`);
    if (cookie.path) parts.push(`Path=${cookie.path}`);
    if (cookie.expires?.value) parts.push(`Expires=${new Date(Number(cookie.expires.value)).toUTCString()}`);
    if (cookie.maxAge) parts.push(`Max-Age=${cookie.maxAge}`);
    if (cookie.secure) parts.push('Secure');
    if (cookie.httpOnly) parts.push('HttpOnly');
    return parts.join('; ');
  });
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  const body = decodeTypedData(response.body as never);
  const bytes = Buffer.isBuffer(body) ? body : body === undefined || body === null ? Buffer.alloc(0) : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return { status: Number(response.statusCode ?? 200), headers, body: bytes };
}
