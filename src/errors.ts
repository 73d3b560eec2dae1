/**
 * Errors classed by what the caller must do. Triggers map them to HTTP codes
 * or acknowledgements; activities and orchestrations map them to retry, roll
 * back or skip.
 */

/** What was wrong with an input, on which field, and what to send instead. */
export interface InputProblem {
  field: string;
  problem: string;
  expected: string;
}

/** Bad input from a caller: answer 4xx, never retry. */
export class InvalidInputError extends Error {
  override name = 'InvalidInputError';
  constructor(
    message: string,
    readonly problems: InputProblem[] = [],
    readonly status = 400,
  ) {
    super(message);
  }
}

/** A fault that may pass: retry (Event Grid redelivers, activities retry). */
export class TransientError extends Error {
  override name = 'TransientError';
}

/** A fault that will not pass by retrying: end the release and roll back. */
export class PermanentError extends Error {
  override name = 'PermanentError';
}

/** Input that is valid but not for us: acknowledge, log the reason and drop it. */
export class SkipError extends Error {
  override name = 'SkipError';
}

/** An action that the release's current phase does not allow: answer 409 with the reason. */
export class ConflictError extends Error {
  override name = 'ConflictError';
}
