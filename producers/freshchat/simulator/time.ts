/**
 * The simulated clock. Every timestamp the simulator serves comes from it, so the data is the
 * same on every run: the seeded history lies before `start`, and growth moves the clock forward
 * (never back), so new items have non-decreasing, in practice strictly increasing, times.
 */

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** Default simulated "now" once the seeded history is built. */
export const DEFAULT_START_TIME = '2025-07-01T12:00:00.000Z';

/** ISO-8601 UTC with milliseconds and `Z`, the form Freshchat uses. */
export const iso = (ms: number): string => new Date(ms).toISOString();

/** Milliseconds since the epoch for an ISO-8601 time with a zone, or undefined when it is not one. */
export function parseTime(text: string | null | undefined): number | undefined {
  if (!text || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/.test(text))
    return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

export class SimClock {
  #now: number;

  constructor(startMs: number) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  /** Moves the clock forward by `ms` (at least 1) and returns the new time. */
  advance(ms: number): number {
    this.#now += Math.max(1, Math.round(ms));
    return this.#now;
  }

  /** Moves the clock forward to `ms` if it is behind it. */
  advanceTo(ms: number): void {
    this.#now = Math.max(this.#now, ms);
  }
}
