/** Time source for durable timers, timer triggers and Service Bus locks. */
export interface DevhostClock {
  readonly mode: 'real' | 'instant';
  /** Milliseconds since the epoch. */
  now(): number;
  /** Whether a timer due at `dueMs` may fire now. */
  isDue(dueMs: number): boolean;
  /** Called when a timer fires, so `now()` never reads earlier than that timer's due time. */
  reached(dueMs: number): void;
}

/** Wall-clock time: timers fire when they are due. */
export class RealClock implements DevhostClock {
  readonly mode = 'real' as const;
  now(): number {
    return Date.now();
  }
  isDue(dueMs: number): boolean {
    return dueMs <= Date.now();
  }
  reached(): void {}
}

/**
 * Test clock: every durable timer fires at once and time jumps forward to its
 * due time, so `currentUtcDateTime` after a 30-minute timer reads 30 minutes later.
 */
export class InstantClock implements DevhostClock {
  readonly mode = 'instant' as const;
  private offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
  isDue(): boolean {
    return true;
  }
  reached(dueMs: number): void {
    const gap = dueMs - this.now();
    if (gap > 0) this.offsetMs += gap;
  }
}

/** Builds the clock named by a setting value (`real`, the default, or `instant`). */
export function clockFromName(name: string | undefined): DevhostClock {
  if (name === undefined || name === '' || name === 'real') return new RealClock();
  if (name === 'instant') return new InstantClock();
  throw new Error(`Invalid DEVHOST_CLOCK value "${name}"; use "real" or "instant".`);
}
