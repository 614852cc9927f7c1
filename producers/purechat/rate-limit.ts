/**
 * The per-client request limit of the collector: a token bucket per client address, refilled
 * at `perMinute / 60` tokens a second and holding at most a tenth of a minute's worth (bursts).
 * The table of clients is bounded (least recently seen dropped first), so a flood of
 * addresses costs memory up to the bound and no more.
 */
export interface RateDecision {
  allowed: boolean;
  /** Seconds until a request would be allowed (when not allowed). */
  retryAfterSeconds: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class ClientRateLimit {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #maxClients: number;
  readonly #buckets = new Map<string, Bucket>();

  /** perMinute 0 allows everything. */
  constructor(perMinute: number, maxClients = 100_000) {
    this.#perMs = perMinute / 60_000;
    this.#burst = Math.max(1, Math.ceil(perMinute / 10));
    this.#maxClients = maxClients;
  }

  /** False when the limit is off (perMinute 0): callers may skip working out the client key. */
  get enabled(): boolean {
    return this.#perMs > 0;
  }

  take(client: string, now = Date.now()): RateDecision {
    if (this.#perMs === 0) return { allowed: true, retryAfterSeconds: 0 };
    let bucket = this.#buckets.get(client);
    if (bucket) this.#buckets.delete(client);
    else bucket = { tokens: this.#burst, at: now };
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) * this.#perMs);
    bucket.at = now;
    this.#buckets.set(client, bucket); // most recent last
    if (this.#buckets.size > this.#maxClients) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest !== undefined) this.#buckets.delete(oldest);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, retryAfterSeconds: 0 };
    }
    return {
      allowed: false,
      retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.#perMs / 1000)),
    };
  }
}
