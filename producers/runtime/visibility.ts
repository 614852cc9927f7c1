/**
 * "Visible" is more than "committed": Kafka answers a transaction's commit once the
 * coordinator logged it, and writes the markers that let read-committed consumers (the sinks)
 * see its records just after. A writer that is about to exit (`sync --once`, a finished
 * backfill) waits, bounded, until its last records are visible, so whatever runs next — a
 * script, a test, a sink started right away — reads everything the pass wrote.
 */
import type { Admin, Kafka, RecordMetadata } from 'kafkajs';
import type { Logger } from '../../core/log.ts';

/** The highest base offset written per topic and partition. */
export class WrittenOffsets {
  private readonly offsets = new Map<string, Map<number, bigint>>();

  note(results: RecordMetadata[]): void {
    for (const { topicName, partition, baseOffset } of results) {
      if (baseOffset === undefined) continue;
      const partitions = this.offsets.get(topicName) ?? new Map<number, bigint>();
      const offset = BigInt(baseOffset);
      if ((partitions.get(partition) ?? -1n) < offset) partitions.set(partition, offset);
      this.offsets.set(topicName, partitions);
    }
  }

  add(other: WrittenOffsets): void {
    for (const [topic, partitions] of other.offsets)
      for (const [partition, offset] of partitions)
        this.note([{ topicName: topic, partition, baseOffset: String(offset), errorCode: 0 }]);
  }

  get size(): number {
    return this.offsets.size;
  }

  /** Topics whose read-committed end is not past what was written yet. */
  async pending(admin: Admin): Promise<string[]> {
    const waiting: string[] = [];
    for (const [topic, partitions] of this.offsets) {
      const ends = new Map(
        (await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.offset)]),
      );
      if ([...partitions].some(([partition, offset]) => (ends.get(partition) ?? 0n) <= offset))
        waiting.push(topic);
    }
    return waiting;
  }
}

/**
 * Waits until read-committed readers see everything written (best effort). Bounded by
 * timeoutMs as a whole — kafkajs' own retries and request timeouts (30 s) would otherwise
 * outlast it when the broker stops answering — and the admin client is let go at the end
 * either way, so nothing it holds keeps the process alive.
 */
export async function waitVisible(
  kafka: Kafka,
  written: WrittenOffsets,
  timeoutMs: number,
  log: Logger,
): Promise<void> {
  if (written.size === 0) return;
  const admin = kafka.admin({ retry: { retries: 0 } });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<string[] | 'unknown'>((resolve) => {
    timer = setTimeout(() => resolve('unknown'), timeoutMs);
  });
  const poll = async (): Promise<string[] | undefined> => {
    await admin.connect();
    for (;;) {
      const waiting = await written.pending(admin);
      if (waiting.length === 0 || timer === undefined) return waiting;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const polling = poll();
  polling.catch(() => undefined); // it may fail after the deadline won: nobody waits for it then
  try {
    const waiting = await Promise.race([polling, deadline]);
    if (waiting === 'unknown' || (waiting && waiting.length > 0))
      log.warn('the last transaction is committed but not seen as visible to read-committed readers yet', {
        ...(Array.isArray(waiting) ? { topics: waiting } : {}),
        waitedMs: timeoutMs,
      });
  } catch (error) {
    // Only a courtesy to whoever reads next: the records are committed either way.
    log.debug('could not check that the last records are visible', { error: (error as Error).message });
  } finally {
    clearTimeout(timer);
    timer = undefined; // a poll still running stops at its next turn
    void admin.disconnect().catch(() => undefined);
  }
}
