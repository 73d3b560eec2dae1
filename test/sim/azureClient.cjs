'use strict';
// Child process for the Azure simulator tests. It runs the real Azure SDK
// clients in a fresh Node 22 process, because NODE_EXTRA_CA_CERTS is read only
// at process start. It records every TCP connection the process opens, then
// prints one JSON line: {"result": ..., "connections": [...]} or {"error": ...}.
const net = require('node:net');

const connections = [];
const originalConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function recordConnect(...args) {
  const first = args[0];
  const options = Array.isArray(first) ? first[0] : first;
  if (options && typeof options === 'object') {
    connections.push({ host: options.host ?? 'localhost', port: options.port ?? null, path: options.path ?? null });
  } else {
    connections.push({ host: typeof args[1] === 'string' ? args[1] : 'localhost', port: first });
  }
  return originalConnect.apply(this, args);
};

const { DefaultAzureCredential } = require('@azure/identity');

const sim = JSON.parse(process.env.SIM_ENDPOINTS_JSON ?? '{}');
const input = JSON.parse(process.env.SIM_CLIENT_INPUT ?? '{}');

async function machineLearningClient() {
  const { AzureMachineLearningWorkspaces } = require('@azure/arm-machinelearning');
  return new AzureMachineLearningWorkspaces(new DefaultAzureCredential(), sim.arm.subscriptionId, { endpoint: sim.arm.endpoint });
}

const actions = {
  async token() {
    const token = await new DefaultAzureCredential().getToken('https://management.azure.com/.default');
    return { expiresOnTimestamp: token.expiresOnTimestamp, length: token.token.length };
  },

  async mlGetVersion() {
    const client = await machineLearningClient();
    return client.modelVersions.get(sim.azureml.resourceGroup, sim.azureml.workspace, input.name, input.version);
  },

  async mlUpdateTags() {
    const client = await machineLearningClient();
    const current = await client.modelVersions.get(sim.azureml.resourceGroup, sim.azureml.workspace, input.name, input.version);
    current.properties.tags = { ...current.properties.tags, ...input.tags };
    current.properties.properties = { ...current.properties.properties, ...input.properties };
    await client.modelVersions.createOrUpdate(sim.azureml.resourceGroup, sim.azureml.workspace, input.name, input.version, { properties: current.properties });
    return client.modelVersions.get(sim.azureml.resourceGroup, sim.azureml.workspace, input.name, input.version);
  },

  async mlListVersions() {
    const client = await machineLearningClient();
    const versions = [];
    for await (const version of client.modelVersions.list(sim.azureml.resourceGroup, sim.azureml.workspace, input.name)) versions.push(version.name);
    return versions;
  },

  async aksScale() {
    const { ContainerServiceClient } = require('@azure/arm-containerservice');
    const client = new ContainerServiceClient(new DefaultAzureCredential(), sim.arm.subscriptionId, { endpoint: sim.arm.endpoint });
    const pool = await client.agentPools.get(sim.aks.resourceGroup, sim.aks.clusterName, input.pool);
    const updated = await client.agentPools.beginCreateOrUpdateAndWait(
      sim.aks.resourceGroup,
      sim.aks.clusterName,
      input.pool,
      { ...pool, count: input.count },
      { updateIntervalInMs: 50 },
    );
    const cluster = await client.managedClusters.get(sim.aks.resourceGroup, sim.aks.clusterName);
    const credentials = await client.managedClusters.listClusterUserCredentials(sim.aks.resourceGroup, sim.aks.clusterName);
    const kubeconfig = Buffer.from(credentials.kubeconfigs?.[0]?.value ?? []).toString('utf8');
    return { before: pool.count, after: updated.count, provisioningState: updated.provisioningState, clusterPools: cluster.agentPoolProfiles.map((p) => [p.name, p.count]), kubeconfig };
  },

  async acrManifest() {
    const { ContainerRegistryClient } = require('@azure/container-registry');
    const client = new ContainerRegistryClient(sim.acr.endpoint, new DefaultAzureCredential(), { audience: 'https://containerregistry.azure.net' });
    const repositories = [];
    for await (const name of client.listRepositoryNames()) repositories.push(name);
    const manifest = await client.getArtifact(input.repository, input.reference).getManifestProperties();
    const tags = [];
    for await (const tag of client.getArtifact(input.repository, manifest.digest).listTagProperties()) tags.push(tag.name);
    return { repositories, digest: manifest.digest, registryLoginServer: manifest.registryLoginServer, repositoryName: manifest.repositoryName, tags };
  },

  async acrBuild() {
    const { ContainerRegistryManagementClient } = require('@azure/arm-containerregistry');
    const { ContainerRegistryClient } = require('@azure/container-registry');
    const credential = new DefaultAzureCredential();
    const client = new ContainerRegistryManagementClient(credential, sim.arm.subscriptionId, { endpoint: sim.arm.endpoint });
    const upload = await client.registries.getBuildSourceUploadUrl(sim.acr.resourceGroup, sim.acr.name);
    const put = await fetch(upload.uploadUrl, { method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob' }, body: Buffer.from('FROM scratch\n') });
    if (put.status !== 201) throw new Error(`upload answered ${put.status}`);
    const scheduled = await client.registries.beginScheduleRunAndWait(sim.acr.resourceGroup, sim.acr.name, {
      type: 'DockerBuildRequest',
      imageNames: [`${input.repository}:${input.tag}`],
      isPushEnabled: true,
      dockerFilePath: 'Dockerfile',
      sourceLocation: upload.relativePath,
      platform: { os: 'Linux', architecture: 'amd64' },
    }, { updateIntervalInMs: 50 });
    let run = scheduled;
    for (let attempt = 0; attempt < 200 && !['Succeeded', 'Failed', 'Canceled', 'Error', 'Timeout'].includes(run.status); attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      run = await client.runs.get(sim.acr.resourceGroup, sim.acr.name, scheduled.runId);
    }
    const logUrl = await client.runs.getLogSasUrl(sim.acr.resourceGroup, sim.acr.name, run.runId);
    const logs = await (await fetch(logUrl.logLink)).text();
    let registryDigest = null;
    if (run.status === 'Succeeded') {
      const registry = new ContainerRegistryClient(sim.acr.endpoint, credential, { audience: 'https://containerregistry.azure.net' });
      registryDigest = (await registry.getArtifact(input.repository, input.tag).getManifestProperties()).digest;
    }
    return { runId: run.runId, status: run.status, outputImages: run.outputImages, runErrorMessage: run.runErrorMessage ?? null, logs, registryDigest };
  },
};

(async () => {
  const action = actions[process.argv[2]];
  if (!action) throw new Error(`unknown action ${process.argv[2]}`);
  const result = await action();
  process.stdout.write(`${JSON.stringify({ result, connections })}\n`);
})().catch((error) => {
  process.stdout.write(`${JSON.stringify({ error: { message: error.message, statusCode: error.statusCode ?? null, code: error.code ?? null }, connections })}\n`);
  process.exitCode = 1;
});
