import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { parse as parseYaml } from 'yaml';

import type { Logger } from '../../../../src/observability/log';
import { type ContextListing, listBuildContext } from '../acr/buildContext';
import type { RegistryStore } from '../acr/registry';
import { type Router, type SimRequest, type SimResponse, armError, isRecord, parseJsonObject } from '../http';
import { type ArmGuardOptions, armGuard } from './guard';

/** The registry the ACR management simulator serves. */
export interface AcrSeed {
  resourceGroup: string;
  name: string;
  loginServer: string;
  location: string;
}

/** The result of the next simulated build run, which a test chooses through the control API. */
export interface BuildOutcome {
  status: 'Succeeded' | 'Failed';
  /** Digest of the built image; derived from the run and its source when absent. */
  digest?: string;
  /** Log text the run's log SAS URL serves. */
  logs?: string;
  /** How long the run stays Running, in milliseconds; 500 when absent. */
  durationMs?: number;
  /** runErrorMessage of a failed run. */
  errorMessage?: string;
}

/** A scheduled run as the control API reports it. */
export interface RunRecord {
  runId: string;
  request: Record<string, unknown>;
  status: string;
  outputImages: { registry: string; repository: string; tag: string; digest: string }[];
  runErrorMessage?: string;
  createTime: string;
  startTime?: string;
  finishTime?: string;
}

interface RunState extends RunRecord {
  platform: Record<string, unknown>;
  images: { repository: string; tag: string }[];
  logs: string;
  logToken: string;
}

interface UploadState {
  token: string;
  uploaded?: { bytes: number; sha256: string; listing: ContextListing };
}

/** Options of the ACR management provider. */
export interface AcrManagementOptions {
  guard: ArmGuardOptions;
  origin: () => string;
  seed: AcrSeed;
  store: RegistryStore;
  /** Directory that receives uploaded build contexts. */
  stateDir: string;
  log: Logger;
}

const registryPath = '/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.ContainerRegistry/registries/:registryName';
const blobPrefix = '/_sim/blobs';
const runStartDelayMs = 50;
const defaultRunDurationMs = 500;
const osValues = ['Linux', 'Windows'];
const architectureValues = ['amd64', 'x86', '386', 'arm', 'arm64'];

/**
 * A simulator of the Microsoft.ContainerRegistry registry resource and its
 * quick builds (api-version 2019-06-01-preview): build-source upload URLs,
 * scheduleRun for DockerBuildRequest and EncodedTaskRunRequest, runs and their
 * log URLs. A run does not build anything: it waits, then ends with the
 * outcome queued through the control API, and a successful run pushes its
 * images into the registry store.
 */
