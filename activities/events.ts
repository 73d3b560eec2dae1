import { output } from '@azure/functions';
import * as df from 'durable-functions';

import { invocationLogger } from '../src/observability/log';
import { registerActivity } from './register';
import { releaseActivities } from './releaseContract';

/** Service Bus output binding of the release events topic; the topic name is the RELEASE_EVENTS_TOPIC setting. */
const releaseEventsTopic = output.serviceBusTopic({ topicName: '%RELEASE_EVENTS_TOPIC%', connection: 'ServiceBusConnection' });

registerActivity(
  releaseActivities.publishReleaseEvent,
  (event, context) => {
    context.extraOutputs.set(releaseEventsTopic, event);
    invocationLogger(context, { releaseId: event.releaseId, endpoint: event.endpoint, phase: event.phase }).info('release event published', { kind: event.kind });
    return { published: true as const };
  },
  { extraOutputs: [releaseEventsTopic] },
);

registerActivity(
  releaseActivities.notifyNextRelease,
  async (input, context) => {
    const client = df.getClient(context);
    try {
      await client.raiseEvent(input.releaseId, 'turn', { from: input.from });
    } catch (error) {
      // The next release polls the ledger too, so a missing instance only delays it.
      invocationLogger(context, { releaseId: input.releaseId }).warn('turn event not raised', { error: (error as Error).message, from: input.from });
      return { notified: false };
    }
    return { notified: true };
  },
  { extraInputs: [df.input.durableClient()] },
);
