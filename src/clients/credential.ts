import type { TokenCredential } from '@azure/identity';
import { DefaultAzureCredential } from '@azure/identity';

import type { Settings } from '../config/settings';

let shared: TokenCredential | undefined;

/**
 * Returns the app's one DefaultAzureCredential. In Azure it is the managed
 * identity; locally IDENTITY_ENDPOINT and IDENTITY_HEADER point it at the sim's
 * loopback identity server, so no request leaves the machine.
 */
export function azureCredential(): TokenCredential {
  shared ??= new DefaultAzureCredential();
  return shared;
}

/** Replaces the shared credential; tests pass one that talks to their own token server. */
export function setAzureCredentialForTests(credential: TokenCredential | undefined): void {
  shared = credential;
}

/** Options of every ARM management client: the configured Resource Manager endpoint and its token scope. */
export function armClientOptions(settings: Pick<Settings, 'AZURE_RESOURCE_MANAGER_ENDPOINT'>): { endpoint: string; credentialScopes: string[] } {
  const endpoint = settings.AZURE_RESOURCE_MANAGER_ENDPOINT.replace(/\/+$/, '');
  // Sovereign clouds and the sim use their endpoint as audience; the public cloud's audience is management.azure.com.
  const audience = /\.management\.azure\.com$|^https:\/\/management\.azure\.com$/.test(endpoint) ? 'https://management.azure.com' : endpoint;
  return { endpoint, credentialScopes: [`${audience}/.default`] };
}
