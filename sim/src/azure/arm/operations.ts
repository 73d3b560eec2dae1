import { randomUUID } from 'node:crypto';

import type { Logger } from '../../../../src/observability/log';
import { type SimResponse, armError } from '../http';

type OperationStatus = 'InProgress' | 'Succeeded' | 'Failed';

interface Operation {
  id: string;
  /** Path prefix the status URL lives under, such as `/subscriptions/<id>/providers/Microsoft.ContainerService/locations/<region>`. */
  scope: string;
  status: OperationStatus;
  startTime: string;
  endTime?: string;
  error?: { code: string; message: string };
  /** True once the work behind the operation has settled. */
  settled: boolean;
  /** Number of status reads answered so far. */
  polls: number;
}

/**
 * Asynchronous operations behind ARM long-running operations. A write starts
 * work, answers 200/201 with an `Azure-AsyncOperation` header, and the client
 * polls the status URL until Succeeded or Failed, as ARM resource providers do.
 */
export class AsyncOperations {
  private readonly operations = new Map<string, Operation>();

  constructor(private readonly log: Logger) {}

  /**
   * Starts `work` and returns the operation id. A failure of `work` ends the
   * operation as Failed with the error's message; it is logged, not thrown.
   */
  start(scope: string, description: string, work: () => Promise<void>): string {
    const id = randomUUID();
    const operation: Operation = { id, scope, status: 'InProgress', startTime: new Date().toISOString(), settled: false, polls: 0 };
    this.operations.set(id, operation);
    void work().then(
      () => {
        operation.settled = true;
      },
      (error: unknown) => {
        operation.settled = true;
        operation.error = { code: 'OperationFailed', message: `${description} failed: ${error instanceof Error ? error.message : String(error)}` };
        this.log.error('sim long-running operation failed', { operationId: id, description, error: operation.error.message });
      },
    );
    return id;
  }

  /** Status URL of an operation, for the Azure-AsyncOperation header. */
  statusUrl(origin: string, id: string, apiVersion: string): string {
    const operation = this.operations.get(id);
    return `${origin}${operation?.scope ?? ''}/operations/${id}?api-version=${encodeURIComponent(apiVersion)}`;
  }

  /** True while the work behind the operation has not settled. */
  isRunning(id: string | undefined): boolean {
    return id !== undefined && this.operations.get(id)?.settled === false;
  }

  /**
   * Answers a status poll. NOTE: the first poll always reports InProgress, even
   * when the work finished at once, so every client exercises real polling.
   */
  status(id: string): SimResponse {
    const operation = this.operations.get(id);
    if (!operation) return armError(404, 'NotFound', `Operation ${id} was not found. Poll the Azure-AsyncOperation URL returned by the write that started it.`);
    operation.polls += 1;
    if (operation.status === 'InProgress' && operation.settled && operation.polls > 1) {
      operation.status = operation.error ? 'Failed' : 'Succeeded';
      operation.endTime = new Date().toISOString();
    }
    return {
      status: 200,
      json: {
        id: `${operation.scope}/operations/${operation.id}`,
        name: operation.id,
        status: operation.status,
        startTime: operation.startTime,
        ...(operation.endTime ? { endTime: operation.endTime } : {}),
        ...(operation.error && operation.status === 'Failed' ? { error: operation.error } : {}),
      },
    };
  }
}
