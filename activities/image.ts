import { readFileSync } from 'node:fs';

import type { ContextFile, RunState } from '../src/clients/acr';
import { AcrRegistry } from '../src/clients/acr';
import { getSettings } from '../src/config/settings';
import type { InputOf } from './contract';
import { registerActivity } from './register';
import type { BuildStatus, CheckResult } from './releaseContract';
import { releaseActivities } from './releaseContract';

type Registry = Pick<AcrRegistry, 'manifestDigest' | 'scheduleBuild' | 'runState'>;

/** Tag of a baked image: the release id, so that a rebuilt release pushes the same tag. */
export function bakedTag(releaseId: string): string {
  return releaseId.slice(0, 128);
}

/** Fills the Dockerfile template's `{{name}}` placeholders; an unknown placeholder is an error. */
export function renderTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{\s*([a-zA-Z0-9_]+)\s*\}\}/g, (_match, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`Dockerfile template uses {{${key}}}, which the build does not provide: use one of ${Object.keys(values).join(', ')}`);
    return value;
  });
}

/** Handlers of the image activities, built on the given registry client. */
export function imageActivities(registry: () => Registry, readTemplate: (path: string) => string) {
  return {
    verifyPushedImage: async (input: InputOf<typeof releaseActivities.verifyPushedImage>): Promise<CheckResult & { image?: string }> => {
      const { registry: server, repository, digest } = input.image;
      const found = await registry().manifestDigest(repository, digest);
      if (!found) return { ok: false, reasons: [`manifest ${server}/${repository}@${digest} was not found in the registry: the push may have been deleted`] };
      if (found !== digest) return { ok: false, reasons: [`manifest ${server}/${repository}@${digest} has digest ${found} in the registry`] };
      return { ok: true, reasons: [], image: `${server}/${repository}@${digest}` };
    },

    startImageBuild: async (input: InputOf<typeof releaseActivities.startImageBuild>): Promise<{ runId: string }> => {
      const { build, request } = input;
      const values: Record<string, string> = {
        modelName: request.model?.name ?? '',
        modelVersion: request.model?.version ?? '',
        modelUri: input.storageUri ?? '',
        gitRepository: request.git?.repository ?? '',
        gitCommit: request.git?.commit ?? '',
        releaseId: input.releaseId,
      };
      const files: ContextFile[] = [
        { path: 'Dockerfile', content: renderTemplate(readTemplate(build.dockerfile), values) },
        { path: 'release.json', content: JSON.stringify({ releaseId: input.releaseId, model: request.model, git: request.git }, null, 2) },
      ];
      // NOTE: a retry after a lost reply schedules a second run; both push the same tag and the release follows the later run.
      const runId = await registry().scheduleBuild({ repository: build.repository, tag: bakedTag(input.releaseId), files, timeoutSeconds: build.timeoutSeconds });
      return { runId };
    },

    checkImageBuild: async (input: InputOf<typeof releaseActivities.checkImageBuild>): Promise<BuildStatus> => {
      const state: RunState = await registry().runState(input.runId, input.repository);
      if (state.status !== 'succeeded') return state;
      const server = getSettings().ACR_LOGIN_SERVER;
      return { status: 'succeeded', digest: state.digest, image: `${server}/${input.repository}@${state.digest}` };
    },
  };
}

let client: AcrRegistry | undefined;
const handlers = imageActivities(() => (client ??= new AcrRegistry(getSettings())), (path) => readFileSync(path, 'utf8'));

registerActivity(releaseActivities.verifyPushedImage, handlers.verifyPushedImage);
registerActivity(releaseActivities.startImageBuild, handlers.startImageBuild);
registerActivity(releaseActivities.checkImageBuild, handlers.checkImageBuild);
