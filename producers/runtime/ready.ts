/**
 * The source runner's queue between encoding and committing: pages encoded and waiting for a
 * transaction, in emit order, and the linger that lets the oldest wait for more (each
 * transaction costs the broker and the client a fixed amount of CPU — a request per step, a
 * marker per partition touched — so fewer, larger transactions leave more CPU for the records).
 * The commit loop takes batches from the front, so pages are committed in emit order.
 */
import type { SourcePage } from '../source.ts';

/** What the queue needs of a page. */
export interface ReadyPage {
  page: SourcePage;
  /** Emitted with `linger`: it may wait up to the linger for more pages. Any other page is committed at once. */
  lingers: boolean;
  /** Its place in emit order (1, 2, …): flush() ends the linger of pages up to a place. */
  seq: number;
  /** When it was encoded and became ready (Date.now()). */
  readyAt?: number;
}

export class ReadyQueue<P extends ReadyPage> {
  private readonly pages: P[] = [];
  /** Records in the queue. */
  private records = 0;
  /** The last page whose linger a flush ended. */
  private flushedUpTo = 0;
  /** Wakes a commit loop that lingers. */
  private wakeUp?: () => void;

  get length(): number {
    return this.pages.length;
  }

  /** Adds an encoded page (ready now) and wakes a lingering loop: the batch may be full. */
  push(page: P): void {
    page.readyAt = Date.now();
    this.pages.push(page);
    this.records += page.page.records.length;
    this.wake();
  }

  /** Ends the current wait of the linger, which then checks again whether to go on waiting. */
  wake(): void {
    this.wakeUp?.();
  }

  /** Ends the linger of every page up to `seq` (their source is about to wait for them). */
  flush(seq: number): void {
    this.flushedUpTo = Math.max(this.flushedUpTo, seq);
    this.wake();
  }

  /**
   * Lets the oldest page wait for more, up to `lingerMs` after it became ready. It ends at once
   * when `max` records are ready, a page without `linger` is ready (its caller waits for the
   * commit: a push source's sender, a step that needs its cursor), the oldest page was flushed,
   * or `done()` says so (a stop, a fatal error: both wake the queue).
   */
  async linger(max: number, lingerMs: number, done: () => boolean): Promise<void> {
    for (;;) {
      const oldest = this.pages[0];
      if (!oldest || this.records >= max || done()) return;
      if (oldest.seq <= this.flushedUpTo) return;
      if (this.pages.some((p) => !p.lingers)) return;
      const left = (oldest.readyAt ?? 0) + lingerMs - Date.now();
      if (left <= 0) return;
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.wakeUp = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.wakeUp = undefined;
    }
  }

  /** The next batch, from the front: at least one page, then pages while they fit in `max` records. */
  take(max: number): P[] {
    const batch: P[] = [];
    let records = 0;
    while (
      this.pages.length > 0 &&
      (batch.length === 0 || records + (this.pages[0]?.page.records.length ?? 0) <= max)
    ) {
      const next = this.pages.shift() as P;
      records += next.page.records.length;
      batch.push(next);
    }
    this.records -= records;
    return batch;
  }
}
