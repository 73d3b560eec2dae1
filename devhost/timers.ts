/**
 * Timer triggers: six-field NCRONTAB schedules (`sec min hour day month
 * day-of-week`, UTC) or TimeSpan intervals, runOnStartup and isPastDue, with
 * the last and next occurrence kept in SQLite.
 */
import type { DatabaseSync } from 'node:sqlite';

import { errorText } from '../src/observability/log';
import type { DevhostClock } from './clock';
import type { RegisteredFunction } from './core';
import { type FunctionHost, resolveSetting } from './host';

const monthNames = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const dayNames = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** A parsed schedule that returns the next occurrence strictly after a time. */
export interface Schedule {
  next(afterMs: number): number;
}

function parseField(text: string, min: number, max: number, names: string[] | undefined, field: string, expression: string): Set<number> {
  const values = new Set<number>();
  const toNumber = (token: string): number => {
    const index = names?.indexOf(token.toUpperCase()) ?? -1;
    let value = Number(token);
    if (index >= 0) value = names === monthNames ? index + 1 : index;
    if (!Number.isInteger(value) || value < min || value > max + (names === dayNames ? 1 : 0)) throw new Error(`Invalid ${field} "${token}" in schedule "${expression}"; expected ${min}-${max}.`);
    return names === dayNames && value === 7 ? 0 : value;
  };
  for (const part of text.split(',')) {
    const [range = '', stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step <= 0) throw new Error(`Invalid step "${stepText}" in ${field} of schedule "${expression}".`);
    let from = min;
    let to = max;
    if (range !== '*') {
      const [a = '', b] = range.split('-');
      from = toNumber(a);
      // "5" alone is one value, but "5/10" runs from 5 to the maximum.
      if (b !== undefined) to = toNumber(b);
      else if (stepText === undefined) to = from;
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return values;
}

/** Parses a six-field NCRONTAB expression or a TimeSpan (`hh:mm:ss`, `d.hh:mm:ss`); throws on invalid input. */
export function parseSchedule(expression: string): Schedule {
  const span = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$/.exec(expression.trim());
  if (span) {
    const ms = ((Number(span[1] ?? 0) * 24 + Number(span[2])) * 3600 + Number(span[3]) * 60 + Number(span[4])) * 1000;
    if (ms <= 0) throw new Error(`Invalid TimeSpan schedule "${expression}"; it must be longer than zero.`);
    return { next: (after) => after + ms };
  }
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 6) throw new Error(`Invalid schedule "${expression}": NCRONTAB needs six fields (second minute hour day month day-of-week), found ${fields.length}.`);
  const [sec, min, hour, day, month, dow] = fields as [string, string, string, string, string, string];
  const seconds = parseField(sec, 0, 59, undefined, 'second', expression);
  const minutes = parseField(min, 0, 59, undefined, 'minute', expression);
  const hours = parseField(hour, 0, 23, undefined, 'hour', expression);
  const days = parseField(day, 1, 31, undefined, 'day', expression);
  const months = parseField(month, 1, 12, monthNames, 'month', expression);
  const weekdays = parseField(dow, 0, 6, dayNames, 'day-of-week', expression);
  const anyDay = day === '*';
  const anyWeekday = dow === '*';

  return {
    next(afterMs: number): number {
      const t = new Date(Math.floor(afterMs / 1000) * 1000 + 1000);
      // Five years covers every valid schedule, including 29 February.
      const limit = afterMs + 5 * 366 * 86_400_000;
      while (t.getTime() <= limit) {
        if (!months.has(t.getUTCMonth() + 1)) {
          t.setUTCMonth(t.getUTCMonth() + 1, 1);
          t.setUTCHours(0, 0, 0, 0);
          continue;
        }
        const dayMatch = anyDay || days.has(t.getUTCDate());
        const weekdayMatch = anyWeekday || weekdays.has(t.getUTCDay());
        // As in cron, a restricted day and day-of-week match when either one does.
        const dateOk = !anyDay && !anyWeekday ? dayMatch || weekdayMatch : dayMatch && weekdayMatch;
        if (!dateOk) {
          t.setUTCDate(t.getUTCDate() + 1);
          t.setUTCHours(0, 0, 0, 0);
          continue;
        }
        if (!hours.has(t.getUTCHours())) {
          t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
          continue;
        }
        if (!minutes.has(t.getUTCMinutes())) {
          t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
          continue;
        }
        if (!seconds.has(t.getUTCSeconds())) {
          t.setUTCSeconds(t.getUTCSeconds() + 1, 0);
          continue;
        }
        return t.getTime();
      }
      throw new Error(`Schedule "${expression}" never fires within five years; check the day and month fields.`);
    },
  };
}

interface TimerEntry {
  fn: RegisteredFunction;
  schedule: Schedule;
  handle?: NodeJS.Timeout;
}

export class TimerService {
  private readonly entries: TimerEntry[] = [];
  private stopped = false;

  constructor(
    private readonly db: DatabaseSync,
    private readonly host: FunctionHost,
    private readonly clock: DevhostClock,
  ) {
    for (const fn of host.functions()) {
      if (fn.trigger.type !== 'timerTrigger') continue;
      const raw = fn.trigger.schedule;
      if (typeof raw !== 'string') throw new Error(`Timer trigger of function '${fn.name}' has no schedule.`);
      const expression = resolveSetting(raw, `Timer trigger of function '${fn.name}'`);
      try {
        this.entries.push({ fn, schedule: parseSchedule(expression) });
      } catch (error) {
        throw new Error(`Timer trigger of function '${fn.name}': ${errorText(error)}`, { cause: error });
      }
    }
  }

  /** Fires runOnStartup timers and past-due ones (missed while devhost was down), then arms every timer. */
  start(): void {
    const now = this.clock.now();
    for (const entry of this.entries) {
      const status = this.db.prepare('SELECT next_ms FROM timer_status WHERE function_name = ?').get(entry.fn.name) as { next_ms: number | null } | undefined;
      const pastDue = status?.next_ms !== null && status?.next_ms !== undefined && status.next_ms < now;
      if (pastDue || entry.fn.trigger.runOnStartup === true) void this.fire(entry.fn, { isPastDue: pastDue });
      else this.arm(entry);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const entry of this.entries) if (entry.handle) clearTimeout(entry.handle);
  }

  private arm(entry: TimerEntry): void {
    if (this.stopped) return;
    const now = this.clock.now();
    const next = entry.schedule.next(now);
    this.saveStatus(entry.fn.name, undefined, next);
    // Long waits are re-armed in steps because setTimeout takes at most a signed 32-bit delay.
    const delay = Math.min(next - now, 2_000_000_000);
    entry.handle = setTimeout(() => {
      if (this.clock.now() + 5 < next) this.arm(entry);
      else void this.fire(entry.fn, { isPastDue: false });
    }, delay);
    entry.handle.unref();
  }

  private saveStatus(name: string, lastMs: number | undefined, nextMs: number): void {
    this.db
      .prepare('INSERT INTO timer_status (function_name, last_ms, next_ms, updated_ms) VALUES (?, ?, ?, ?) ON CONFLICT(function_name) DO UPDATE SET last_ms = COALESCE(excluded.last_ms, last_ms), next_ms = excluded.next_ms, updated_ms = excluded.updated_ms')
      .run(name, lastMs ?? null, nextMs, this.clock.now());
  }

  /** Runs a timer function now with the .NET TimerInfo shape, then re-arms it. */
  async fire(fn: RegisteredFunction, options: { isPastDue: boolean }): Promise<void> {
    const entry = this.entries.find((e) => e.fn === fn);
    const now = this.clock.now();
    const status = this.db.prepare('SELECT last_ms FROM timer_status WHERE function_name = ?').get(fn.name) as { last_ms: number | null } | undefined;
    const next = entry ? entry.schedule.next(now) : now;
    const timerInfo = {
      Schedule: { AdjustForDST: true },
      ScheduleStatus: { Last: new Date(status?.last_ms ?? 0).toISOString(), Next: new Date(next).toISOString(), LastUpdated: new Date(now).toISOString() },
      IsPastDue: options.isPastDue,
    };
    if (entry?.handle) clearTimeout(entry.handle);
    await this.host.run(fn, { trigger: { json: JSON.stringify(timerInfo) } });
    if (!entry) return;
    this.saveStatus(fn.name, now, next);
    this.arm(entry);
  }
}
