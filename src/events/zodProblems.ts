import type { z } from 'zod';

import type { InputProblem } from '../errors';

/** Turns zod issues into input problems whose field is the JSON path inside the payload. */
export function zodProblems(issues: readonly z.core.$ZodIssue[], expected: Record<string, string> = {}): InputProblem[] {
  return issues.map((issue) => {
    const field = issue.path.length > 0 ? issue.path.map(String).join('.') : '(body)';
    return { field, problem: issue.message, expected: expected[field] ?? issue.message.replace(/^Invalid input: /, '') };
  });
}
