import { z } from 'zod';

const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/**
 * Parses a duration such as `90s`, `5m`, `1h30m` or a plain number of seconds
 * into seconds. Returns undefined when the text is not a duration.
 */
export function parseDurationSeconds(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) return undefined;
  return parts.reduce((sum, p) => sum + Number(p[1]) * (units[p[2] ?? 's'] ?? 1), 0);
}

/** Zod type for a duration written as `30s`, `5m`, `1h` or a number of seconds; parses to seconds. */
export const durationSeconds = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const seconds = parseDurationSeconds(value);
  if (seconds === undefined) {
    ctx.addIssue({ code: 'custom', message: `invalid duration ${JSON.stringify(value)}: expected a number of seconds or a value such as "30s", "5m" or "1h30m"` });
    return z.NEVER;
  }
  return seconds;
});
