import { ApiException, KubeConfig, KubernetesObjectApi, PatchStrategy } from './kubeModule';
import type { KubernetesListObject, KubernetesObject } from './kubeModule';

import type { Settings } from '../config/settings';
import { fieldManager } from '../contracts/target';
import { PermanentError, TransientError } from '../errors';
import type { Logger } from '../observability/log';
import { loadAksEntraKubeConfig } from './kubeAks';

/** Identity of one Kubernetes object, enough to build its URL. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

/** Options of every write. */
export interface WriteOptions {
  /** When true, the API server validates the write without storing it (`dryRun=All`). */
  dryRun?: boolean;
}

/** Options of the 409 retry loop. */
export interface ConflictRetryOptions {
  /** Give up after this many milliseconds and throw TransientError. */
  deadlineMs?: number;
  /** First wait between attempts in milliseconds; it doubles up to 2 s. */
  initialDelayMs?: number;
  /** Injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
}

const defaultConflictDeadlineMs = 30_000;

/** Describes an object as `Kind namespace/name` for messages. */
export function describeRef(ref: ObjectRef): string {
  return ref.namespace ? `${ref.kind} ${ref.namespace}/${ref.name}` : `${ref.kind} ${ref.name}`;
}

/** HTTP status of a Kubernetes API error, or undefined for other errors. */
export function statusOf(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  return undefined;
}

/** Extracts the message of a Kubernetes Status body, without headers or the whole body. */
function statusMessage(error: ApiException<unknown>): string {
  const body = error.body;
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.slice(0, 300);
    }
  }
  if (parsed && typeof parsed === 'object' && 'message' in parsed && typeof parsed.message === 'string') {
    return parsed.message;
  }
  return `HTTP ${error.code}`;
}

const transientStatuses = new Set([408, 409, 425, 429, 500, 502, 503, 504]);
const transientCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

function networkCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth += 1) {
    const code = (current as Error & { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = current.cause;
  }
  return undefined;
}

/**
 * Wraps an error from the Kubernetes API in TransientError (throttling, 409,
 * 5xx, network faults: retry) or PermanentError (400, 401, 403, 404, 422: a
 * person must fix the request, the RBAC or the cluster). The message names
 * the operation and the object and stays short; the original is the cause.
 */
export function classifyKubeError(error: unknown, operation: string, ref: ObjectRef): TransientError | PermanentError {
  if (error instanceof TransientError || error instanceof PermanentError) return error;
  const subject = `${operation} ${describeRef(ref)}`;
  if (error instanceof ApiException) {
    const status = error.code;
    const detail = statusMessage(error);
    if (transientStatuses.has(status)) return new TransientError(`${subject} failed with HTTP ${status}: ${detail}`, { cause: error });
    const hint = status === 401 || status === 403 ? '; check the identity and its Kubernetes RBAC role' : '';
    return new PermanentError(`${subject} failed with HTTP ${status}: ${detail}${hint}`, { cause: error });
  }
  const code = networkCode(error);
  if (code !== undefined && transientCodes.has(code)) {
    return new TransientError(`${subject} failed: API server unreachable (${code})`, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  if (/fetch failed|socket hang up|network/i.test(message)) {
    return new TransientError(`${subject} failed: ${message}`, { cause: error });
  }
  return new PermanentError(`${subject} failed: ${message}`, { cause: error });
}

/**
 * Runs `attempt` again while it fails with HTTP 409 Conflict, which means that
 * another writer changed the object between our read and our write. Other
 * errors pass through. Throws TransientError when the deadline passes.
 */
export async function retryOnConflict<T>(operation: string, attempt: () => Promise<T>, options: ConflictRetryOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.deadlineMs ?? defaultConflictDeadlineMs);
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  let delay = options.initialDelayMs ?? 100;
  let conflicts = 0;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (!isConflict(error)) throw error;
      conflicts += 1;
      if (Date.now() + delay > deadline) {
        throw new TransientError(`${operation} still conflicts after ${conflicts} attempts: another writer keeps changing the object`, { cause: error });
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 2000);
    }
  }
}

