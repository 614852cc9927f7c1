/** Counters for tests and benchmarks: requests per route, 429s, faults injected, webhooks. */
export class Counters {
  readonly #counts = new Map<string, number>();

  inc(key: string, by = 1): void {
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + by);
  }

  get(key: string): number {
    return this.#counts.get(key) ?? 0;
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.#counts].sort(([a], [b]) => a.localeCompare(b)));
  }
}
