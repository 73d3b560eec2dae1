import * as df from 'durable-functions';

import type { EndpointLedgerState } from '../contracts/ledger';
import type { ReleaseActionEvent, ReleaseStatus } from '../contracts/phases';
import { endpointEntityName, releaseOrchestratorName, type ReleaseRequest } from '../contracts/release';
import { TransientError } from '../errors';

/** Status of an existing release instance, as intake reads it. */
export interface ReleaseInstance {
  instanceId: string;
  /** Durable runtime status: Pending, Running, Completed, Failed, Terminated, … */
  runtimeStatus: string;
  customStatus?: Partial<ReleaseStatus>;
  input?: ReleaseRequest;
  output?: unknown;
  createdTime?: string;
  lastUpdatedTime?: string;
}

/**
 * The small part of the Durable client that intake uses. Triggers receive it
 * instead of the client so that handlers can be called directly. Every method
 * throws TransientError when the Durable backend cannot be reached.
 */
export interface ReleaseStarter {
  /** Returns the instance, or undefined when no instance has the id. */
  getRelease(instanceId: string): Promise<ReleaseInstance | undefined>;
  startRelease(request: ReleaseRequest): Promise<void>;
  /** Returns the endpointLedger entity state, or undefined when the entity does not exist yet. */
  readLedger(endpoint: string): Promise<EndpointLedgerState | undefined>;
  signalLedger(endpoint: string, operation: string, input: unknown): Promise<void>;
  /** Raises a manual action as an external event; returns false when the instance is unknown. */
  raiseAction(instanceId: string, event: ReleaseActionEvent): Promise<boolean>;
}

/** Message fragment durable-functions 3.5 uses for a 404 from getStatus; there is no status code on the error. */
const notFoundMarker = /replied with HTTP 404/;
const noInstanceMarker = /^No instance with ID/;

function transient(what: string, error: unknown): TransientError {
  const detail = error instanceof Error ? error.message : String(error);
  return new TransientError(`${what} failed: ${detail}. Check that the Durable Functions backend is reachable; Event Grid and the webhook sender retry.`, { cause: error });
}

function timeText(value: unknown): string | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  return typeof value === 'string' ? value : undefined;
}

/** Adapts the durable-functions client to ReleaseStarter. */
export function durableStarter(client: df.DurableClient): ReleaseStarter {
  return {
    async getRelease(instanceId) {
      let status: df.DurableOrchestrationStatus;
      try {
        status = await client.getStatus(instanceId, { showInput: true });
      } catch (error) {
        if (error instanceof Error && notFoundMarker.test(error.message)) return undefined;
        throw transient(`reading status of instance ${instanceId}`, error);
      }
      const instance: ReleaseInstance = { instanceId, runtimeStatus: String(status.runtimeStatus) };
      if (status.customStatus !== null && typeof status.customStatus === 'object') instance.customStatus = status.customStatus;
      if (status.input !== null && typeof status.input === 'object') instance.input = status.input as ReleaseRequest;
      if (status.output !== undefined && status.output !== null) instance.output = status.output;
      const created = timeText(status.createdTime);
      const updated = timeText(status.lastUpdatedTime);
      if (created !== undefined) instance.createdTime = created;
      if (updated !== undefined) instance.lastUpdatedTime = updated;
      return instance;
    },

    async startRelease(request) {
      try {
        await client.startNew(releaseOrchestratorName, { instanceId: request.instanceId, input: request });
      } catch (error) {
        throw transient(`starting ${releaseOrchestratorName} instance ${request.instanceId}`, error);
      }
    },

    async readLedger(endpoint) {
      try {
        const response = await client.readEntityState<EndpointLedgerState>(new df.EntityId(endpointEntityName, endpoint));
        return response.entityExists ? response.entityState : undefined;
      } catch (error) {
        throw transient(`reading ${endpointEntityName} entity of endpoint ${endpoint}`, error);
      }
    },

    async signalLedger(endpoint, operation, input) {
      try {
        await client.signalEntity(new df.EntityId(endpointEntityName, endpoint), operation, input);
      } catch (error) {
        throw transient(`signalling ${operation} to ${endpointEntityName} entity of endpoint ${endpoint}`, error);
      }
    },

    async raiseAction(instanceId, event) {
      try {
        await client.raiseEvent(instanceId, event.action, event);
        return true;
      } catch (error) {
        if (error instanceof Error && noInstanceMarker.test(error.message)) return false;
        throw transient(`raising ${event.action} on instance ${instanceId}`, error);
      }
    },
  };
}
