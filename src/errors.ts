/**
 * Errors classed by what the caller must do. Triggers map them to HTTP codes
 * or acknowledgements; activities and orchestrations map them to retry, roll
 * back or skip.
 */

/** Problem with one input field, and the value to send instead. */
export interface InputProblem {
  field: string;
  problem: string;
  expected: string;
}

/** Invalid input from a caller: return 4xx and never retry. */
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

/** Action that the release's current phase does not allow: return 409 with the reason. */
export class ConflictError extends Error {
  override name = 'ConflictError';
}
