import { type Router, type SimRequest, type SimResponse, armError, isRecord, isStringMap, parseJsonObject } from '../http';
import { type ArmGuardOptions, armGuard } from './guard';

/** A model version to register, through the control API or the seed. */
export interface ModelVersionInput {
  /** Workspace that holds the model; the default workspace when absent. */
  workspace?: string;
  name: string;
  version: string;
  tags?: Record<string, string>;
  properties?: Record<string, string>;
  /** Storage URI of the model files, such as `azureml://datastores/workspaceblobstore/paths/...`. */
  modelUri: string;
  /** ARM region of the workspace; a model lives in its workspace's region. */
  region?: string;
  description?: string;
  modelType?: string;
  /** MLflow flavors such as `{"sklearn": {"data": {"pickled_model": "model.pkl"}}}`. */
  flavors?: Record<string, { data?: Record<string, string> }>;
}

/** The Azure ML side the simulator starts with. */
export interface AzureMlSeed {
  resourceGroup: string;
  workspace: string;
  region: string;
  models: ModelVersionInput[];
}

interface VersionState {
  version: string;
  properties: Record<string, unknown>;
  createdAt: string;
  lastModifiedAt: string;
}

interface ContainerState {
  name: string;
  properties: Record<string, unknown>;
  createdAt: string;
  versions: Map<string, VersionState>;
}

interface WorkspaceState {
  name: string;
  location: string;
  models: Map<string, ContainerState>;
}

const workspacePath = '/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.MachineLearningServices/workspaces/:workspaceName';
const assetName = /^[A-Za-z0-9][A-Za-z0-9\-_.]{0,254}$/;
const versionName = /^[A-Za-z0-9][A-Za-z0-9\-_.]{0,29}$/;

/** Thrown by {@link AzureMlProvider.register} for an input the control API must reject with 400 or 409. */
export class RegistrationError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/**
 * A simulator of Microsoft.MachineLearningServices workspaces, model
 * containers and model versions (api-version 2022-10-01 shapes, which
 * @azure/arm-machinelearning 2.x sends). Writes are synchronous, as in Azure ML.
 */
export class AzureMlProvider {
  private readonly workspaces = new Map<string, WorkspaceState>();

  constructor(private readonly guard: ArmGuardOptions, private readonly seed: AzureMlSeed) {
    this.workspaces.set(seed.workspace.toLowerCase(), { name: seed.workspace, location: seed.region, models: new Map() });
    for (const model of seed.models) this.register(model);
  }

  /** Registers a model version as Azure ML would after a training job; throws RegistrationError. */
  register(input: ModelVersionInput): Record<string, unknown> {
    if (!assetName.test(input.name)) throw new RegistrationError(400, `model name "${input.name}" is invalid: use letters, digits, "-", "_" and ".", starting with a letter or digit`);
    if (!versionName.test(input.version)) throw new RegistrationError(400, `model version "${input.version}" is invalid: use at most 30 letters, digits, "-", "_" and "."`);
    if (typeof input.modelUri !== 'string' || input.modelUri === '') throw new RegistrationError(400, 'modelUri is missing: give the storage URI of the model files');
    for (const field of ['tags', 'properties'] as const) {
      if (input[field] !== undefined && !isStringMap(input[field])) throw new RegistrationError(400, `${field} must map strings to strings`);
    }
    const workspace = this.workspaceFor(input.workspace ?? this.seed.workspace, input.region);
    const container = this.containerFor(workspace, input.name);
    const now = new Date().toISOString();
    const version: VersionState = {
      version: input.version,
      properties: {
        description: input.description ?? null,
        tags: input.tags ?? {},
        properties: input.properties ?? {},
        isAnonymous: false,
        isArchived: false,
        modelType: input.modelType ?? 'custom_model',
        modelUri: input.modelUri,
        jobName: null,
        flavors: input.flavors ?? {},
        provisioningState: 'Succeeded',
      },
      createdAt: now,
      lastModifiedAt: now,
    };
    container.versions.set(input.version, version);
    return this.versionJson(workspace, container, version);
  }

