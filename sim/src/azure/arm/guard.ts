import { TokenRejectedError, type TokenAuthority, type VerifiedToken } from '../../identity/tokens';
import { type Handler, type SimRequest, type SimResponse, armError } from '../http';

/** Audiences ARM accepts; management SDK clients ask for either, or for the endpoint they were given. */
export const armAudiences = ['https://management.azure.com', 'https://management.core.windows.net'];

const apiVersionForm = /^\d{4}-\d{2}-\d{2}(-preview)?$/;
const maxWriteRecords = 1000;

/** A write the app made through ARM, kept (the newest 1000) for tests and the control API. */
export interface ArmWriteRecord {
  method: string;
  path: string;
  apiVersion: string;
  body: unknown;
  status: number;
  at: string;
}

/** Settings of the checks ARM applies to every request before the resource provider handles it. */
export interface ArmGuardOptions {
  subscriptionId: string;
  authority: TokenAuthority;
  /** Extra accepted audiences, such as the simulator's own origin. */
  audiences: () => readonly string[];
  writes: ArmWriteRecord[];
}

/** A handler that runs after authentication, with the caller's token. */
export type ArmHandler = (request: SimRequest, caller: VerifiedToken) => Promise<SimResponse> | SimResponse;

/**
 * Wraps a resource handler with ARM's front-door checks, in ARM's order:
 * bearer token (401), api-version (400), subscription (404). Writes are logged.
 */
export function armGuard(options: ArmGuardOptions, handler: ArmHandler): Handler {
  return async (request) => {
    const auth = authenticate(request, options);
    if ('status' in auth) return auth;

    const apiVersion = request.url.searchParams.get('api-version');
    if (!apiVersion) {
      return armError(400, 'MissingApiVersionParameter', 'The api-version query parameter (?api-version=) is required for all requests.');
    }
    if (!apiVersionForm.test(apiVersion)) {
      return armError(400, 'InvalidApiVersionParameter', `The api-version '${apiVersion}' is invalid. The supported versions have the form YYYY-MM-DD or YYYY-MM-DD-preview.`);
    }
    const subscription = request.params.subscriptionId;
    if (subscription !== undefined && subscription.toLowerCase() !== options.subscriptionId.toLowerCase()) {
      return armError(404, 'SubscriptionNotFound', `The subscription '${subscription}' could not be found. The simulator serves subscription ${options.subscriptionId}.`);
    }

    const response = await handler(request, auth);
    if (request.method !== 'GET') {
      // A long `npm start` session writes for hours; keep the newest records only.
      if (options.writes.length >= maxWriteRecords) options.writes.shift();
      options.writes.push({
        method: request.method,
        path: request.url.pathname,
        apiVersion,
        body: request.body.length > 0 ? safeJson(request.body) : undefined,
        status: response.status,
        at: new Date().toISOString(),
      });
    }
    return response;
  };
}

function authenticate(request: SimRequest, options: ArmGuardOptions): VerifiedToken | SimResponse {
  const challenge = { 'www-authenticate': 'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", error_description="The authentication failed because of missing \'Authorization\' header."' };
  const header = request.headers.authorization;
  if (!header) {
    return armError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.", challenge);
  }
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match?.[1]) {
    return armError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is not of the form 'Bearer <token>'.", challenge);
  }
  try {
    return options.authority.verify(match[1], [...armAudiences, ...options.audiences()]);
  } catch (error) {
    if (error instanceof TokenRejectedError) return armError(401, error.code, error.message);
    throw error;
  }
}

function safeJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return `<${body.length} bytes, not JSON>`;
  }
}