export class AcrManagementProvider {
  private readonly uploads = new Map<string, UploadState>();
  private readonly runs = new Map<string, RunState>();
  private readonly outcomes: BuildOutcome[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private runCounter = 0;
  private readonly createdAt = new Date().toISOString();

  constructor(private readonly options: AcrManagementOptions) {}

  registerRoutes(router: Router): void {
    const g = (handler: (request: SimRequest) => Promise<SimResponse> | SimResponse) => armGuard(this.options.guard, handler);
    router
      .add('GET', registryPath, g((r) => this.withRegistry(r, () => ({ status: 200, json: this.registryJson() }))))
      .add('POST', `${registryPath}/listBuildSourceUploadUrl`, g((r) => this.withRegistry(r, () => this.uploadUrl())))
      .add('POST', `${registryPath}/scheduleRun`, g((r) => this.withRegistry(r, () => this.scheduleRun(r))))
      .add('GET', `${registryPath}/runs`, g((r) => this.withRegistry(r, () => ({ status: 200, json: { value: [...this.runs.values()].reverse().map((run) => this.runJson(run)) } }))))
      .add('GET', `${registryPath}/runs/:runId`, g((r) => this.withRun(r, (run) => ({ status: 200, json: this.runJson(run) }))))
      .add('POST', `${registryPath}/runs/:runId/listLogSasUrl`, g((r) => this.withRun(r, (run) => this.logUrl(run))))
      .add('PUT', `${blobPrefix}/source/:uploadId`, (r) => this.receiveUpload(r))
      .add('GET', `${blobPrefix}/logs/:runId`, (r) => this.serveLog(r));
  }

  /** Queues the outcome of the next scheduled run. */
  queueOutcome(outcome: BuildOutcome): void {
    this.outcomes.push(outcome);
  }

  /** Returns every scheduled run, oldest first, for tests and the control API. */
  runRecords(): RunRecord[] {
    return [...this.runs.values()].map(({ runId, request, status, outputImages, runErrorMessage, createTime, startTime, finishTime }) => ({
      runId, request, status, outputImages, createTime,
      ...(runErrorMessage ? { runErrorMessage } : {}),
      ...(startTime ? { startTime } : {}),
      ...(finishTime ? { finishTime } : {}),
    }));
  }

  /** Cancels pending run timers; runs left Queued or Running stay so. */
  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private withRegistry(request: SimRequest, then: () => Promise<SimResponse> | SimResponse): Promise<SimResponse> | SimResponse {
    const { seed } = this.options;
    const resourceGroup = request.params.resourceGroupName ?? '';
    const name = request.params.registryName ?? '';
    if (resourceGroup.toLowerCase() !== seed.resourceGroup.toLowerCase() || name.toLowerCase() !== seed.name.toLowerCase()) {
      return armError(404, 'ResourceNotFound', `The Resource 'Microsoft.ContainerRegistry/registries/${name}' under resource group '${resourceGroup}' was not found.`);
    }
    return then();
  }

  private withRun(request: SimRequest, then: (run: RunState) => SimResponse): Promise<SimResponse> | SimResponse {
    return this.withRegistry(request, () => {
      const run = this.runs.get(request.params.runId ?? '');
      if (!run) return armError(404, 'RunNotFound', `Run '${request.params.runId ?? ''}' was not found in registry '${this.options.seed.name}'.`);
      return then(run);
    });
  }

  private uploadUrl(): SimResponse {
    const id = randomUUID();
    const token = randomBytes(16).toString('hex');
    this.uploads.set(id, { token });
    const relativePath = `source/${new Date().toISOString().slice(0, 10).replace(/-/g, '')}/${id}.tar.gz`;
    return { status: 200, json: { uploadUrl: `${this.options.origin()}${blobPrefix}/source/${id}?sv=2023-11-03&sr=b&sp=cw&sig=${token}`, relativePath } };
  }

  /** Accepts a build context as Azure Blob Storage accepts a Put Blob on a SAS URL. */
  private async receiveUpload(request: SimRequest): Promise<SimResponse> {
    const id = request.params.uploadId ?? '';
    const upload = this.uploads.get(id);
    if (!upload || request.url.searchParams.get('sig') !== upload.token) {
      return { status: 403, text: 'AuthenticationFailed: the SAS signature of this upload URL is invalid. Request a new URL with listBuildSourceUploadUrl.' };
    }
    if (request.headers['x-ms-blob-type'] !== 'BlockBlob') {
      return { status: 400, text: 'MissingRequiredHeader: x-ms-blob-type must be BlockBlob.' };
    }
    const sha256 = createHash('sha256').update(request.body).digest('hex');
    upload.uploaded = { bytes: request.body.length, sha256, listing: listBuildContext(request.body) };
    const dir = join(this.options.stateDir, 'build-sources');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `${id}.tar.gz`), request.body);
    const md5 = createHash('md5').update(request.body).digest('base64');
    return { status: 201, headers: { etag: `"0x${sha256.slice(0, 16).toUpperCase()}"`, 'content-md5': md5, 'x-ms-request-server-encrypted': 'true' } };
  }

  private scheduleRun(request: SimRequest): SimResponse {
    const body = parseJsonObject(request);
    if (!body.ok) return body.response;
    const parsed = parseRunRequest(body.value, this.options.seed.loginServer);
    if ('status' in parsed) return parsed;

    this.runCounter += 1;
    const runId = `ca${this.runCounter}`;
    const images = parsed.images.map((image) => ({ ...image, tag: image.tag.replace(/\{\{\s*\.Run\.ID\s*\}\}/g, runId) }));
    const run: RunState = {
      runId,
      request: body.value,
      status: 'Queued',
      outputImages: [],
      createTime: new Date().toISOString(),
      platform: parsed.platform,
      images,
      logs: '',
      logToken: randomBytes(16).toString('hex'),
    };
    this.runs.set(runId, run);
    this.options.log.info('sim acr run scheduled', { runId, images: images.map((i) => `${i.repository}:${i.tag}`).join(',') });
    this.later(runStartDelayMs, () => this.startRun(run, parsed.sourceLocation, parsed.dockerFilePath));
    // scheduleRun returns at once, and the run's own status moves from Queued to a final state.
    return { status: 200, json: this.runJson(run) };
  }

  private startRun(run: RunState, sourceLocation: string, dockerFilePath: string | undefined): void {
    run.status = 'Running';
    run.startTime = new Date().toISOString();
    const outcome = this.outcomes.shift() ?? { status: 'Succeeded' as const };
    const sourceProblem = this.sourceProblem(sourceLocation, dockerFilePath);
    this.later(outcome.durationMs ?? defaultRunDurationMs, () => this.finishRun(run, sourceProblem ? { status: 'Failed', errorMessage: sourceProblem } : outcome, sourceLocation));
  }

  private finishRun(run: RunState, outcome: BuildOutcome, sourceLocation: string): void {
    run.finishTime = new Date().toISOString();
    const digest = outcome.digest ?? `sha256:${createHash('sha256').update(`${run.runId}|${sourceLocation}|${this.sourceDigest(sourceLocation)}`).digest('hex')}`;
    if (outcome.status === 'Failed') {
      run.status = 'Failed';
      run.runErrorMessage = outcome.errorMessage ?? 'failed during run, err: exit status 1';
      run.logs = outcome.logs ?? `Queued a build with ID: ${run.runId}\nStep 1/1 : RUN false\nThe command '/bin/sh -c false' returned a non-zero code: 1\nRun ID: ${run.runId} failed after ${elapsed(run)}. Error: ${run.runErrorMessage}\n`;
      this.options.log.info('sim acr run failed', { runId: run.runId, reason: run.runErrorMessage });
      return;
    }
    try {
      for (const image of run.images) this.options.store.push({ repository: image.repository, tag: image.tag, digest });
    } catch (error) {
      run.status = 'Failed';
      run.runErrorMessage = `failed to push: ${error instanceof Error ? error.message : String(error)}`;
      run.logs = `Run ID: ${run.runId} failed. Error: ${run.runErrorMessage}\n`;
      return;
    }
    run.status = 'Succeeded';
    run.outputImages = run.images.map((image) => ({ registry: this.options.seed.loginServer, repository: image.repository, tag: image.tag, digest }));
    const pushed = run.images.map((i) => `${this.options.seed.loginServer}/${i.repository}:${i.tag}`).join('\n');
    run.logs = outcome.logs ?? `Queued a build with ID: ${run.runId}\nSending context to registry: ${this.options.seed.loginServer}...\nSuccessfully built image\nPushing images:\n${pushed}\ndigest: ${digest}\nRun ID: ${run.runId} was successful after ${elapsed(run)}\n`;
    this.options.log.info('sim acr run succeeded', { runId: run.runId, digest });
  }

  /**
   * Returns why the source cannot be built, or undefined. Only uploaded
   * sources and https URLs are readable, and an uploaded context must be a tar
   * archive that contains the Dockerfile, as ACR requires.
   */
  private sourceProblem(sourceLocation: string, dockerFilePath: string | undefined): string | undefined {
    if (/^https:\/\//.test(sourceLocation)) return undefined;
    const id = /([0-9a-f-]{36})\.tar\.gz$/.exec(sourceLocation)?.[1];
    const upload = id ? this.uploads.get(id) : undefined;
    if (!upload) return `failed to download context: source location '${sourceLocation}' was not issued by listBuildSourceUploadUrl`;
    if (!upload.uploaded) return `failed to download context: nothing was uploaded to '${sourceLocation}'`;
    const listing = upload.uploaded.listing;
    if (!listing.ok) return `failed to extract context: ${listing.reason}`;
    const dockerfile = dockerFilePath?.replace(/^\.\//, '');
    if (dockerfile !== undefined && !listing.files.includes(dockerfile)) {
      return `unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat /workspace/${dockerfile}: no such file or directory`;
    }
    return undefined;
  }

  private sourceDigest(sourceLocation: string): string {
    const id = /([0-9a-f-]{36})\.tar\.gz$/.exec(sourceLocation)?.[1];
    return (id ? this.uploads.get(id)?.uploaded?.sha256 : undefined) ?? sourceLocation;
  }

  private logUrl(run: RunState): SimResponse {
    const link = `${this.options.origin()}${blobPrefix}/logs/${run.runId}?sv=2023-11-03&sr=b&sp=r&sig=${run.logToken}`;
    return { status: 200, json: { logLink: link, logArtifactLink: link } };
  }

  private serveLog(request: SimRequest): SimResponse {
    const run = this.runs.get(request.params.runId ?? '');
    if (!run || request.url.searchParams.get('sig') !== run.logToken) return { status: 403, text: 'AuthenticationFailed: the SAS signature of this log URL is invalid.' };
    return { status: 200, text: run.logs, headers: { 'x-ms-blob-type': 'AppendBlob' } };
  }

  private later(delayMs: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }

  private registryId(): string {
    const { seed } = this.options;
    return `/subscriptions/${this.options.guard.subscriptionId}/resourceGroups/${seed.resourceGroup}/providers/Microsoft.ContainerRegistry/registries/${seed.name}`;
  }

  private registryJson(): Record<string, unknown> {
    const { seed } = this.options;
    return {
      id: this.registryId(),
      name: seed.name,
      type: 'Microsoft.ContainerRegistry/registries',
      location: seed.location,
      tags: {},
      sku: { name: 'Premium', tier: 'Premium' },
      properties: {
        loginServer: seed.loginServer,
        creationDate: this.createdAt,
        provisioningState: 'Succeeded',
        adminUserEnabled: false,
        publicNetworkAccess: 'Enabled',
        anonymousPullEnabled: false,
        dataEndpointEnabled: false,
        zoneRedundancy: 'Disabled',
      },
    };
  }

  private runJson(run: RunState): Record<string, unknown> {
    return {
      id: `${this.registryId()}/runs/${run.runId}`,
      name: run.runId,
      type: 'Microsoft.ContainerRegistry/registries/runs',
      properties: {
        runId: run.runId,
        status: run.status,
        lastUpdatedTime: run.finishTime ?? run.startTime ?? run.createTime,
        runType: 'QuickRun',
        createTime: run.createTime,
        ...(run.startTime ? { startTime: run.startTime } : {}),
        ...(run.finishTime ? { finishTime: run.finishTime } : {}),
        outputImages: run.outputImages,
        platform: run.platform,
        agentConfiguration: { cpu: 2 },
        isArchiveEnabled: false,
        ...(run.runErrorMessage ? { runErrorMessage: run.runErrorMessage } : {}),
        provisioningState: 'Succeeded',
      },
    };
  }
}

function elapsed(run: RunState): string {
  const ms = Date.parse(run.finishTime ?? '') - Date.parse(run.startTime ?? run.createTime);
  return `${Math.max(0, Math.round(ms / 1000))}s`;
}

interface ParsedRun {
  platform: Record<string, unknown>;
  sourceLocation: string;
  /** Dockerfile a DockerBuildRequest names; the run fails when the context lacks it. */
  dockerFilePath?: string;
  images: { repository: string; tag: string }[];
}

/** Validates a RunRequest as ACR does for the two run types the app sends. */
function parseRunRequest(body: Record<string, unknown>, loginServer: string): ParsedRun | SimResponse {
  const platform = body.platform;
  if (!isRecord(platform) || typeof platform.os !== 'string' || !osValues.some((os) => os.toLowerCase() === String(platform.os).toLowerCase())) {
    return armError(400, 'InvalidParameter', `platform.os is required and must be one of ${osValues.join(', ')}; the request has ${JSON.stringify(isRecord(platform) ? platform.os : platform)}.`);
  }
  if (platform.architecture !== undefined && (typeof platform.architecture !== 'string' || !architectureValues.includes(platform.architecture))) {
    return armError(400, 'InvalidParameter', `platform.architecture ${JSON.stringify(platform.architecture)} is invalid; use one of ${architectureValues.join(', ')}.`);
  }
  const timeout = body.timeout;
  if (timeout !== undefined && (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 300 || timeout > 28800)) {
    return armError(400, 'InvalidParameter', `timeout must be an integer number of seconds from 300 to 28800; the request has ${JSON.stringify(timeout)}.`);
  }
  if (body.type === 'DockerBuildRequest') return parseDockerBuild(body, platform, loginServer);
  if (body.type === 'EncodedTaskRunRequest') return parseEncodedTask(body, platform, loginServer);
  return armError(400, 'InvalidParameter', `Run request type '${String(body.type)}' is not supported by the simulator; send DockerBuildRequest or EncodedTaskRunRequest.`);
}

function parseDockerBuild(body: Record<string, unknown>, platform: Record<string, unknown>, loginServer: string): ParsedRun | SimResponse {
  if (typeof body.dockerFilePath !== 'string' || body.dockerFilePath === '') return armError(400, 'InvalidParameter', 'dockerFilePath is required for a DockerBuildRequest.');
  if (typeof body.sourceLocation !== 'string' || body.sourceLocation === '') return armError(400, 'InvalidParameter', 'sourceLocation is required: pass the relativePath from listBuildSourceUploadUrl or a Git URL.');
  const names = body.imageNames ?? [];
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) return armError(400, 'InvalidParameter', 'imageNames must be an array of image names.');
  if (body.isPushEnabled !== false && names.length === 0) return armError(400, 'InvalidParameter', 'imageNames must name at least one image when isPushEnabled is true.');
  const images = parseImageNames(names, loginServer);
  if ('status' in images) return images;
  return { platform, sourceLocation: body.sourceLocation, dockerFilePath: body.dockerFilePath, images: body.isPushEnabled === false ? [] : images };
}

