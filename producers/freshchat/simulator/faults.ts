/**
 * Injected trouble for API requests: server errors, slow answers (held for `timeoutMs`),
 * a revoked token, unknown extra fields, and a sliding-minute rate limit. Fault decisions come
 * from their own seeded stream with a fixed number of draws per request, so a given seed and
 * request order always fail the same requests. Control calls never pass through here.
 */
import { checkFaults, checkRateLimit } from './options.ts';
import { Rng } from './random.ts';
import type { Faults, RateLimit } from './types.ts';

export type FaultDecision =
  | { kind: 'none'; extraFields: boolean }
  | { kind: 'unauthorized' }
  | { kind: 'error'; code: 500 | 503 }
  | { kind: 'timeout'; ms: number; extraFields: boolean };

export class FaultInjector {
  readonly #rng: Rng;
  #faults: Faults;

  constructor(seed: number, faults: Faults) {
    this.#rng = Rng.derive(seed, 'faults');
    this.#faults = faults;
  }

  set(faults: Partial<Faults>): void {
    this.#faults = checkFaults({ ...this.#faults, ...faults });
  }

  /** The fate of the next API request: always four draws, whatever the settings. */
  decide(): FaultDecision {
    const [error, code, slow, extra] = [
      this.#rng.next(),
      this.#rng.next(),
      this.#rng.next(),
      this.#rng.next(),
    ];
    const f = this.#faults;
    if (f.unauthorized) return { kind: 'unauthorized' };
    if (error < f.serverErrorRate) return { kind: 'error', code: code < 0.5 ? 500 : 503 };
    const extraFields = extra < (f.extraFieldsRate ?? 0);
    if (slow < f.timeoutRate) return { kind: 'timeout', ms: f.timeoutMs, extraFields };
    return { kind: 'none', extraFields };
  }
}

export type RateDecision =
  | { allowed: true; remaining: number }
  | { allowed: false; retryAfterSeconds: number };

/** At most `requestsPerMinute` accepted requests in any sliding minute (real time). */
export class RateLimiter {
  #limit: RateLimit;
  #accepted: number[] = [];

  constructor(limit: RateLimit) {
    this.#limit = limit;
  }

  get limit(): RateLimit {
    return this.#limit;
  }

  set(limit: RateLimit | undefined): void {
    this.#limit = checkRateLimit(limit);
    this.#accepted = [];
  }

  check(now: number): RateDecision {
    const limit = this.#limit;
    if (!limit) return { allowed: true, remaining: Number.POSITIVE_INFINITY };
    while (this.#accepted.length > 0 && (this.#accepted[0] as number) <= now - 60_000) this.#accepted.shift();
    if (this.#accepted.length >= limit.requestsPerMinute) {
      const computed = Math.ceil(((this.#accepted[0] as number) + 60_000 - now) / 1000);
      return { allowed: false, retryAfterSeconds: limit.retryAfterSeconds ?? Math.max(1, computed) };
    }
    this.#accepted.push(now);
    return { allowed: true, remaining: limit.requestsPerMinute - this.#accepted.length };
  }
}
