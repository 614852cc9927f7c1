/**
 * Request pacing for one API: at most `concurrency` requests in flight, at most
 * `perMinute` started in any minute (a token bucket refilled continuously), and a shared
 * cool-down when the server answers 429 — every request waits out `Retry-After`.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export class RateLimiter {
  private readonly perMinute: number;
  private readonly concurrency: number;
  private tokens: number;
  private refilledAt: number;
  private coolUntil = 0;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly now: () => number;

  constructor(options: { perMinute: number; concurrency: number; now?: () => number }) {
    this.perMinute = options.perMinute;
    this.concurrency = options.concurrency;
    this.now = options.now ?? Date.now;
    // Start with a small burst, not a whole minute's worth at once.
    this.tokens = Math.min(options.perMinute, Math.max(1, options.concurrency));
    this.refilledAt = this.now();
  }

  /** Every request waits until `until` (epoch ms): the server asked us to slow down. */
  coolDown(until: number): void {
    this.coolUntil = Math.max(this.coolUntil, until);
  }

  /** Milliseconds until a request may start (0 = now); takes the token when 0. */
  private wait(): number {
    const now = this.now();
    if (now < this.coolUntil) return this.coolUntil - now;
    const rate = this.perMinute / 60_000;
    this.tokens = Math.min(this.perMinute, this.tokens + (now - this.refilledAt) * rate);
    this.refilledAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.tokens) / rate);
  }

  private async slot(): Promise<void> {
    if (this.inFlight < this.concurrency) {
      this.inFlight++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.inFlight--;
  }

  /** Runs fn within the limits. */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.slot();
    try {
      for (let ms = this.wait(); ms > 0; ms = this.wait()) await sleep(ms, undefined, { signal });
      return await fn();
    } finally {
      this.release();
    }
  }
}
