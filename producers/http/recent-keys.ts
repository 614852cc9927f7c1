/**
 * A bounded LRU set of recently accepted delivery keys, so a delivery repeated soon after (a
 * webhook, a collector request the browser retried) is answered without writing again. Only
 * an optimisation: downstream dedup is the guarantee.
 */
export class RecentKeys {
  readonly #max: number;
  readonly #keys = new Map<string, true>();

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`dedupe size must be a positive integer, got ${max}`);
    this.#max = max;
  }

  get size(): number {
    return this.#keys.size;
  }

  /** Whether the key was seen; a hit makes it the most recent. */
  has(key: string): boolean {
    if (!this.#keys.has(key)) return false;
    this.#keys.delete(key);
    this.#keys.set(key, true);
    return true;
  }

  add(key: string): void {
    this.#keys.delete(key);
    this.#keys.set(key, true);
    while (this.#keys.size > this.#max) {
      const oldest = this.#keys.keys().next().value;
      if (oldest === undefined) break;
      this.#keys.delete(oldest);
    }
  }
}
