/**
 * Registers the cluster activities with durable-functions. The Kubernetes
 * client is created on first use from the app settings and shared by every
 * later invocation in the process, so tokens and connections are reused.
 */
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';

import { clusterActivities } from './clusterContract';
import { clusterActivityHandlers, toBoundaryError } from './clusterHandlers';
import type { ClusterDeps } from './clusterHandlers';
import { createKubeClient } from '../src/clients/kube';
import { getSettings } from '../src/config/settings';
import type { ReleaseTarget } from '../src/contracts/target';
import { consoleLogger, errorText, invocationLogger } from '../src/observability/log';

let handlers: Promise<ReturnType<typeof clusterActivityHandlers>> | undefined;

function sharedHandlers(): Promise<ReturnType<typeof clusterActivityHandlers>> {
  handlers ??= createKubeClient(getSettings(), consoleLogger())
    .then((kube) => clusterActivityHandlers({ kube, log: consoleLogger({ component: 'cluster-activities' }) } satisfies ClusterDeps))
    .catch((error: unknown) => {
      // Forget the failure so that the next invocation tries again, for example after the identity endpoint recovers.
      handlers = undefined;
      throw error;
    });
  return handlers;
}

for (const descriptor of Object.values(clusterActivities)) {
  df.app.activity(descriptor.name, {
    handler: async (input: unknown, context: InvocationContext): Promise<unknown> => {
      const target = (input as { target?: ReleaseTarget } | undefined)?.target;
      const log = invocationLogger(context, { activity: descriptor.name, releaseId: target?.releaseId, endpoint: target?.endpoint, namespace: target?.namespace });
      try {
        const all = await sharedHandlers();
        const run = all[descriptor.name as keyof typeof all] as (value: unknown) => Promise<unknown>;
        return await run(input);
      } catch (error) {
        const boundary = toBoundaryError(error);
        log.error('cluster activity failed', { error: errorText(error), kind: boundary.name, stack: error instanceof Error ? error.stack : undefined });
        throw boundary;
      }
    },
  });
}
