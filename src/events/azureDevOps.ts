import { z } from 'zod';

import type { Actor } from '../contracts/release';
import type { GitParseResult } from './github';
import { zodProblems } from './zodProblems';

const objectId = z.string().regex(/^([0-9a-f]{40}|[0-9a-f]{64})$/i, 'expected a 40 or 64 hex digit object id');
const repository = z.object({
  name: z.string().min(1).regex(/^[^|/]+$/, 'expected a repository name without "/" or "|"'),
  project: z.object({ name: z.string().min(1).regex(/^[^|/]+$/, 'expected a project name without "/" or "|"') }),
});
const identity = z.object({ id: z.string().optional(), displayName: z.string().optional() }).optional();

/** Envelope of every service hook notification. */
export const serviceHookEnvelope = z.object({
  id: z.string().min(1),
  eventType: z.string().min(1),
  resource: z.unknown(),
});

const pushResource = z.object({
  refUpdates: z.array(z.object({ name: z.string().regex(/^refs\//, 'expected a full ref such as refs/heads/main'), newObjectId: objectId })).min(1),
  repository,
  pushedBy: identity,
});

const pullRequestResource = z.object({
  status: z.string(),
  mergeStatus: z.string().optional(),
  targetRefName: z.string().regex(/^refs\//, 'expected a full ref such as refs/heads/main'),
  lastMergeCommit: z.object({ commitId: objectId }).optional(),
  repository,
  closedBy: identity,
  createdBy: identity,
});

function devOpsActor(who: z.infer<typeof identity>): Actor {
  const actor: Actor = { kind: 'webhook', id: who?.id ? `azure-devops:${who.id}` : 'azure-devops' };
  if (who?.displayName) actor.displayName = who.displayName;
  return actor;
}

const zeroId = /^0+$/;

/** Reads `git.push`: one change per updated ref; a ref updated to all zeros was deleted. */
export function parseDevOpsPush(resource: unknown): GitParseResult {
  const parsed = pushResource.safeParse(resource);
  if (!parsed.success) return { ok: false, problems: zodProblems(parsed.error.issues.map((i) => ({ ...i, path: ['resource', ...i.path] }))) };
  const { refUpdates, repository: repo, pushedBy } = parsed.data;
  const name = `${repo.project.name}/${repo.name}`;
  return {
    ok: true,
    changes: refUpdates.map((update) => ({
      provider: 'azure-devops' as const,
      repository: name,
      ref: update.name,
      deleted: zeroId.test(update.newObjectId),
      commit: update.newObjectId.toLowerCase(),
      actor: devOpsActor(pushedBy),
    })),
  };
}

/**
 * Reads `git.pullrequest.merged`. Azure DevOps sends it for every merge
 * attempt, so only status "completed" with mergeStatus "succeeded" gives a
 * change: a push of the merge commit to the target branch.
 */
export function parseDevOpsMerge(resource: unknown): GitParseResult {
  const parsed = pullRequestResource.safeParse(resource);
  if (!parsed.success) return { ok: false, problems: zodProblems(parsed.error.issues.map((i) => ({ ...i, path: ['resource', ...i.path] }))) };
  const pr = parsed.data;
  if (pr.status.toLowerCase() !== 'completed' || pr.mergeStatus?.toLowerCase() !== 'succeeded') {
    return { ok: true, changes: [], reason: `pull request has status ${pr.status} and mergeStatus ${pr.mergeStatus ?? '(none)'}; only completed with succeeded starts a release` };
  }
  if (!pr.lastMergeCommit) {
    return { ok: false, problems: [{ field: 'resource.lastMergeCommit', problem: 'is missing on a completed merge', expected: 'an object with commitId' }] };
  }
  return {
    ok: true,
    changes: [{
      provider: 'azure-devops',
      repository: `${pr.repository.project.name}/${pr.repository.name}`,
      ref: pr.targetRefName,
      deleted: false,
      commit: pr.lastMergeCommit.commitId.toLowerCase(),
      actor: devOpsActor(pr.closedBy ?? pr.createdBy),
    }],
  };
}
