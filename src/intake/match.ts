import type { EndpointPolicy, ReleasePolicy } from '../config/policy';
import type { ModelRef } from '../contracts/release';
import type { ImagePush } from '../events/acr';

/** Endpoints whose policy lists the model, and whose workspace matches when the trigger names one. */
export function endpointsForModel(policy: ReleasePolicy, model: ModelRef): EndpointPolicy[] {
  return policy.endpoints.filter((endpoint) =>
    endpoint.triggers.models.some((trigger) => trigger.name === model.name && workspaceMatches(trigger.workspace, model.workspaceId)),
  );
}

function workspaceMatches(wanted: string | undefined, workspaceId: string | undefined): boolean {
  if (wanted === undefined) return true;
  if (workspaceId === undefined) return false;
  const id = workspaceId.toLowerCase();
  const name = wanted.toLowerCase();
  return id === name || id.endsWith(`/workspaces/${name}`);
}

/** An endpoint that takes images from the pushed repository, with the registry as its policy spells it. */
export interface ImageMatch {
  endpoint: EndpointPolicy;
  registry: string;
}

/**
 * Endpoints whose image triggers name the pushed registry and repository.
 * The registry matches by login server, or by registry name when the event
 * carries no login server (`contosocr` matches `contosocr.azurecr.io`).
 */
export function endpointsForImage(policy: ReleasePolicy, push: ImagePush): ImageMatch[] {
  const matches: ImageMatch[] = [];
  for (const endpoint of policy.endpoints) {
    const trigger = endpoint.triggers.images.find((t) => t.repository.toLowerCase() === push.repository.toLowerCase() && registryMatches(t.registry, push));
    if (trigger) matches.push({ endpoint, registry: trigger.registry.toLowerCase() });
  }
  return matches;
}

function registryMatches(policyRegistry: string, push: ImagePush): boolean {
  const registry = policyRegistry.toLowerCase();
  if (push.registry !== undefined) return registry === push.registry;
  return push.registryName !== undefined && (registry === push.registryName || registry.startsWith(`${push.registryName}.`));
}

/**
 * Endpoints that bake images into the pushed repository. A push there may be
 * the pipeline's own build, which must join its release instead of starting one.
 */
export function endpointsBuildingInto(policy: ReleasePolicy, push: ImagePush): EndpointPolicy[] {
  const repository = push.repository.toLowerCase();
  return policy.endpoints.filter((endpoint) => {
    if (endpoint.build?.mode !== 'bake') return false;
    const target = endpoint.build.repository.toLowerCase();
    return target === repository || (push.registry !== undefined && target === `${push.registry}/${repository}`);
  });
}

/** A Git change as the providers report it. */
export interface GitChange {
  provider: 'github' | 'azure-devops';
  /** `owner/name` on GitHub, `project/repository` on Azure DevOps. */
  repository: string;
  ref: string;
  /** True for branch and tag deletions. */
  deleted: boolean;
  /** True for a published GitHub release rather than a push. */
  release?: boolean;
}

export type GitDecision = { endpoint: EndpointPolicy; start: true } | { endpoint: EndpointPolicy; start: false; reason: string };

/** Names that an Azure DevOps repository may go by in the policy: `project/repository` or the bare repository name. */
function repositoryMatches(change: GitChange, policyRepository: string): boolean {
  const wanted = policyRepository.toLowerCase();
  const actual = change.repository.toLowerCase();
  if (wanted === actual) return true;
  return change.provider === 'azure-devops' && actual.split('/').pop() === wanted;
}

/**
 * Decides per endpoint whether a Git change starts a release: pushes to the
 * listed branches do; tag pushes and published releases only where the
 * trigger enables them; deletions never do.
 */
export function decideGitChange(policy: ReleasePolicy, change: GitChange): GitDecision[] {
  const decisions: GitDecision[] = [];
  for (const endpoint of policy.endpoints) {
    const trigger = endpoint.triggers.git.find((t) => t.provider === change.provider && repositoryMatches(change, t.repository));
    if (!trigger) continue;
    decisions.push(decide(endpoint, trigger, change));
  }
  return decisions;
}

function decide(endpoint: EndpointPolicy, trigger: EndpointPolicy['triggers']['git'][number], change: GitChange): GitDecision {
  const skip = (reason: string): GitDecision => ({ endpoint, start: false, reason });
  if (change.deleted) return skip(`${change.ref} was deleted; deletions never start a release`);
  if (change.release) {
    return trigger.releases ? { endpoint, start: true } : skip('published releases do not start releases for this endpoint (policy triggers.git[].releases is false)');
  }
  const branch = /^refs\/heads\/(.+)$/.exec(change.ref)?.[1];
  if (branch !== undefined) {
    return trigger.branches.includes(branch) ? { endpoint, start: true } : skip(`branch ${branch} is not one of the policy's branches (${trigger.branches.join(', ')})`);
  }
  if (change.ref.startsWith('refs/tags/')) {
    return trigger.tags ? { endpoint, start: true } : skip('tag pushes do not start releases for this endpoint (policy triggers.git[].tags is false)');
  }
  return skip(`ref ${change.ref} is neither a branch nor a tag`);
}
