/**
 * Group commit, as databases batch their log writes: writes of the same key (a sink's table)
 * that arrive while one of them runs wait, and then go together in the next one. Nothing waits
 * on a timer: a write alone goes at once (after the current tick, so writes submitted together
 * go together), and under load each write takes everything that queued behind the previous one
 * — the more partitions flush at the same time, the fewer and larger the writes.
 *
 * Each submitter gets its own outcome: `write` settles every item it was given (its result or
 * its error), so one item's failure is that item's alone when the writer can tell them apart.
 */

type Entry<T, R> = {
  item: T;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
};

/** Writes items of one key together; returns each item's outcome, in order. */
export type GroupWrite<T, R> = (key: string, items: T[]) => Promise<PromiseSettledResult<R>[]>;

export class GroupCommit<T, R> {
  private readonly write: GroupWrite<T, R>;
  private readonly queues = new Map<string, Entry<T, R>[]>();
  /** Keys with a write running (or about to start on the next tick). */
  private readonly running = new Set<string>();

  constructor(write: GroupWrite<T, R>) {
    this.write = write;
  }

  /** Queues the item for its key's next write; resolves with its own result. */
  submit(key: string, item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let queue = this.queues.get(key);
      if (!queue) {
        queue = [];
        this.queues.set(key, queue);
      }
      queue.push({ item, resolve, reject });
      if (!this.running.has(key)) {
        this.running.add(key);
        setImmediate(() => void this.drain(key));
      }
    });
  }

  /** Writes what is queued for the key, again and again until nothing is. */
  private async drain(key: string): Promise<void> {
    try {
      for (;;) {
        const entries = this.queues.get(key) ?? [];
        this.queues.delete(key);
        if (entries.length === 0) return;
        let outcomes: unknown;
        try {
          outcomes = await this.write(
            key,
            entries.map((e) => e.item),
          );
        } catch (error) {
          // The write could not tell its items apart: every one of them failed with it.
          outcomes = entries.map(() => ({ status: 'rejected', reason: error }));
        }
        const list = Array.isArray(outcomes) ? (outcomes as PromiseSettledResult<R>[]) : [];
        entries.forEach((entry, i) => {
          const outcome = list[i];
          if (outcome?.status === 'fulfilled') entry.resolve(outcome.value);
          else
            entry.reject(
              outcome ? outcome.reason : new Error('the group write gave no outcome for this item (a bug)'),
            );
        });
      }
    } finally {
      this.running.delete(key);
    }
  }
}

/** The promise's outcome as a value (never rejects). */
export function settle<R>(promise: Promise<R>): Promise<PromiseSettledResult<R>> {
  return promise.then(
    (value) => ({ status: 'fulfilled', value }),
    (reason: unknown) => ({ status: 'rejected', reason }),
  );
}
