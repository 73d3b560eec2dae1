import * as df from 'durable-functions';

import { errorText, invocationLogger, type Logger } from '../observability/log';
import { imageOf, parseContainerRegistryEvent } from '../events/acr';
import { parseModelRegistryEvent } from '../events/azureml';
import { type EventEnvelope, parseEnvelope, splitDelivery } from '../events/envelope';
import { currentPolicy, type IntakeDeps, logOutcomes, receivedAt } from '../intake/deps';
import { endpointsBuildingInto, endpointsForImage, endpointsForModel } from '../intake/match';
import { ignored, type IntakeOutcome, rejected } from '../intake/outcome';
import { buildRequest, type Delivery } from '../intake/request';
import { recordBuiltPush, startReleases } from '../intake/start';
import { durableStarter } from '../intake/starter';
import { TransientError } from '../errors';

type EventFlow = (event: EventEnvelope, deps: IntakeDeps, log: Logger) => Promise<IntakeOutcome[]>;

const validationType = 'microsoft.eventgrid.subscriptionvalidationevent';

/**
 * Runs one delivery (one event, or a batch) through a flow. Bad input is
 * logged and acknowledged: the host responds to Event Grid for the whole delivery,
 * so a throw here would redeliver every event in it. Only TransientError
 * escapes, so that Event Grid retries when the Durable backend is down.
 */
async function runDelivery(input: unknown, deps: IntakeDeps, flow: EventFlow): Promise<IntakeOutcome[]> {
  const outcomes: IntakeOutcome[] = [];
  for (const item of splitDelivery(input)) {
    const parsed = parseEnvelope(item);
    if (!parsed.ok) {
      const log = deps.log.with({ eventId: parsed.id, eventType: parsed.type });
      const outcome = rejected(parsed.reason, [{ field: parsed.field, problem: parsed.reason, expected: parsed.expected }]);
      logOutcomes(log, [outcome]);
      outcomes.push(outcome);
      continue;
    }
    outcomes.push(...(await runEvent(parsed.event, deps, flow)));
  }
  return outcomes;
}

async function runEvent(event: EventEnvelope, deps: IntakeDeps, flow: EventFlow): Promise<IntakeOutcome[]> {
  const log = deps.log.with({ eventId: event.id, deliveryId: event.id, eventType: event.type, source: event.source });
  for (const warning of event.warnings) log.warn('event envelope accepted with a problem', { reason: warning });
  if (event.type.toLowerCase() === validationType) {
    const outcome = ignored('subscription validation is answered by the Functions host, not by this function');
    logOutcomes(log, [outcome]);
    return [outcome];
  }
  try {
    const outcomes = await flow(event, deps, log);
    logOutcomes(log, outcomes);
    return outcomes;
  } catch (error) {
    if (error instanceof TransientError) throw error;
    const outcome = rejected(`event could not be processed: ${errorText(error)}`);
    log.error('event acknowledged after an unexpected error', { outcome: 'rejected', error: errorText(error) });
    return [outcome];
  }
}

function eventDelivery(event: EventEnvelope, deps: IntakeDeps, displayName: string): Delivery {
  return { deliveryId: event.id, causedBy: { kind: 'event', id: event.source ?? event.type, displayName }, receivedAt: receivedAt(deps) };
}

const modelRegistryFlow: EventFlow = async (event, deps, log) => {
  const parsed = parseModelRegistryEvent(event);
  if (parsed.kind === 'outcome') return [parsed.outcome];

  const endpoints = endpointsForModel(deps.policy, parsed.model);
  if (endpoints.length === 0) {
    return [ignored(`no endpoint in the release policy lists model ${parsed.model.name}${parsed.model.workspaceId ? ` from workspace ${parsed.model.workspaceId}` : ''}`)];
  }
  const delivery = eventDelivery(event, deps, 'Azure Machine Learning');
  const requests = endpoints.map((endpoint) => buildRequest({ source: 'azureml', endpoint: endpoint.name, model: parsed.model }, delivery));
  return startReleases(deps.starter, requests, log.with({ modelName: parsed.model.name, modelVersion: parsed.model.version }));
};

const containerRegistryFlow: EventFlow = async (event, deps, log) => {
  const parsed = parseContainerRegistryEvent(event);
  if (parsed.kind === 'outcome') return [parsed.outcome];
  const push = parsed.push;

  const recorded: IntakeOutcome[] = [];
  for (const endpoint of endpointsBuildingInto(deps.policy, push)) {
    const outcome = await recordBuiltPush(deps.starter, { endpoint: endpoint.name, digest: push.digest, deliveryId: event.id, ...(push.tag ? { tag: push.tag } : {}) }, log);
    if (outcome) recorded.push(outcome);
  }
  if (recorded.length > 0) return recorded;

  if (push.tag === undefined) {
    return [ignored(`push of ${push.repository}@${push.digest} carries no tag; an untagged push starts nothing, and the tagged push of the same digest starts the release`)];
  }
  const matches = endpointsForImage(deps.policy, push);
  if (matches.length === 0) {
    return [ignored(`no endpoint in the release policy takes images from ${push.registry ?? push.registryName ?? '(unknown registry)'}/${push.repository}`)];
  }
  const delivery = eventDelivery(event, deps, 'Azure Container Registry');
  const requests = matches.map((m) => buildRequest({ source: 'acr', endpoint: m.endpoint.name, image: imageOf(push, m.registry) }, delivery));
  return startReleases(deps.starter, requests, log);
};

/** Handles Azure ML model registry events: ModelRegistered starts a release per endpoint the policy maps the model to. */
export function handleModelRegistryEvent(input: unknown, deps: IntakeDeps): Promise<IntakeOutcome[]> {
  return runDelivery(input, deps, modelRegistryFlow);
}

/** Handles ACR events: ImagePushed with a tag starts a release by digest; pushes of built digests join their release. */
export function handleContainerRegistryEvent(input: unknown, deps: IntakeDeps): Promise<IntakeOutcome[]> {
  return runDelivery(input, deps, containerRegistryFlow);
}

df.app.client.eventGrid('modelRegistryEvents', {
  handler: async (event, client, context) => {
    await handleModelRegistryEvent(event, { starter: durableStarter(client), policy: currentPolicy(), log: invocationLogger(context, { source: 'azureml' }) });
  },
});

df.app.client.eventGrid('containerRegistryEvents', {
  handler: async (event, client, context) => {
    await handleContainerRegistryEvent(event, { starter: durableStarter(client), policy: currentPolicy(), log: invocationLogger(context, { source: 'acr' }) });
  },
});
