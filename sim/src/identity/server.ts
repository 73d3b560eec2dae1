import { randomBytes } from 'node:crypto';

import type { Logger } from '../../../src/observability/log';
import { type ListeningServer, Router, type SimRequest, type SimResponse, type TlsOptions, listen, unknownRoute } from '../azure/http';
import type { TokenAuthority } from './tokens';

/** The App Service managed-identity API version that @azure/msal-node 5.x sends. */
export const appServiceMsiApiVersion = '2019-08-01';

/** Path of the token endpoint; IDENTITY_ENDPOINT is the origin plus this path. */
export const identityTokenPath = '/msi/token';

/** A running identity simulator and the two values DefaultAzureCredential reads. */
export interface IdentitySimulator {
  /** Value for IDENTITY_ENDPOINT. */
  endpoint: string;
  /** Value for IDENTITY_HEADER; requests must echo it in X-IDENTITY-HEADER. */
  header: string;
  /** Every token request received, for tests that prove which credential ran. */
  requests: IdentityRequestRecord[];
  close(): Promise<void>;
}

/** One token request as the identity simulator saw it. */
export interface IdentityRequestRecord {
  resource: string;
  clientId?: string;
  at: string;
  status: number;
}

/**
 * Starts the App Service form of the managed-identity endpoint:
 * `GET <IDENTITY_ENDPOINT>?api-version=2019-08-01&resource=<uri>` with header
 * `X-IDENTITY-HEADER`, returning `{access_token, expires_on, resource,
 * token_type, client_id}` as App Service does. Tokens are signed by `authority`.
 */
export async function startIdentitySimulator(options: {
  host: string;
  port: number;
  tls: TlsOptions;
  authority: TokenAuthority;
  log: Logger;
}): Promise<IdentitySimulator> {
  const header = randomBytes(24).toString('hex');
  const requests: IdentityRequestRecord[] = [];
  const router = new Router().add('GET', identityTokenPath, (request) => {
    const response = issueToken(request, header, options.authority);
    requests.push({
      resource: request.url.searchParams.get('resource') ?? '',
      ...(request.url.searchParams.get('client_id') ? { clientId: request.url.searchParams.get('client_id') ?? '' } : {}),
      at: new Date().toISOString(),
      status: response.status,
    });
    return response;
  });
  const server: ListeningServer = await listen({ name: 'identity', host: options.host, port: options.port, tls: options.tls, router, fallback: unknownRoute, log: options.log });
  return { endpoint: `${server.origin}${identityTokenPath}`, header, requests, close: () => server.close() };
}

function issueToken(request: SimRequest, header: string, authority: TokenAuthority): SimResponse {
  const query = request.url.searchParams;
  if (request.headers['x-identity-header'] !== header) {
    return identityError(401, 'The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER. Send the value of IDENTITY_HEADER.');
  }
  const apiVersion = query.get('api-version');
  if (apiVersion !== appServiceMsiApiVersion) {
    return identityError(400, `api-version "${apiVersion ?? ''}" is not supported; send api-version=${appServiceMsiApiVersion}.`);
  }
  const resource = query.get('resource');
  if (!resource) return identityError(400, 'The resource query parameter is missing; send the audience URI, for example https://management.azure.com.');

  const principal = authority.principal;
  const userAssigned = query.get('client_id') ?? query.get('object_id') ?? query.get('mi_res_id');
  if (userAssigned !== null && userAssigned !== principal.clientId && userAssigned !== principal.objectId) {
    return identityError(400, `No managed identity "${userAssigned}" is assigned to this app; the simulator has client id ${principal.clientId}.`);
  }

  const { token, expiresOn } = authority.issue(resource);
  // App Service returns expires_on as a string of Unix seconds; msal-node subtracts the current time from it.
  return {
    status: 200,
    json: { access_token: token, expires_on: String(expiresOn), resource, token_type: 'Bearer', client_id: principal.clientId },
  };
}

/** Builds App Service's identity error body, `{statusCode, message}`, whose `message` msal-node reads. */
function identityError(status: number, message: string): SimResponse {
  return { status, json: { statusCode: status, message, correlationId: randomBytes(8).toString('hex') } };
}
