import type { ModelVersion } from '@azure/arm-machinelearning';
import { AzureMachineLearningWorkspaces } from '@azure/arm-machinelearning';

import type { Settings } from '../config/settings';
import type { ModelFacts } from '../release/validation';
import { armClientOptions, azureCredential } from './credential';

/** Fields of a model version that validation reads, plus where its files are stored. */
export interface ModelVersionInfo extends ModelFacts {
  modelUri?: string;
}

/** Tag that records what the release pipeline did with a model version. */
export const releaseStateTag = 'release.aksmlops.dev/state';
/** Tag that names the release that set the state tag. */
export const releaseIdTag = 'release.aksmlops.dev/release-id';

type MlSettings = Pick<Settings, 'AZURE_SUBSCRIPTION_ID' | 'AZURE_RESOURCE_MANAGER_ENDPOINT' | 'AML_RESOURCE_GROUP' | 'AML_WORKSPACE'>;

function isNotFound(error: unknown): boolean {
  return (error as { statusCode?: number }).statusCode === 404;
}

/** Thin typed wrapper over the Azure ML model registry of one workspace. */
export class AzureMlModels {
  private readonly client: AzureMachineLearningWorkspaces;

  constructor(private readonly settings: MlSettings) {
    this.client = new AzureMachineLearningWorkspaces(azureCredential(), settings.AZURE_SUBSCRIPTION_ID, armClientOptions(settings));
  }

  private get where(): string {
    return `workspace ${this.settings.AML_RESOURCE_GROUP}/${this.settings.AML_WORKSPACE}`;
  }

  /** Reads a model version; returns undefined when it does not exist. */
  async getVersion(name: string, version: string): Promise<ModelVersionInfo | undefined> {
    let found: ModelVersion;
    try {
      found = await this.client.modelVersions.get(this.settings.AML_RESOURCE_GROUP, this.settings.AML_WORKSPACE, name, version);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw new Error(`cannot read model ${name} version ${version} in ${this.where}: ${(error as Error).message}`, { cause: error });
    }
    const workspace = await this.client.workspaces.get(this.settings.AML_RESOURCE_GROUP, this.settings.AML_WORKSPACE);
    const props = found.properties;
    const info: ModelVersionInfo = { name, version, flavors: Object.keys(props.flavors ?? {}), tags: compact(props.tags), properties: compact(props.properties) };
    if (props.modelType) info.modelType = props.modelType;
    if (props.modelUri) info.modelUri = props.modelUri;
    if (workspace.location) info.region = workspace.location.toLowerCase().replace(/\s+/g, '');
    return info;
  }

  /**
   * Sets tags on a model version with a read and a write of the whole
   * version, as the registry has no patch. Writes nothing when the tags
   * already have these values, so a retry is harmless.
   */
  async setTags(name: string, version: string, tags: Record<string, string>): Promise<boolean> {
    const { AML_RESOURCE_GROUP: group, AML_WORKSPACE: workspace } = this.settings;
    const current = await this.client.modelVersions.get(group, workspace, name, version);
    const existing = current.properties.tags ?? {};
    if (Object.entries(tags).every(([k, v]) => existing[k] === v)) return false;
    const body: ModelVersion = { properties: { ...current.properties, tags: { ...existing, ...tags } } };
    await this.client.modelVersions.createOrUpdate(group, workspace, name, version, body);
    return true;
  }
}

function compact(values: Record<string, string | null> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values ?? {})) if (value !== null) out[key] = value;
  return out;
}
