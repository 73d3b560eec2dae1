// Child process for the Azure simulator tests. It runs the real Azure SDK
// clients in a fresh Node 22 process (which strips the types of this file),
// because NODE_EXTRA_CA_CERTS is read only at process start. It records every
// TCP connection the process opens, then prints one JSON line:
// {"result": ..., "connections": [...]} or {"error": ..., "connections": [...]}.
import net from 'node:net';
import { gzipSync } from 'node:zlib';

import { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import { ContainerServiceClient } from '@azure/arm-containerservice';
import { AzureMachineLearningWorkspaces } from '@azure/arm-machinelearning';
import { ContainerRegistryClient } from '@azure/container-registry';
import { DefaultAzureCredential } from '@azure/identity';

interface Connection {
  host: string;
  port: unknown;
}

const connections: Connection[] = [];
// eslint-disable-next-line @typescript-eslint/unbound-method -- re-bound with apply below
const originalConnect = net.Socket.prototype.connect as (this: net.Socket, ...args: unknown[]) => net.Socket;
// Every TCP client (http, https, undici, MSAL) ends in Socket#connect, so this sees all of them.
net.Socket.prototype.connect = function recordConnect(this: net.Socket, ...args: unknown[]): net.Socket {
  const first: unknown = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
  if (typeof first === 'object' && first !== null) {
    const options = first as { host?: string; port?: unknown };
    connections.push({ host: options.host ?? 'localhost', port: options.port ?? null });
  } else {
    connections.push({ host: typeof args[1] === 'string' ? args[1] : 'localhost', port: first });
  }
  return originalConnect.apply(this, args);
};

interface SimView {
  arm: { endpoint: string; subscriptionId: string };
  aks: { resourceGroup: string; clusterName: string };
  azureml: { resourceGroup: string; workspace: string };
  acr: { resourceGroup: string; name: string; endpoint: string };
}

interface ClientInput {
  name: string;
  version: string;
  tags: Record<string, string>;
  properties: Record<string, string>;
  pool: string;
  count: number;
  repository: string;
  reference: string;
  tag: string;
  /** Files of the build context; a Dockerfile alone when absent. */
  contextFiles?: Record<string, string>;
}

const sim = JSON.parse(process.env.SIM_ENDPOINTS_JSON ?? '{}') as SimView;
const input = JSON.parse(process.env.SIM_CLIENT_INPUT ?? '{}') as ClientInput;
const registryAudience = 'https://containerregistry.azure.net';
const finalRunStates = ['Succeeded', 'Failed', 'Canceled', 'Error', 'Timeout'];

/** Packs files into a gzipped ustar archive, the build context form ACR accepts. */
function tarGz(files: Record<string, string>): Buffer {
  const blocks: Buffer[] = [];
  for (const [path, content] of Object.entries(files)) {
    const body = Buffer.from(content);
    const header = Buffer.alloc(512);
    header.write(path, 0);
    header.write('0000644\0', 100);
    header.write(`${body.length.toString(8).padStart(11, '0')}\0`, 124);
    header.write('00000000000\0', 136);
    header.write('        ', 148);
    header.write('0', 156);
    header.write('ustar\0', 257);
    header.write('00', 263);
    const sum = header.reduce((total, byte) => total + byte, 0);
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

function machineLearningClient(): AzureMachineLearningWorkspaces {
  return new AzureMachineLearningWorkspaces(new DefaultAzureCredential(), sim.arm.subscriptionId, { endpoint: sim.arm.endpoint });
}

const actions: Record<string, () => Promise<unknown>> = {
  async token() {
    const token = await new DefaultAzureCredential().getToken('https://management.azure.com/.default');
    return { expiresOnTimestamp: token.expiresOnTimestamp, length: token.token.length };
  },

  async mlGetVersion() {
    return machineLearningClient().modelVersions.get(sim.azureml.resourceGroup, sim.azureml.workspace, input.name, input.version);
  },

  async mlUpdateTags() {
    const client = machineLearningClient();
    const current = await client.modelVersions.get(sim.azureml.resourceGroup, sim.azureml.workspace, input.name, input.version);
    const properties = { ...current.properties, tags: { ...current.properties.tags, ...input.tags }, properties: { ...current.properties.properties, ...input.properties } };
    await client.modelVersions.createOrUpdate(sim.azureml.resourceGroup, sim.azureml.workspace, input.name, input.version, { properties });
    return client.modelVersions.get(sim.azureml.resourceGroup, sim.azureml.workspace, input.name, input.version);
  },

  async aksScale() {
    const client = new ContainerServiceClient(new DefaultAzureCredential(), sim.arm.subscriptionId, { endpoint: sim.arm.endpoint });
    const pool = await client.agentPools.get(sim.aks.resourceGroup, sim.aks.clusterName, input.pool);
    const updated = await client.agentPools.beginCreateOrUpdateAndWait(sim.aks.resourceGroup, sim.aks.clusterName, input.pool, { ...pool, count: input.count }, { updateIntervalInMs: 50 });
    const cluster = await client.managedClusters.get(sim.aks.resourceGroup, sim.aks.clusterName);
    const credentials = await client.managedClusters.listClusterUserCredentials(sim.aks.resourceGroup, sim.aks.clusterName);
    const kubeconfig = Buffer.from(credentials.kubeconfigs?.[0]?.value ?? new Uint8Array()).toString('utf8');
    return {
      before: pool.count,
      after: updated.count,
      provisioningState: updated.provisioningState,
      clusterPools: (cluster.agentPoolProfiles ?? []).map((p) => [p.name, p.count]),
      kubeconfig,
    };
  },

  async acrManifest() {
    const client = new ContainerRegistryClient(sim.acr.endpoint, new DefaultAzureCredential(), { audience: registryAudience });
    const repositories: string[] = [];
    for await (const name of client.listRepositoryNames()) repositories.push(name);
    const manifest = await client.getArtifact(input.repository, input.reference).getManifestProperties();
    const tags: string[] = [];
    for await (const tag of client.getArtifact(input.repository, manifest.digest).listTagProperties()) tags.push(tag.name);
    return { repositories, digest: manifest.digest, registryLoginServer: manifest.registryLoginServer, repositoryName: manifest.repositoryName, tags };
  },

  async acrBuild() {
    const credential = new DefaultAzureCredential();
    const client = new ContainerRegistryManagementClient(credential, sim.arm.subscriptionId, { endpoint: sim.arm.endpoint });
    const upload = await client.registries.getBuildSourceUploadUrl(sim.acr.resourceGroup, sim.acr.name);
    const context = tarGz(input.contextFiles ?? { Dockerfile: 'FROM scratch\n' });
    const put = await fetch(upload.uploadUrl ?? '', { method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob', 'content-type': 'application/gzip' }, body: context });
    if (put.status !== 201) throw new Error(`build context upload answered ${put.status}`);

    const scheduled = await client.registries.beginScheduleRunAndWait(
      sim.acr.resourceGroup,
      sim.acr.name,
      {
        type: 'DockerBuildRequest',
        imageNames: [`${input.repository}:${input.tag}`],
        isPushEnabled: true,
        dockerFilePath: 'Dockerfile',
        sourceLocation: upload.relativePath,
        platform: { os: 'Linux', architecture: 'amd64' },
      },
      { updateIntervalInMs: 50 },
    );
    const runId = scheduled.runId ?? '';
    let run = scheduled;
    for (let attempt = 0; attempt < 200 && !finalRunStates.includes(run.status ?? ''); attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      run = await client.runs.get(sim.acr.resourceGroup, sim.acr.name, runId);
    }
    const logUrl = await client.runs.getLogSasUrl(sim.acr.resourceGroup, sim.acr.name, runId);
    const logs = await (await fetch(logUrl.logLink ?? '')).text();

    let registryDigest: string | null = null;
    if (run.status === 'Succeeded') {
      const registry = new ContainerRegistryClient(sim.acr.endpoint, credential, { audience: registryAudience });
      registryDigest = (await registry.getArtifact(input.repository, input.tag).getManifestProperties()).digest;
    }
    return { runId, status: run.status, outputImages: run.outputImages, runErrorMessage: run.runErrorMessage ?? null, logs, registryDigest };
  },
};

try {
  const action = actions[process.argv[2] ?? ''];
  if (!action) throw new Error(`unknown action ${process.argv[2] ?? '(none)'}`);
  const result = await action();
  process.stdout.write(`${JSON.stringify({ result, connections })}\n`);
} catch (error) {
  const details = error as { message?: string; statusCode?: number; code?: string };
  process.stdout.write(`${JSON.stringify({ error: { message: details.message ?? String(error), statusCode: details.statusCode ?? null, code: details.code ?? null }, connections })}\n`);
  process.exitCode = 1;
}
