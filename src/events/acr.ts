import type { ImageRef } from '../contracts/release';
import { ignored, type IntakeOutcome, rejectedField } from '../intake/outcome';
import type { EventEnvelope } from './envelope';
import { field, isKeySafe, isObject, objectField, textField } from './fields';

export const imagePushedType = 'Microsoft.ContainerRegistry.ImagePushed';
const acrPrefix = 'microsoft.containerregistry.';
const digestPattern = /^sha256:[0-9a-f]{64}$/;
const hostPattern = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$/i;

/** Manifest media types of container images; anything else (Helm charts, signatures) starts nothing. */
const imageMediaTypes = new Set([
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
]);

/** An image push read from an ACR event. */
export interface ImagePush {
  /** Registry login server from `data.request.host`, when the event carries it. */
  registry?: string;
  /** Registry resource name from the event's ARM id, used when the host is missing. */
  registryName?: string;
  repository: string;
  digest: string;
  tag?: string;
}

export type ImageEventResult = { kind: 'push'; push: ImagePush } | { kind: 'outcome'; outcome: IntakeOutcome };

const outcome = (value: IntakeOutcome): ImageEventResult => ({ kind: 'outcome', outcome: value });

/**
 * Reads an ACR ImagePushed event. Deletions and Helm chart events come back
 * as ignored; a digest that is not `sha256:` and 64 hex digits is rejected,
 * because releases address images by digest only.
 */
export function parseContainerRegistryEvent(event: EventEnvelope): ImageEventResult {
  const type = event.type.toLowerCase();
  if (type !== imagePushedType.toLowerCase()) {
    return outcome(ignored(type.startsWith(acrPrefix) ? `container registry event type ${event.type} does not start a release` : `event type ${event.type} is not a container registry event`));
  }
  const target = isObject(event.data) ? objectField(event.data, 'target') : undefined;
  if (!isObject(event.data) || target === undefined) {
    return outcome(rejectedField('data.target', 'is missing', 'an object with digest, repository and tag, as ACR sends'));
  }

  const digest = field(target, 'digest');
  if (typeof digest !== 'string' || !digestPattern.test(digest)) {
    return outcome(rejectedField('data.target.digest', `is ${JSON.stringify(digest) ?? 'missing'}`, '"sha256:" followed by 64 lowercase hex digits'));
  }
  const mediaType = textField(target, 'mediaType');
  if (mediaType !== undefined && !imageMediaTypes.has(mediaType.toLowerCase())) {
    return outcome(ignored(`media type ${mediaType} is not a container image manifest`));
  }
  const subject = /^([^:@]+)(?::([^:@]+))?$/.exec(event.subject ?? '');
  const repository = textField(target, 'repository') ?? subject?.[1];
  if (repository === undefined || !isKeySafe(repository)) {
    return outcome(rejectedField('data.target.repository', `is ${JSON.stringify(repository) ?? 'missing'}`, 'the repository name, for example "samples/nginx"'));
  }

  const push: ImagePush = { repository, digest };
  const tag = textField(target, 'tag') ?? (subject?.[1] === repository ? subject[2] : undefined);
  if (tag !== undefined && isKeySafe(tag)) push.tag = tag;
  const request = objectField(event.data, 'request');
  const host = request ? textField(request, 'host') : undefined;
  if (host !== undefined && hostPattern.test(host)) push.registry = host.toLowerCase();
  const registryName = /\/registries\/([^/]+)$/i.exec(event.source ?? '')?.[1];
  if (registryName !== undefined) push.registryName = registryName.toLowerCase();
  if (push.registry === undefined && push.registryName === undefined) {
    return outcome(rejectedField('data.request.host', 'is missing and the topic names no registry', 'the registry login server, for example "contosocr.azurecr.io"'));
  }
  return { kind: 'push', push };
}

/** Image reference of a push once the registry is known. */
export function imageOf(push: ImagePush, registry: string): ImageRef {
  const image: ImageRef = { registry, repository: push.repository, digest: push.digest };
  if (push.tag !== undefined) image.tag = push.tag;
  return image;
}
