import type https from 'node:https';

import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { ContainerServiceClient } from '@azure/arm-containerservice';
import { DefaultAzureCredential } from '@azure/identity';
import { KubeConfig } from './kubeModule';
import type { Authenticator, Cluster, User } from './kubeModule';

import { PermanentError, TransientError } from '../errors';

/**
 * Scope of the AKS Entra ID server application. Its application id is the
 * same in every tenant, and AKS API servers with Entra ID integration accept
 * tokens issued for it.
 */
export const aksEntraServerScope = '6dae42f8-4368-4678-94ff-3960e28e3630/.default';

/** Auth provider name written into the in-memory kubeconfig user; the authenticator below claims it. */
export const aksEntraAuthProvider = 'aks-entra-managed-identity';

/** Refresh this long before a token expires, so that no request carries a token that expires in flight. */
const defaultRefreshMarginMs = 5 * 60_000;

/**
 * Caches a bearer token and fetches a new one before it expires. Concurrent
 * callers share one refresh. Fails with TransientError when the credential
 * returns no token, because the identity endpoint may recover.
 */
export class RefreshingToken {
  private current: AccessToken | undefined;
  private pending: Promise<AccessToken> | undefined;

  constructor(
    private readonly credential: TokenCredential,
    private readonly scope: string,
    private readonly options: { refreshMarginMs?: number; now?: () => number } = {},
  ) {}

  /** Returns a token valid for at least the refresh margin. */
  async get(): Promise<string> {
    if (this.current && !this.isDue(this.current)) return this.current.token;
    this.pending ??= this.fetch().finally(() => {
      this.pending = undefined;
    });
    this.current = await this.pending;
    return this.current.token;
  }

  private isDue(token: AccessToken): boolean {
    const now = (this.options.now ?? Date.now)();
    const margin = this.options.refreshMarginMs ?? defaultRefreshMarginMs;
    if (token.refreshAfterTimestamp !== undefined && now >= token.refreshAfterTimestamp) return true;
    return now >= token.expiresOnTimestamp - margin;
  }

  private async fetch(): Promise<AccessToken> {
    let token: AccessToken | null;
    try {
      token = await this.credential.getToken(this.scope);
    } catch (error) {
      throw new TransientError(`cannot get a token for scope ${this.scope}: ${(error as Error).message}`, { cause: error });
    }
    if (!token) throw new TransientError(`credential returned no token for scope ${this.scope}`);
    return token;
  }
}

/** client-node authenticator that puts a managed-identity bearer token on every request. */
export class AksEntraAuthenticator implements Authenticator {
  constructor(private readonly token: RefreshingToken) {}

  isAuthProvider(user: User): boolean {
    return (user.authProvider as { name?: unknown } | undefined)?.name === aksEntraAuthProvider;
  }

  async applyAuthentication(_user: User, opts: https.RequestOptions): Promise<void> {
    const token = await this.token.get();
    opts.headers = { ...(opts.headers as Record<string, string> | undefined), Authorization: `Bearer ${token}` };
  }
}

/**
 * Reads the API server address and CA from a kubeconfig returned by
 * listClusterUserCredentials. The user entry of that kubeconfig is ignored:
 * it names kubelogin, which a Functions sandbox does not have.
 */
export function clusterFromUserCredential(kubeconfigText: string, clusterName: string): Cluster {
  const parsed = new KubeConfig();
  try {
    parsed.loadFromString(kubeconfigText);
  } catch (error) {
    throw new PermanentError(`user credential of AKS cluster ${clusterName} is not a valid kubeconfig: ${(error as Error).message}`, { cause: error });
  }
  const cluster = parsed.getCurrentCluster() ?? parsed.getClusters()[0];
  if (!cluster?.server) {
    throw new PermanentError(`user credential of AKS cluster ${clusterName} names no API server: check that the cluster exists and is running`);
  }
  if (!cluster.caData && !cluster.caFile) {
    throw new PermanentError(`user credential of AKS cluster ${clusterName} has no certificate-authority-data for ${cluster.server}`);
  }
  return cluster;
}

/** Builds an in-memory kubeconfig for `cluster` whose requests carry tokens from `token`. */
export function kubeConfigWithToken(cluster: Cluster, token: RefreshingToken): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ ...cluster, name: 'aks' }],
    users: [{ name: 'managed-identity', authProvider: { name: aksEntraAuthProvider, config: {} } }],
    contexts: [{ name: 'aks', cluster: 'aks', user: 'managed-identity' }],
    currentContext: 'aks',
  });
  config.addAuthenticator(new AksEntraAuthenticator(token));
  return config;
}

/** The one ARM call this module needs; ContainerServiceClient.managedClusters satisfies it. */
export interface UserCredentialSource {
  listClusterUserCredentials(resourceGroup: string, clusterName: string): Promise<{ kubeconfigs?: { name?: string; value?: Uint8Array }[] }>;
}

export interface AksEntraOptions {
  subscriptionId: string;
  resourceManagerEndpoint: string;
  resourceGroup: string;
  clusterName: string;
  /** Defaults to DefaultAzureCredential (the app's managed identity in Azure). */
  credential?: TokenCredential;
  /** Defaults to ContainerServiceClient.managedClusters on resourceManagerEndpoint. */
  credentialSource?: UserCredentialSource;
}

/**
 * Builds a KubeConfig for an AKS cluster with Entra ID integration: the API
 * server address and CA come from the cluster's user credential, and bearer
 * tokens for the AKS server application come from the managed identity and
 * are refreshed before they expire.
 */
export async function loadAksEntraKubeConfig(options: AksEntraOptions): Promise<KubeConfig> {
  const credential = options.credential ?? new DefaultAzureCredential();
  const source = options.credentialSource ?? new ContainerServiceClient(credential, options.subscriptionId, { endpoint: options.resourceManagerEndpoint }).managedClusters;
  const where = `AKS cluster ${options.resourceGroup}/${options.clusterName}`;

  let result: Awaited<ReturnType<UserCredentialSource['listClusterUserCredentials']>>;
  try {
    result = await source.listClusterUserCredentials(options.resourceGroup, options.clusterName);
  } catch (error) {
    const status = (error as { statusCode?: number }).statusCode;
    const message = `cannot list user credentials of ${where}${status ? ` (HTTP ${status})` : ''}: ${(error as Error).message}`;
    if (status === 401 || status === 403 || status === 404) {
      throw new PermanentError(`${message}. Give the app's identity the role "Azure Kubernetes Service Cluster User Role" on the cluster and check AKS_RESOURCE_GROUP and AKS_CLUSTER_NAME.`, { cause: error });
    }
    throw new TransientError(message, { cause: error });
  }

  const value = result.kubeconfigs?.[0]?.value;
  if (!value || value.length === 0) throw new PermanentError(`${where} returned no user kubeconfig`);
  const cluster = clusterFromUserCredential(new TextDecoder().decode(value), options.clusterName);
  return kubeConfigWithToken(cluster, new RefreshingToken(credential, aksEntraServerScope));
}