function isConflict(error: unknown): boolean {
  if (statusOf(error) === 409) return true;
  return error instanceof TransientError && statusOf(error.cause) === 409;
}

/**
 * Thin typed client over the Kubernetes API for the release activities. Every
 * write names its content type, carries the pipeline's field manager, and in
 * dry-run mode is sent with `dryRun=All` so that the API server validates it
 * without storing it.
 */
export class KubeClient {
  private readonly api: KubernetesObjectApi;

  constructor(
    readonly config: KubeConfig,
    private readonly options: { dryRun: boolean; log?: Logger } = { dryRun: false },
  ) {
    this.api = KubernetesObjectApi.makeApiClient(config);
  }

  /** Reads an object; returns undefined when it does not exist. */
  async read<T extends KubernetesObject>(ref: ObjectRef): Promise<T | undefined> {
    try {
      return await this.api.read<T>(header(ref));
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw classifyKubeError(error, 'read', ref);
    }
  }

  /** Lists objects of one kind, optionally in one namespace and by label or field selector. */
  async list<T extends KubernetesObject>(
    query: { apiVersion: string; kind: string; namespace?: string; labelSelector?: string; fieldSelector?: string },
  ): Promise<T[]> {
    try {
      const result: KubernetesListObject<T> = await this.api.list<T>(
        query.apiVersion, query.kind, query.namespace, undefined, undefined, undefined, query.fieldSelector, query.labelSelector,
      );
      return result.items;
    } catch (error) {
      throw classifyKubeError(error, 'list', { apiVersion: query.apiVersion, kind: query.kind, namespace: query.namespace, name: query.labelSelector ?? '*' });
    }
  }

  /**
   * Server-side applies `object` (content type application/apply-patch+yaml)
   * with the pipeline's field manager. Conflicts with other managers are
   * forced, because the fields in `object` are the ones the pipeline owns.
   */
  async apply<T extends KubernetesObject>(object: T, options: WriteOptions = {}): Promise<T> {
    const ref = refOf(object);
    this.logWrite('apply', ref);
    try {
      return await this.api.patch<T>(object, undefined, this.dryRun(options), fieldManager, true, PatchStrategy.ServerSideApply);
    } catch (error) {
      throw classifyKubeError(error, 'apply', ref);
    }
  }

  /**
   * Sends a JSON merge patch (application/merge-patch+json). Include
   * `metadata.resourceVersion` in `patch` to make the write fail with 409 when
   * the object changed since it was read.
   */
  async mergePatch<T extends KubernetesObject>(ref: ObjectRef, patch: Record<string, unknown>, options: WriteOptions = {}): Promise<T> {
    return this.patch<T>(ref, patch, PatchStrategy.MergePatch, 'merge-patch', options);
  }

  /**
   * Sends a strategic merge patch (application/strategic-merge-patch+json),
   * which merges lists such as containers by their key, for built-in kinds only.
   */
  async strategicMergePatch<T extends KubernetesObject>(ref: ObjectRef, patch: Record<string, unknown>, options: WriteOptions = {}): Promise<T> {
    return this.patch<T>(ref, patch, PatchStrategy.StrategicMergePatch, 'strategic-merge-patch', options);
  }

  private async patch<T extends KubernetesObject>(ref: ObjectRef, patch: Record<string, unknown>, strategy: PatchStrategy, operation: string, options: WriteOptions): Promise<T> {
    this.logWrite(operation, ref);
    const body = { ...patch, apiVersion: ref.apiVersion, kind: ref.kind, metadata: { ...asRecord(patch.metadata), name: ref.name, namespace: ref.namespace } };
    try {
      return await this.api.patch<T>(body as unknown as T, undefined, this.dryRun(options), fieldManager, undefined, strategy);
    } catch (error) {
      throw classifyKubeError(error, operation, ref);
    }
  }

