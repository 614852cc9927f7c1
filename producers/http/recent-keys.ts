/**
 * A bounded set of recently accepted delivery keys, so a delivery repeated soon after (a
 * webhook, a collector request the browser retried) is answered without writing again. Only
 * an optimisation: downstream dedup is the guarantee.
 *
 * Two generations of at most max/2 keys each: a key is added to the newer one, and when that is
 * full it becomes the older one and the oldest generation is dropped. So the last max/2 keys are
 * always remembered and never more than `max`, at a constant cost per key. (An LRU on one Map —
 * delete the first key on every add — looked simpler but is not: V8 leaves deleted entries in
 * place until it rehashes, and `keys().next()` walks over them, tens of microseconds a key once
 * the set is full.)
 */
export class RecentKeys {
  readonly #half: number;
  #newer = new Set<string>();
  #older = new Set<string>();

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`dedupe size must be a positive integer, got ${max}`);
    this.#half = Math.max(1, Math.floor(max / 2));
  }

  get size(): number {
    return this.#newer.size + this.#older.size;
  }

  /** Whether the key was seen; a hit in the older generation moves it to the newer one. */
  has(key: string): boolean {
    if (this.#newer.has(key)) return true;
    if (!this.#older.has(key)) return false;
    this.#older.delete(key);
    this.add(key);
    return true;
  }

  add(key: string): void {
    if (this.#newer.has(key)) return;
    this.#older.delete(key);
    if (this.#newer.size >= this.#half) {
      this.#older = this.#newer;
      this.#newer = new Set();
    }
    this.#newer.add(key);
  }
}
