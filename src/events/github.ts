import { z } from 'zod';

import type { InputProblem } from '../errors';
import type { Actor, GitRef } from '../contracts/release';
import type { GitChange } from '../intake/match';
import { zodProblems } from './zodProblems';

/** A Git change from a webhook, with the commit to release and who caused it. */
export interface ParsedGitChange extends GitChange {
  commit: string;
  actor: Actor;
}

/** Parsed changes; an empty list comes with the reason nothing changed. */
export type GitParseResult = { ok: true; changes: ParsedGitChange[]; reason?: string } | { ok: false; problems: InputProblem[] };

const commitId = z.string().regex(/^([0-9a-f]{40}|[0-9a-f]{64})$/, 'expected a 40 or 64 hex digit commit id');
const repository = z.object({ full_name: z.string().regex(/^[^/\s|]+\/[^/\s|]+$/, 'expected "owner/name"') });
const sender = z.object({ login: z.string().min(1) }).optional();

const pushPayload = z.object({
  ref: z.string().regex(/^refs\//, 'expected a full ref such as refs/heads/main'),
  after: commitId,
  deleted: z.boolean().optional(),
  repository,
  sender,
});

const releasePayload = z.object({
  action: z.string().min(1),
  release: z.object({ tag_name: z.string().min(1).max(255), target_commitish: z.string().optional() }),
  repository,
  sender,
});

const zeroCommit = /^0+$/;

function githubActor(login: string | undefined): Actor {
  return login ? { kind: 'webhook', id: `github:${login}`, displayName: login } : { kind: 'webhook', id: 'github' };
}

/** Reads a GitHub `push` payload into one change. A deletion carries `after` of zeros, so its commit is `before`'s absence. */
export function parseGitHubPush(payload: unknown): GitParseResult {
  const parsed = pushPayload.safeParse(payload);
  if (!parsed.success) return { ok: false, problems: zodProblems(parsed.error.issues) };
  const push = parsed.data;
  const deleted = push.deleted === true || zeroCommit.test(push.after);
  return {
    ok: true,
    changes: [{ provider: 'github', repository: push.repository.full_name, ref: push.ref, deleted, commit: push.after, actor: githubActor(push.sender?.login) }],
  };
}

/**
 * Reads a GitHub `release` payload. Only `published` counts; other actions
 * give no change. The payload names a tag, not a commit, so the release is
 * keyed by the tag ref unless target_commitish is a commit id.
 */
export function parseGitHubRelease(payload: unknown): GitParseResult & { action?: string } {
  const parsed = releasePayload.safeParse(payload);
  if (!parsed.success) return { ok: false, problems: zodProblems(parsed.error.issues) };
  const { action, release } = parsed.data;
  if (action !== 'published') return { ok: true, changes: [], action };

  const ref = `refs/tags/${release.tag_name}`;
  // NOTE: a tag moved after publishing keeps the old release key; the build resolves the tag when it runs.
  const commit = release.target_commitish !== undefined && commitId.safeParse(release.target_commitish).success ? release.target_commitish : ref;
  return {
    ok: true,
    action,
    changes: [{ provider: 'github', repository: parsed.data.repository.full_name, ref, deleted: false, release: true, commit, actor: githubActor(parsed.data.sender?.login) }],
  };
}

/** Returns the Git reference of a change, as the release request carries it. */
export function gitRefOf(change: ParsedGitChange): GitRef {
  return { repository: change.repository, ref: change.ref, commit: change.commit };
}
