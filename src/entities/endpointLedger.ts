import * as df from 'durable-functions';
import type { EntityContext } from 'durable-functions';

import type { AuditEntry, EndpointLedgerState } from '../contracts/ledger';
import { ledgerOperations } from '../contracts/ledger';
import type { ReleaseRequest } from '../contracts/release';
import { endpointEntityName } from '../contracts/release';
import { consoleLogger } from '../observability/log';
import * as ledger from './ledgerState';
import type { UpdateInput } from './ledgerState';

/**
 * Runs one operation on the ledger state and returns its result. Entity
 * operations run once each, not under replay, so the wall clock is safe here.
 */
export function applyLedgerOperation(state: EndpointLedgerState, operation: string, input: unknown, now: string): unknown {
  switch (operation) {
    case ledgerOperations.acquire:
      return ledger.acquire(state, input as ReleaseRequest, now);
    case ledgerOperations.update:
      return ledger.update(state, input as UpdateInput, now);
    case ledgerOperations.recordBuild:
      ledger.recordBuild(state, input as { releaseId: string; digest: string });
      return null;
    case ledgerOperations.recordRegistryPush:
      return ledger.recordRegistryPush(state, input as { digest: string; tag?: string; deliveryId: string }, now);
    case ledgerOperations.audit:
      ledger.audit(state, input as AuditEntry);
      return null;
    default:
      throw new Error(`endpointLedger has no operation "${operation}": expected one of ${Object.values(ledgerOperations).join(', ')}`);
  }
}

function endpointLedger(context: EntityContext<EndpointLedgerState>): void {
  const key = context.df.entityKey;
  const state = context.df.getState(() => ledger.emptyLedger(key)) ?? ledger.emptyLedger(key);
  const operation = context.df.operationName ?? '';
  try {
    const result = applyLedgerOperation(state, operation, context.df.getInput<unknown>(), new Date().toISOString());
    context.df.setState(state);
    context.df.return(result);
  } catch (error) {
    consoleLogger({ endpoint: key }).error('endpointLedger operation failed', { operation, error: (error as Error).message });
    throw error;
  }
}

df.app.entity(endpointEntityName, endpointLedger);
