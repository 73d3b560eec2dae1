/**
 * Every fixture payload through the trigger that would receive it, with the
 * outcome a user expects: started, ignored with the reason, or rejected.
 * Starts go through the real durable-functions client to a loopback Durable API.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

import { loadReleasePolicy } from '../../src/config/policy';
import { releaseOrchestratorName, type ReleaseRequest } from '../../src/contracts/release';
import { handleContainerRegistryEvent, handleModelRegistryEvent } from '../../src/functions/eventGrid';
import { handleAzureDevOpsWebhook, handleGitHubWebhook } from '../../src/functions/webhooks';
import type { IntakeOutcome } from '../../src/intake/outcome';
import { devOpsRequest, fixedNow, fixtureBytes, fixtureJson, fixturesDir, githubRequest, type Harness, outcomesOf, startHarness } from './helpers';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.server.stop();
});

function started(outcomes: IntakeOutcome[]): Extract<IntakeOutcome, { outcome: 'started' }>[] {
  return outcomes.filter((o): o is Extract<IntakeOutcome, { outcome: 'started' }> => o.outcome === 'started');
}

function inputOf(releaseId: string): ReleaseRequest {
  const instance = h.server.instances.get(releaseId);
  if (!instance) throw new Error(`no instance ${releaseId} was started`);
  expect(instance.name).toBe(releaseOrchestratorName);
  return instance.input as ReleaseRequest;
}

type EventGridCase = [file: string, handler: 'model' | 'registry', expected: { outcomes: string[]; reason?: RegExp; field?: string }];

const eventGridCases: EventGridCase[] = [
  ['eventgrid/subscription-validation.docs.json', 'model', { outcomes: ['ignored'], reason: /subscription validation is answered by the Functions host/ }],
  ['eventgrid/single-event-not-array.sdk-fixture.json', 'registry', { outcomes: ['ignored'], reason: /Microsoft.Storage.BlobDeleted is not a container registry event/ }],
  ['cloudevents/batch-empty.spec.json', 'model', { outcomes: [] }],
  ['cloudevents/batch-two-events.spec.json', 'model', { outcomes: ['ignored', 'ignored'], reason: /com\.example\.some(other)?event is not an Azure ML model registry event/ }],
  ['cloudevents/legacy-v0.1-blob-created.eventgrid-docs.json', 'registry', { outcomes: ['rejected'], reason: /CloudEvents version "0.1" is not supported/, field: 'cloudEventsVersion' }],
  ['azureml/model-deployed.cloudevents-specVersion-camelcase.rest-specs.json', 'model', { outcomes: ['ignored'], reason: /ModelDeployed does not start a release/ }],
  ['acr/image-deleted.eventgrid-schema.captured.rest-specs.json', 'registry', { outcomes: ['ignored'], reason: /ImageDeleted does not start a release/ }],
  ['acr/chart-pushed.eventgrid-schema.docs.json', 'registry', { outcomes: ['ignored'], reason: /ChartPushed does not start a release/ }],
  ['acr/chart-deleted.malformed-eventtime.docs.json', 'registry', { outcomes: ['ignored'], reason: /ChartDeleted does not start a release/ }],
  ['acr/chart-pushed.null-fields.sdk-fixture.json', 'registry', { outcomes: ['ignored'], reason: /ChartPushed does not start a release/ }],
  ['acr/image-pushed.placeholder-digest.sdk-fixture.json', 'registry', { outcomes: ['rejected'], reason: /data\.target\.digest/, field: 'data.target.digest' }],
];

describe('corpus through Event Grid functions', () => {
  test.each(eventGridCases)('%s', async (file, handler, expected) => {
    const run = handler === 'model' ? handleModelRegistryEvent : handleContainerRegistryEvent;
    const outcomes = await run(fixtureJson(file), h.deps);

    expect(outcomes.map((o) => o.outcome)).toEqual(expected.outcomes);
    for (const outcome of outcomes) {
      if (expected.reason && (outcome.outcome === 'ignored' || outcome.outcome === 'rejected')) expect(outcome.reason).toMatch(expected.reason);
      if (expected.field && outcome.outcome === 'rejected') expect(outcome.problems[0]?.field).toBe(expected.field);
    }
    expect(h.server.instances.size).toBe(0);
  });

  test('model registered, Event Grid schema, starts regression', async () => {
    const outcomes = await handleModelRegistryEvent(fixtureJson('azureml/model-registered.eventgrid-schema.docs.json'), h.deps);

    const [release] = started(outcomes);
    expect(outcomes).toHaveLength(1);
    expect(release?.endpoint).toBe('regression');
    const input = inputOf(release!.releaseId);
    expect(input.model).toEqual({ name: 'sklearn_regression_model', version: '20', workspaceId: expect.stringContaining('/workspaces/') as unknown });
    expect(input.source).toBe('azureml');
    expect(input.deliveryId).toBe('831e1650-001e-001b-66ab-eeb76e069631');
    expect(input.receivedAt).toBe(fixedNow.toISOString());
    expect(input.releaseKey).toBe('model|regression|sklearn_regression_model|20');
  });

  test('model registered, CloudEvents batch of one, is the same release', async () => {
    const first = await handleModelRegistryEvent(fixtureJson('azureml/model-registered.eventgrid-schema.docs.json'), h.deps);
    const second = await handleModelRegistryEvent(fixtureJson('azureml/model-registered.cloudevents-array.docs.json'), h.deps);

    expect(started(first)).toHaveLength(1);
    expect(second).toEqual([expect.objectContaining({ outcome: 'duplicate', releaseId: started(first)[0]!.releaseId })]);
    expect(h.server.instances.size).toBe(1);
  });

  test('image pushed, Event Grid schema, starts nginx-demo by digest', async () => {
    const outcomes = await handleContainerRegistryEvent(fixtureJson('acr/image-pushed.eventgrid-schema.captured.rest-specs.json'), h.deps);

    const [release] = started(outcomes);
    expect(release?.endpoint).toBe('nginx-demo');
    expect(inputOf(release!.releaseId).image).toEqual({
      registry: 'contosocr.azurecr.io',
      repository: 'samples/nginx',
      digest: 'sha256:57a94fc99816c6aa225678b738ac40d85422e75dbb96115f1bb9b6ed77176166',
      tag: 'latest',
    });
  });

  test('image pushed, CloudEvents single, is the same release', async () => {
    await handleContainerRegistryEvent(fixtureJson('acr/image-pushed.eventgrid-schema.captured.rest-specs.json'), h.deps);
    const outcomes = await handleContainerRegistryEvent(fixtureJson('acr/image-pushed.cloudevents-single.captured.rest-specs.json'), h.deps);

    expect(outcomes.map((o) => o.outcome)).toEqual(['duplicate']);
    expect(h.server.instances.size).toBe(1);
  });

  test('chart deleted with malformed time logs the bad time', async () => {
    await handleContainerRegistryEvent(fixtureJson('acr/chart-deleted.malformed-eventtime.docs.json'), h.deps);

    expect(h.lines.some((line) => line.includes('eventTime \\"019-03-12T22:42:08.7034064Z\\" is not an RFC 3339 time'))).toBe(true);
  });

  test('specVersion spelling is logged', async () => {
    await handleModelRegistryEvent(fixtureJson('azureml/model-deployed.cloudevents-specVersion-camelcase.rest-specs.json'), h.deps);

    expect(h.lines.some((line) => line.includes('should be spelled \\"specversion\\"'))).toBe(true);
  });
});

type WebhookCase = [file: string, event: string, expected: { status: number; outcome: string; reason?: RegExp; endpoint?: string }];

const githubCases: WebhookCase[] = [
  ['github/ping.octokit.json', 'ping', { status: 200, outcome: 'ignored', reason: /ping/ }],
  ['github/push.default-branch.drone-fixture.json', 'push', { status: 202, outcome: 'started', endpoint: 'nginx-demo' }],
  ['github/push.non-default-branch-created.drone-fixture.json', 'push', { status: 200, outcome: 'ignored', reason: /branch feature-branch is not one of the policy's branches \(master\)/ }],
  ['github/push.tag-created.drone-fixture.json', 'push', { status: 202, outcome: 'started', endpoint: 'drone-demo' }],
  ['github/push.tag-deleted.octokit.json', 'push', { status: 200, outcome: 'ignored', reason: /refs\/tags\/simple-tag was deleted/ }],
  ['github/registry_package.published.docker.octokit.json', 'registry_package', { status: 200, outcome: 'ignored', reason: /registry_package does not start a release/ }],
  ['github/release.published.octokit.json', 'release', { status: 202, outcome: 'started', endpoint: 'nginx-demo' }],
  ['github/workflow_run.completed.octokit.json', 'workflow_run', { status: 200, outcome: 'ignored', reason: /workflow_run does not start a release/ }],
];

const devOpsCases: WebhookCase[] = [
  ['azure-devops/git.push.docs.json', 'git.push', { status: 202, outcome: 'started', endpoint: 'nginx-demo' }],
  ['azure-devops/git.pullrequest.merged.docs.json', 'git.pullrequest.merged', { status: 202, outcome: 'started', endpoint: 'nginx-demo' }],
  ['azure-devops/build.complete.docs.json', 'build.complete', { status: 200, outcome: 'ignored', reason: /build.complete does not start a release/ }],
];

function expectWebhookAnswer(response: { status?: number; jsonBody?: unknown }, expected: WebhookCase[2]): IntakeOutcome {
  expect(response.status).toBe(expected.status);
  const outcomes = outcomesOf(response.jsonBody);
  expect(outcomes).toHaveLength(1);
  const outcome = outcomes[0]!;
  expect(outcome.outcome).toBe(expected.outcome);
  if (expected.reason && outcome.outcome === 'ignored') expect(outcome.reason).toMatch(expected.reason);
  if (expected.endpoint && outcome.outcome === 'started') expect(outcome.endpoint).toBe(expected.endpoint);
  return outcome;
}

describe('corpus through webhooks', () => {
  test.each(githubCases)('%s', async (file, event, expected) => {
    const response = await handleGitHubWebhook(githubRequest(fixtureBytes(file), { event }), h.deps);

    const outcome = expectWebhookAnswer(response, expected);
    expect(h.server.instances.size).toBe(outcome.outcome === 'started' ? 1 : 0);
  });

  test.each(devOpsCases)('%s', async (file, _event, expected) => {
    const response = await handleAzureDevOpsWebhook(devOpsRequest(fixtureBytes(file)), h.deps);

    const outcome = expectWebhookAnswer(response, expected);
    expect(h.server.instances.size).toBe(outcome.outcome === 'started' ? 1 : 0);
  });

  test('GitHub push carries repository, ref and commit', async () => {
    const response = await handleGitHubWebhook(githubRequest(fixtureBytes('github/push.default-branch.drone-fixture.json'), { event: 'push', delivery: 'd-1' }), h.deps);

    const outcome = outcomesOf(response.jsonBody)[0]!;
    const input = inputOf((outcome as { releaseId: string }).releaseId);
    expect(input.git).toEqual({ repository: 'Codertocat/Hello-World', ref: 'refs/heads/master', commit: '199eddf46df50de8d02e99bf1c5fdb4101338224' });
    expect(input.causedBy).toEqual({ kind: 'webhook', id: 'github:Codertocat', displayName: 'Codertocat' });
    expect(input.deliveryId).toBe('d-1');
  });

  test('GitHub release is keyed by its tag', async () => {
    const response = await handleGitHubWebhook(githubRequest(fixtureBytes('github/release.published.octokit.json'), { event: 'release' }), h.deps);

    const outcome = outcomesOf(response.jsonBody)[0] as { releaseId: string };
    expect(inputOf(outcome.releaseId).git).toEqual({ repository: 'Codertocat/Hello-World', ref: 'refs/tags/0.0.1', commit: 'refs/tags/0.0.1' });
  });

  test('Azure DevOps merge carries the merge commit', async () => {
    const response = await handleAzureDevOpsWebhook(devOpsRequest(fixtureBytes('azure-devops/git.pullrequest.merged.docs.json')), h.deps);

    const outcome = outcomesOf(response.jsonBody)[0] as { releaseId: string };
    expect(inputOf(outcome.releaseId).git).toEqual({ repository: 'Fabrikam/Fabrikam', ref: 'refs/heads/master', commit: 'eef717f69257a6333f221566c1c987dc94cc0d72' });
  });

  test('Azure DevOps push names project and repository', async () => {
    const response = await handleAzureDevOpsWebhook(devOpsRequest(fixtureBytes('azure-devops/git.push.docs.json')), h.deps);

    const outcome = outcomesOf(response.jsonBody)[0] as { releaseId: string };
    expect(inputOf(outcome.releaseId).git).toEqual({ repository: 'Fabrikam-Fiber-Git/Fabrikam-Fiber-Git', ref: 'refs/heads/master', commit: '33b55f7cb7e7e245323987634f960cf4a6e6bc74' });
  });
});

describe('corpus documents that are not intake events', () => {
  const others = ['imds-scheduled-events', 'aks'].flatMap((dir) => readdirSync(join(fixturesDir, dir)).map((file) => `${dir}/${file}`));

  test.each(others)('%s is rejected by every trigger', async (file) => {
    const model = await handleModelRegistryEvent(fixtureJson(file), h.deps);
    const registry = await handleContainerRegistryEvent(fixtureJson(file), h.deps);
    const github = await handleGitHubWebhook(githubRequest(fixtureBytes(file), { event: 'push' }), h.deps);
    const devOps = await handleAzureDevOpsWebhook(devOpsRequest(fixtureBytes(file)), h.deps);

    expect([...model, ...registry].map((o) => o.outcome)).toEqual(['rejected', 'rejected']);
    expect(github.status).toBe(400);
    expect(devOps.status).toBe(400);
    expect(h.server.instances.size).toBe(0);
  });
});

test('every fixture file has a test', () => {
  const covered = new Set([...eventGridCases.map((c) => c[0]), ...githubCases.map((c) => c[0]), ...devOpsCases.map((c) => c[0]),
    'azureml/model-registered.eventgrid-schema.docs.json', 'azureml/model-registered.cloudevents-array.docs.json',
    'acr/image-pushed.eventgrid-schema.captured.rest-specs.json', 'acr/image-pushed.cloudevents-single.captured.rest-specs.json']);
  const dirs = readdirSync(fixturesDir, { withFileTypes: true }).filter((d) => d.isDirectory() && !['imds-scheduled-events', 'aks'].includes(d.name));
  const files = dirs.flatMap((d) => readdirSync(join(fixturesDir, d.name)).map((f) => `${d.name}/${f}`));
  expect(files.filter((f) => !covered.has(f))).toEqual([]);
});

describe('corpus with the local stack policy', () => {
  const localPolicy = (): ReturnType<typeof loadReleasePolicy> => loadReleasePolicy(join(__dirname, '../../config/release-policy.local.yaml'));

  test('model registered starts regression', async () => {
    const outcomes = await handleModelRegistryEvent(fixtureJson('azureml/model-registered.eventgrid-schema.docs.json'), { ...h.deps, policy: localPolicy() });

    expect(outcomes).toEqual([expect.objectContaining({ outcome: 'started', endpoint: 'regression' })]);
  });

  test('image pushed starts nginx-demo', async () => {
    const outcomes = await handleContainerRegistryEvent(fixtureJson('acr/image-pushed.cloudevents-single.captured.rest-specs.json'), { ...h.deps, policy: localPolicy() });

    expect(outcomes).toEqual([expect.objectContaining({ outcome: 'started', endpoint: 'nginx-demo' })]);
  });
});
