import { createHash } from 'node:crypto';

/** Source of a release request. */
export type ReleaseSource = 'azureml' | 'acr' | 'github' | 'azure-devops' | 'manual';

/** A model version in an Azure ML workspace or registry. */
export interface ModelRef {
  name: string;
  /** Azure ML versions are strings, even when an event carries a number. */
  version: string;
  /** ARM id of the workspace that raised the event, when known. */
  workspaceId?: string;
}

/** A container image, always addressed by digest. */
export interface ImageRef {
  /** Login server, for example `contosocr.azurecr.io`. */
  registry: string;
  repository: string;
  /** `sha256:` followed by 64 lowercase hex digits. */
  digest: string;
  /** The tag the push carried, for display only; releases never deploy by tag. */
  tag?: string;
}

/** A commit in a Git repository. */
export interface GitRef {
  /** `owner/name` on GitHub, `project/repository` on Azure DevOps. */
  repository: string;
  /** Full ref, for example `refs/heads/main`. */
  ref: string;
  commit: string;
}

/** Person, service or event that caused the request, recorded in the audit trail. */
export interface Actor {
  kind: 'event' | 'webhook' | 'user' | 'function-key';
  /** Principal name, user login or event source; never a secret. */
  id: string;
  displayName?: string;
}

/**
 * The normalised request that every trigger produces. It carries ids and small
 * summaries only, never a whole webhook payload, because it becomes orchestration
 * input and so lives in the history of the instance.
 */
export interface ReleaseRequest {
  schemaVersion: 1;
  releaseKey: string;
  instanceId: string;
  source: ReleaseSource;
  /** Name of the target endpoint in the release policy. */
  endpoint: string;
  model?: ModelRef;
  image?: ImageRef;
  git?: GitRef;
  causedBy: Actor;
  /** Event id, webhook delivery id, or a generated id for manual requests. */
  deliveryId: string;
  /** ISO 8601 time at which the app received the event. */
  receivedAt: string;
}

/** Subject of a release request, without the delivery details. */
export type ReleaseSubject = Pick<ReleaseRequest, 'source' | 'endpoint' | 'model' | 'image' | 'git'>;

const digestPattern = /^sha256:[0-9a-f]{64}$/;

/**
 * Computes the release key: the identity of a release, the same for every
 * redelivery of the event that caused it. Images are keyed by registry,
 * repository and digest, so a push by tag and a push by digest of the same
 * image give one key. Throws when the subject names nothing to release.
 */
export function releaseKeyOf(subject: ReleaseSubject): string {
  const endpoint = subject.endpoint.toLowerCase();
  if (subject.image) {
    const { registry, repository, digest } = subject.image;
    if (!digestPattern.test(digest)) {
      throw new Error(`image digest "${digest}" is invalid: expected sha256: and 64 lowercase hex digits`);
    }
    return `image|${endpoint}|${registry.toLowerCase()}/${repository.toLowerCase()}@${digest}`;
  }
  if (subject.model) {
    return `model|${endpoint}|${subject.model.name}|${subject.model.version}`;
  }
  if (subject.git) {
    return `git|${endpoint}|${subject.git.repository.toLowerCase()}|${subject.git.commit.toLowerCase()}`;
  }
  throw new Error('release subject is missing: expected a model, an image or a Git commit');
}

/**
 * Derives the orchestration instance id from a release key. The id starts with
 * the endpoint so that operators can read it, and ends with a hash of the key
 * so that a redelivered event finds the same instance. Durable instance ids may
 * not contain `/ \ # ?`, so the endpoint part keeps only `[a-z0-9-]`.
 */
export function instanceIdOf(releaseKey: string, endpoint: string): string {
  const slug = endpoint.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'endpoint';
  const hash = createHash('sha256').update(releaseKey).digest('hex').slice(0, 24);
  return `rel-${slug}-${hash}`;
}

/** Entity name of the per-endpoint release ledger; the entity key is the endpoint name. */
export const endpointEntityName = 'endpointLedger';

/** Name of the release orchestration that intake starts, one instance per release key. */
export const releaseOrchestratorName = 'releaseOrchestrator';
