import type { ModelVersionInfo } from '../src/clients/azureml';
import { AzureMlModels, releaseIdTag, releaseStateTag } from '../src/clients/azureml';
import { getSettings } from '../src/config/settings';
import { modelVersionProblems } from '../src/release/validation';
import type { InputOf, OutputOf } from './contract';
import { registerActivity } from './register';
import type { ModelValidation } from './releaseContract';
import { releaseActivities } from './releaseContract';

type Models = Pick<AzureMlModels, 'getVersion' | 'setTags'>;

/** Handlers of the Azure ML activities, built on the given registry client. */
export function modelActivities(models: () => Models) {
  return {
    validateModelVersion: async (input: InputOf<typeof releaseActivities.validateModelVersion>): Promise<ModelValidation> => {
      const { name, version } = input.model;
      const info: ModelVersionInfo | undefined = await models().getVersion(name, version);
      if (!info) return { ok: false, reasons: [`model ${name} version ${version} was not found in the Azure ML workspace: check the event and the AML_WORKSPACE setting`] };
      const reasons = modelVersionProblems(info, input.validation);
      return { ok: reasons.length === 0, reasons, ...(info.modelUri ? { storageUri: info.modelUri } : {}) };
    },

    tagModelVersion: async (input: InputOf<typeof releaseActivities.tagModelVersion>): Promise<OutputOf<typeof releaseActivities.tagModelVersion>> => {
      const tagged = await models().setTags(input.model.name, input.model.version, { [releaseStateTag]: input.state, [releaseIdTag]: input.releaseId });
      return { tagged };
    },
  };
}

let client: AzureMlModels | undefined;
const handlers = modelActivities(() => (client ??= new AzureMlModels(getSettings())));

registerActivity(releaseActivities.validateModelVersion, handlers.validateModelVersion);
registerActivity(releaseActivities.tagModelVersion, handlers.tagModelVersion);
