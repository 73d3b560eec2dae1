import type { z } from 'zod';

/** Formats zod issues as one line each: `  - path.to.field: message`. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const path = issue.path.length > 0 ? issue.path.map(String).join('.') : '(document)';
      return `  - ${path}: ${issue.message}`;
    })
    .join('\n');
}
