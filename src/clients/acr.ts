import { gzipSync } from 'node:zlib';

import { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import type { Run } from '@azure/arm-containerregistry';
import { ContainerRegistryClient } from '@azure/container-registry';

import type { Settings } from '../config/settings';
import { armClientOptions, azureCredential } from './credential';

type AcrSettings = Pick<Settings, 'AZURE_SUBSCRIPTION_ID' | 'AZURE_RESOURCE_MANAGER_ENDPOINT' | 'ACR_NAME' | 'ACR_RESOURCE_GROUP' | 'ACR_LOGIN_SERVER' | 'ACR_ENDPOINT' | 'ACR_AUDIENCE'>;

/** One file of a build context. */
export interface ContextFile {
  path: string;
  content: string | Buffer;
}

export type RunState = { status: 'running' } | { status: 'succeeded'; digest: string } | { status: 'failed'; reason: string };

function isNotFound(error: unknown): boolean {
  return (error as { statusCode?: number }).statusCode === 404;
}

/** Thin typed wrapper over the registry's data plane and its ACR Tasks runs. */
export class AcrRegistry {
  private readonly management: ContainerRegistryManagementClient;
  private readonly data: ContainerRegistryClient;

  constructor(private readonly settings: AcrSettings) {
    this.management = new ContainerRegistryManagementClient(azureCredential(), settings.AZURE_SUBSCRIPTION_ID, armClientOptions(settings));
    this.data = new ContainerRegistryClient(settings.ACR_ENDPOINT, azureCredential(), { audience: settings.ACR_AUDIENCE });
  }

  /** Returns the manifest digest when `repository@digest` exists, otherwise undefined. */
  async manifestDigest(repository: string, digest: string): Promise<string | undefined> {
    try {
      const properties = await this.data.getArtifact(repository, digest).getManifestProperties();
      return properties.digest;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw new Error(`cannot read manifest ${repository}@${digest} from ${this.settings.ACR_ENDPOINT}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Uploads the build context and schedules a Docker build that pushes `repository:tag`; returns the run id. */
  async scheduleBuild(input: { repository: string; tag: string; files: ContextFile[]; timeoutSeconds: number }): Promise<string> {
    const { ACR_RESOURCE_GROUP: group, ACR_NAME: name } = this.settings;
    const upload = await this.management.registries.getBuildSourceUploadUrl(group, name);
    if (!upload.uploadUrl || !upload.relativePath) throw new Error(`registry ${name} returned no build source upload URL`);

    const response = await fetch(upload.uploadUrl, { method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob', 'content-type': 'application/gzip' }, body: tarGz(input.files) });
    if (!response.ok) throw new Error(`upload of the build context to registry ${name} failed with HTTP ${response.status}`);

    const run = await this.management.registries.beginScheduleRunAndWait(group, name, {
      type: 'DockerBuildRequest',
      dockerFilePath: 'Dockerfile',
      imageNames: [`${input.repository}:${input.tag}`],
      isPushEnabled: true,
      platform: { os: 'Linux', architecture: 'amd64' },
      sourceLocation: upload.relativePath,
      timeout: Math.max(300, Math.round(input.timeoutSeconds)),
    });
    if (!run.runId) throw new Error(`registry ${name} scheduled a run without a run id`);
    return run.runId;
  }

  /** Reads a run and reduces it to running, succeeded with the pushed digest, or failed with the reason. */
  async runState(runId: string, repository: string): Promise<RunState> {
    const run: Run = await this.management.runs.get(this.settings.ACR_RESOURCE_GROUP, this.settings.ACR_NAME, runId);
    switch (run.status) {
      case 'Succeeded': {
        const output = run.outputImages?.find((i) => i.repository === repository) ?? run.outputImages?.[0];
        if (!output?.digest) return { status: 'failed', reason: `run ${runId} succeeded but reported no image digest for ${repository}` };
        return { status: 'succeeded', digest: output.digest };
      }
      case 'Failed':
      case 'Canceled':
      case 'Error':
      case 'Timeout':
        return { status: 'failed', reason: `run ${runId} ended ${run.status}${run.runErrorMessage ? `: ${run.runErrorMessage}` : ''}` };
      default:
        return { status: 'running' };
    }
  }
}

/** Packs files into a gzipped ustar archive, the build context format that ACR accepts. */
export function tarGz(files: ContextFile[]): Buffer {
  const blocks: Buffer[] = [];
  for (const file of files) {
    const body = typeof file.content === 'string' ? Buffer.from(file.content, 'utf8') : file.content;
    blocks.push(tarHeader(file.path, body.length), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

function tarHeader(path: string, size: number): Buffer {
  if (Buffer.byteLength(path) > 100) throw new Error(`build context path ${path} is longer than the 100 bytes a tar header holds`);
  const header = Buffer.alloc(512);
  header.write(path, 0, 'utf8');
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return header;
}