  /** Deletes an object with background propagation; returns false when it did not exist. */
  async delete(ref: ObjectRef, options: WriteOptions = {}): Promise<boolean> {
    this.logWrite('delete', ref);
    try {
      await this.api.delete(header(ref), undefined, this.dryRun(options), undefined, undefined, 'Background');
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw classifyKubeError(error, 'delete', ref);
    }
  }

  private dryRun(options: WriteOptions): string | undefined {
    return options.dryRun || this.options.dryRun ? 'All' : undefined;
  }

  private logWrite(operation: string, ref: ObjectRef): void {
    this.options.log?.debug('kubernetes write', { operation, kind: ref.kind, namespace: ref.namespace, name: ref.name, dryRun: this.options.dryRun });
  }
}

function header(ref: ObjectRef): KubernetesObject & { metadata: { name: string; namespace?: string } } {
  const metadata: { name: string; namespace?: string } = { name: ref.name };
  if (ref.namespace !== undefined) metadata.namespace = ref.namespace;
  return { apiVersion: ref.apiVersion, kind: ref.kind, metadata };
}

function asRecord(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
}

/** Builds the reference of an object built in code; throws when it lacks kind or name. */
export function refOf(object: KubernetesObject): ObjectRef {
  const name = object.metadata?.name;
  if (!object.apiVersion || !object.kind || !name) {
    throw new PermanentError(`object is missing apiVersion, kind or metadata.name: ${JSON.stringify({ apiVersion: object.apiVersion, kind: object.kind, name })}`);
  }
  const ref: ObjectRef = { apiVersion: object.apiVersion, kind: object.kind, name };
  if (object.metadata?.namespace !== undefined) ref.namespace = object.metadata.namespace;
  return ref;
}

/** Loads a kubeconfig file; throws PermanentError that names the path when it cannot be read. */
export function loadKubeConfigFile(path: string): KubeConfig {
  const config = new KubeConfig();
  try {
    config.loadFromFile(path);
  } catch (error) {
    throw new PermanentError(`cannot load kubeconfig ${path}: ${(error as Error).message}. Set KUBECONFIG_PATH to a readable kubeconfig file.`, { cause: error });
  }
  if (!config.getCurrentCluster()) {
    throw new PermanentError(`kubeconfig ${path} has no current context with a cluster: set current-context in the file.`);
  }
  return config;
}

/**
 * Builds the client from the app settings: a kubeconfig file when
 * KUBE_AUTH_MODE is kubeconfig, else the AKS cluster's user credential with
 * managed-identity bearer tokens (see kubeAks.ts).
 */
export async function createKubeClient(
  settings: Pick<Settings, 'KUBE_AUTH_MODE' | 'KUBECONFIG_PATH' | 'DRY_RUN' | 'AZURE_SUBSCRIPTION_ID' | 'AZURE_RESOURCE_MANAGER_ENDPOINT' | 'AKS_RESOURCE_GROUP' | 'AKS_CLUSTER_NAME'>,
  log?: Logger,
): Promise<KubeClient> {
  if (settings.KUBE_AUTH_MODE === 'kubeconfig') {
    if (!settings.KUBECONFIG_PATH) throw new PermanentError('KUBECONFIG_PATH is missing: set it to a kubeconfig file because KUBE_AUTH_MODE is kubeconfig');
    return new KubeClient(loadKubeConfigFile(settings.KUBECONFIG_PATH), { dryRun: settings.DRY_RUN, log });
  }
  const config = await loadAksEntraKubeConfig({
    subscriptionId: settings.AZURE_SUBSCRIPTION_ID,
    resourceManagerEndpoint: settings.AZURE_RESOURCE_MANAGER_ENDPOINT,
    resourceGroup: settings.AKS_RESOURCE_GROUP,
    clusterName: settings.AKS_CLUSTER_NAME,
  });
  return new KubeClient(config, { dryRun: settings.DRY_RUN, log });
}