  /** A model version as ARM returns it, or undefined; for the control API. */
  read(workspaceName: string, name: string, version: string): Record<string, unknown> | undefined {
    const workspace = this.workspaces.get(workspaceName.toLowerCase());
    const container = workspace?.models.get(name);
    const state = container?.versions.get(version);
    return workspace && container && state ? this.versionJson(workspace, container, state) : undefined;
  }

  /** Registers the provider's routes on the ARM router. */
  registerRoutes(router: Router): void {
    const g = (handler: (request: SimRequest) => SimResponse) => armGuard(this.guard, handler);
    router
      .add('GET', workspacePath, g((r) => this.withWorkspace(r, (w) => ({ status: 200, json: this.workspaceJson(w) }))))
      .add('GET', `${workspacePath}/models`, g((r) => this.withWorkspace(r, (w) => this.listContainers(w, r))))
      .add('GET', `${workspacePath}/models/:name`, g((r) => this.withContainer(r, (w, c) => ({ status: 200, json: this.containerJson(w, c) }))))
      .add('PUT', `${workspacePath}/models/:name`, g((r) => this.withWorkspace(r, (w) => this.putContainer(w, r))))
      .add('GET', `${workspacePath}/models/:name/versions`, g((r) => this.withContainer(r, (w, c) => this.listVersions(w, c, r))))
      .add('GET', `${workspacePath}/models/:name/versions/:version`, g((r) => this.withVersion(r, (w, c, v) => ({ status: 200, json: this.versionJson(w, c, v) }))))
      .add('PUT', `${workspacePath}/models/:name/versions/:version`, g((r) => this.withWorkspace(r, (w) => this.putVersion(w, r))));
  }

  private workspaceFor(name: string, region: string | undefined): WorkspaceState {
    const existing = this.workspaces.get(name.toLowerCase());
    if (existing) {
      if (region !== undefined && region.toLowerCase() !== existing.location.toLowerCase()) {
        throw new RegistrationError(409, `workspace "${name}" is in region ${existing.location}, not ${region}: name another workspace to register a model in ${region}`);
      }
      return existing;
    }
    const created: WorkspaceState = { name, location: region ?? this.seed.region, models: new Map() };
    this.workspaces.set(name.toLowerCase(), created);
    return created;
  }

  private containerFor(workspace: WorkspaceState, name: string): ContainerState {
    let container = workspace.models.get(name);
    if (!container) {
      container = { name, properties: { description: null, tags: {}, properties: {}, isArchived: false }, createdAt: new Date().toISOString(), versions: new Map() };
      workspace.models.set(name, container);
    }
    return container;
  }

  private withWorkspace(request: SimRequest, then: (workspace: WorkspaceState) => SimResponse): SimResponse {
    const resourceGroup = request.params.resourceGroupName ?? '';
    const name = request.params.workspaceName ?? '';
    const workspace = this.workspaces.get(name.toLowerCase());
    if (!workspace || resourceGroup.toLowerCase() !== this.seed.resourceGroup.toLowerCase()) {
      return armError(404, 'ResourceNotFound', `The Resource 'Microsoft.MachineLearningServices/workspaces/${name}' under resource group '${resourceGroup}' was not found.`);
    }
    return then(workspace);
  }

  private withContainer(request: SimRequest, then: (workspace: WorkspaceState, container: ContainerState) => SimResponse): SimResponse {
    return this.withWorkspace(request, (workspace) => {
      const name = request.params.name ?? '';
      const container = workspace.models.get(name);
      if (!container) return armError(404, 'UserError', `Could not find model container with name ${name} in workspace ${workspace.name}.`);
      return then(workspace, container);
    });
  }

  private withVersion(request: SimRequest, then: (workspace: WorkspaceState, container: ContainerState, version: VersionState) => SimResponse): SimResponse {
    return this.withContainer(request, (workspace, container) => {
      const version = request.params.version ?? '';
      const state = container.versions.get(version);
      if (!state) return armError(404, 'UserError', `Could not find model version ${container.name}:${version} in workspace ${workspace.name}.`);
      return then(workspace, container, state);
    });
  }

