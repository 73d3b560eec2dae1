#!/usr/bin/env node
/**
 * Scales an AKS agent pool through Azure Resource Manager with the app's own
 * SDK and credential, as an operator would. `npm start` runs it in a child
 * process because NODE_EXTRA_CA_CERTS (the sim's CA) is read only at start-up.
 *
 *   node scripts/start/scale-pool.js POOL COUNT   (settings from the environment, as appSettingsFromSim gives them)
 */
'use strict';

const { ContainerServiceClient } = require('@azure/arm-containerservice');
const { DefaultAzureCredential } = require('@azure/identity');

async function main() {
  const [pool, countText] = process.argv.slice(2);
  const count = Number(countText);
  if (!pool || !Number.isInteger(count) || count < 1) throw new Error('usage: scale-pool.js POOL COUNT');
  const env = process.env;
  const endpoint = env.AZURE_RESOURCE_MANAGER_ENDPOINT;
  const client = new ContainerServiceClient(new DefaultAzureCredential(), env.AZURE_SUBSCRIPTION_ID, { endpoint, credentialScopes: [`${endpoint}/.default`] });
  const current = await client.agentPools.get(env.AKS_RESOURCE_GROUP, env.AKS_CLUSTER_NAME, pool);
  if ((current.count ?? 0) >= count) {
    process.stdout.write(`agent pool ${pool} already has ${current.count} nodes\n`);
    return;
  }
  await client.agentPools.beginCreateOrUpdateAndWait(env.AKS_RESOURCE_GROUP, env.AKS_CLUSTER_NAME, pool, { ...current, count });
  process.stdout.write(`agent pool ${pool} scaled from ${current.count} to ${count} nodes\n`);
}

main().catch((error) => {
  process.stderr.write(`scaling failed: ${error.message}\n`);
  process.exit(1);
});