function parseEncodedTask(body: Record<string, unknown>, platform: Record<string, unknown>, loginServer: string): ParsedRun | SimResponse {
  if (typeof body.encodedTaskContent !== 'string' || body.encodedTaskContent === '') return armError(400, 'InvalidParameter', 'encodedTaskContent is required for an EncodedTaskRunRequest.');
  const values = collectValues(body);
  let task: unknown;
  try {
    const text = Buffer.from(body.encodedTaskContent, 'base64').toString('utf8');
    task = parseYaml(text.replace(/\{\{\s*\.Values\.(\w+)\s*\}\}/g, (_m, name: string) => values[name] ?? '').replace(/\{\{\s*\.Run\.Registry\s*\}\}/g, loginServer));
  } catch (error) {
    return armError(400, 'InvalidParameter', `encodedTaskContent is not base64 of a valid task YAML: ${error instanceof Error ? error.message : String(error)}.`);
  }
  const steps = isRecord(task) && Array.isArray(task.steps) ? task.steps : undefined;
  if (!steps || steps.length === 0) return armError(400, 'InvalidParameter', 'The task in encodedTaskContent has no steps.');
  const built: string[] = [];
  const pushed: string[] = [];
  for (const step of steps) {
    if (!isRecord(step)) continue;
    if (typeof step.build === 'string') built.push(...[...step.build.matchAll(/(?:^|\s)(?:-t|--tag)\s+(\S+)/g)].map((m) => m[1] ?? ''));
    if (Array.isArray(step.push)) pushed.push(...step.push.filter((p): p is string => typeof p === 'string'));
  }
  const images = parseImageNames(pushed.length > 0 ? pushed : built, loginServer);
  if ('status' in images) return images;
  return { platform, sourceLocation: typeof body.sourceLocation === 'string' ? body.sourceLocation : 'https://inline-task', images };
}