  private listContainers(workspace: WorkspaceState, request: SimRequest): SimResponse {
    const view = request.url.searchParams.get('listViewType') ?? 'ActiveOnly';
    const value = [...workspace.models.values()].filter((c) => matchesView(c.properties, view)).map((c) => this.containerJson(workspace, c));
    return { status: 200, json: { value } };
  }

  private listVersions(workspace: WorkspaceState, container: ContainerState, request: SimRequest): SimResponse {
    const query = request.url.searchParams;
    let versions = [...container.versions.values()].filter((v) => matchesView(v.properties, query.get('listViewType') ?? 'ActiveOnly'));
    const version = query.get('version');
    if (version) versions = versions.filter((v) => v.version === version);
    const tags = query.get('tags');
    if (tags) versions = versions.filter((v) => matchesTagFilter(v.properties.tags, tags));
    const orderBy = (query.get('$orderBy') ?? 'createdtime desc').toLowerCase();
    versions.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || compareVersions(a.version, b.version));
    if (orderBy.endsWith('desc')) versions.reverse();
    const top = Number(query.get('$top') ?? Number.NaN);
    if (Number.isInteger(top) && top > 0) versions = versions.slice(0, top);
    return { status: 200, json: { value: versions.map((v) => this.versionJson(workspace, container, v)) } };
  }

  private putContainer(workspace: WorkspaceState, request: SimRequest): SimResponse {
    const body = parseJsonObject(request);
    if (!body.ok) return body.response;
    const name = request.params.name ?? '';
    if (!assetName.test(name)) return armError(400, 'UserError', `Model name '${name}' is invalid: use letters, digits, '-', '_' and '.', starting with a letter or digit.`);
    const properties = body.value.properties;
    const invalid = invalidAssetProperties(properties);
    if (invalid) return invalid;
    const existing = workspace.models.get(name);
    const container = this.containerFor(workspace, name);
    const requested = properties as Record<string, unknown>;
    container.properties = { ...container.properties, ...pick(requested, ['description', 'tags', 'properties', 'isArchived']) };
    return { status: existing ? 200 : 201, json: this.containerJson(workspace, container) };
  }

  private putVersion(workspace: WorkspaceState, request: SimRequest): SimResponse {
    const body = parseJsonObject(request);
    if (!body.ok) return body.response;
    const name = request.params.name ?? '';
    const version = request.params.version ?? '';
    if (!assetName.test(name) || !versionName.test(version)) return armError(400, 'UserError', `Model '${name}' version '${version}' is not a valid asset name and version.`);
    const properties = body.value.properties;
    const invalid = invalidAssetProperties(properties);
    if (invalid) return invalid;
    const requested = properties as Record<string, unknown>;
    if (requested.modelUri !== undefined && typeof requested.modelUri !== 'string') return armError(400, 'UserError', 'properties.modelUri must be a string URI.');

    const container = this.containerFor(workspace, name);
    const existing = container.versions.get(version);
    if (existing) {
      // Azure ML model versions are immutable except for their metadata.
      if (requested.modelUri !== undefined && requested.modelUri !== existing.properties.modelUri) {
        return armError(409, 'UserError', `Model ${name}:${version} already exists with modelUri '${String(existing.properties.modelUri)}'; a version's files cannot change. Register a new version instead.`);
      }
      existing.properties = { ...existing.properties, ...pick(requested, ['description', 'tags', 'properties', 'isArchived', 'stage']) };
      existing.lastModifiedAt = new Date().toISOString();
      return { status: 200, json: this.versionJson(workspace, container, existing) };
    }
    if (typeof requested.modelUri !== 'string' || requested.modelUri === '') return armError(400, 'UserError', `properties.modelUri is required to create model ${name}:${version}.`);
    const now = new Date().toISOString();
    const created: VersionState = {
      version,
      properties: { description: null, tags: {}, properties: {}, isAnonymous: false, isArchived: false, modelType: 'custom_model', jobName: null, flavors: {}, ...pick(requested, ['description', 'tags', 'properties', 'isArchived', 'modelType', 'modelUri', 'jobName', 'flavors', 'stage']), provisioningState: 'Succeeded' },
      createdAt: now,
      lastModifiedAt: now,
    };
    container.versions.set(version, created);
    return { status: 201, json: this.versionJson(workspace, container, created) };
  }

  private workspaceId(workspace: WorkspaceState): string {
    return `/subscriptions/${this.guard.subscriptionId}/resourceGroups/${this.seed.resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${workspace.name}`;
  }

  private workspaceJson(workspace: WorkspaceState): Record<string, unknown> {
    return {
      id: this.workspaceId(workspace),
      name: workspace.name,
      type: 'Microsoft.MachineLearningServices/workspaces',
      location: workspace.location,
      identity: { type: 'SystemAssigned' },
      sku: { name: 'Basic', tier: 'Basic' },
      properties: { friendlyName: workspace.name, provisioningState: 'Succeeded', hbiWorkspace: false, publicNetworkAccess: 'Enabled' },
    };
  }

  private containerJson(workspace: WorkspaceState, container: ContainerState): Record<string, unknown> {
    const versions = [...container.versions.keys()];
    const latest = versions.sort(compareVersions).at(-1);
    return {
      id: `${this.workspaceId(workspace)}/models/${container.name}`,
      name: container.name,
      type: 'Microsoft.MachineLearningServices/workspaces/models',
      properties: { ...container.properties, ...(latest ? { latestVersion: latest } : {}), nextVersion: nextVersion(latest) },
      systemData: systemData(container.createdAt, container.createdAt, this.guard.authority.principal.clientId),
    };
  }

  private versionJson(workspace: WorkspaceState, container: ContainerState, version: VersionState): Record<string, unknown> {
    return {
      id: `${this.workspaceId(workspace)}/models/${container.name}/versions/${version.version}`,
      name: version.version,
      type: 'Microsoft.MachineLearningServices/workspaces/models/versions',
      properties: version.properties,
      systemData: systemData(version.createdAt, version.lastModifiedAt, this.guard.authority.principal.clientId),
    };
  }
}

