import * as df from 'durable-functions';
import type { EntityContext } from 'durable-functions';

import type { EndpointLedgerState } from '../contracts/ledger';
import { endpointEntityName } from '../contracts/release';
import { consoleLogger } from '../observability/log';
import { applyLedgerOperation, emptyLedger } from './ledgerState';

function endpointLedger(context: EntityContext<EndpointLedgerState>): void {
  const key = context.df.entityKey;
  const state = context.df.getState(() => emptyLedger(key)) ?? emptyLedger(key);
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