function collectValues(body: Record<string, unknown>): Record<string, string> {
  const values: Record<string, string> = {};
  if (typeof body.encodedValuesContent === 'string') {
    const decoded: unknown = parseYaml(Buffer.from(body.encodedValuesContent, 'base64').toString('utf8'));
    if (isRecord(decoded)) for (const [k, v] of Object.entries(decoded)) values[k] = String(v);
  }
  if (Array.isArray(body.values)) {
    for (const entry of body.values) if (isRecord(entry) && typeof entry.name === 'string') values[entry.name] = typeof entry.value === 'string' ? entry.value : JSON.stringify(entry.value ?? '');
  }
  return values;
}

/** Splits `[loginServer/]repository[:tag]` names; an image for another registry is a 400. */
function parseImageNames(names: string[], loginServer: string): { repository: string; tag: string }[] | SimResponse {
  const images: { repository: string; tag: string }[] = [];
  for (const name of names) {
    let reference = name;
    const slash = reference.indexOf('/');
    const first = slash > 0 ? reference.slice(0, slash) : '';
    if (first.includes('.') || first.includes(':')) {
      if (first.toLowerCase() !== loginServer.toLowerCase()) return armError(400, 'InvalidParameter', `Image '${name}' names registry '${first}'; a run pushes only to ${loginServer}.`);
      reference = reference.slice(slash + 1);
    }
    const colon = reference.lastIndexOf(':');
    const repository = colon > 0 ? reference.slice(0, colon) : reference;
    const tag = colon > 0 ? reference.slice(colon + 1) : 'latest';
    if (!repository) return armError(400, 'InvalidParameter', `Image name '${name}' has no repository.`);
    images.push({ repository, tag });
  }
  return images;
}