function systemData(createdAt: string, lastModifiedAt: string, by: string): Record<string, unknown> {
  return { createdAt, createdBy: by, createdByType: 'Application', lastModifiedAt, lastModifiedBy: by, lastModifiedByType: 'Application' };
}

/** The 400 Azure ML returns for a malformed asset body, or undefined when it is valid. */
function invalidAssetProperties(properties: unknown): SimResponse | undefined {
  if (!isRecord(properties)) return armError(400, 'UserError', 'The request body must have a properties object.');
  for (const field of ['tags', 'properties']) {
    const value = properties[field];
    if (value !== undefined && value !== null && !isStringMap(value)) return armError(400, 'UserError', `properties.${field} must map strings to strings; found ${JSON.stringify(value)}.`);
  }
  for (const field of ['isArchived', 'isAnonymous']) {
    const value = properties[field];
    if (value !== undefined && typeof value !== 'boolean') return armError(400, 'UserError', `properties.${field} must be true or false; found ${JSON.stringify(value)}.`);
  }
  const description = properties.description;
  if (description !== undefined && description !== null && typeof description !== 'string') return armError(400, 'UserError', 'properties.description must be a string.');
  return undefined;
}

function pick(source: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
  return out;
}

function matchesView(properties: Record<string, unknown>, view: string): boolean {
  const archived = properties.isArchived === true;
  if (view === 'All') return true;
  return view === 'ArchivedOnly' ? archived : !archived;
}

/** Azure ML's tags filter: comma-separated `key` or `key=value` terms, all of which must match. */
function matchesTagFilter(tags: unknown, filter: string): boolean {
  const map = isStringMap(tags) ? tags : {};
  return filter.split(',').every((term) => {
    const [key, value] = term.split('=', 2);
    if (!key) return true;
    return value === undefined ? key in map : map[key] === value;
  });
}

function compareVersions(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a.localeCompare(b);
}

function nextVersion(latest: string | undefined): string {
  const number = Number(latest ?? '0');
  return Number.isInteger(number) ? String(number + 1) : '1';
}
