/**
 * Reads a topic from the beginning to where it ends now, with read-committed isolation: to the
 * last stable offset of each partition (kafkajs' admin lists offsets read-committed), so open
 * transactions of other writers are not waited for and aborted data is never seen. Transaction
 * markers and aborted batches never reach eachBatch; the END_BATCH_PROCESS event still reports
 * how far the fetch went, which is how the end is recognised.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { RetriableError } from '../core/errors.ts';

export interface ReadOptions {
  /** Gives up (RetriableError) when the end is not reached by then. */
  timeoutMs?: number;
}

export async function readToEnd(
  kafka: Kafka,
  topic: string,
  onMessage: (message: KafkaMessage, partition: number) => void,
  options: ReadOptions = {},
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    ends = new Map(
      (await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.offset)] as const),
    );
  } finally {
    await admin.disconnect();
  }
  const remaining = new Set([...ends].filter(([, end]) => end > 0n).map(([p]) => p));
  if (remaining.size === 0) return;

  const consumer = kafka.consumer({ groupId: `chatstream-reader-${randomUUID()}`, maxWaitTimeInMs: 250 });
  const caughtUp = new Promise<void>((resolve) => {
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (BigInt(payload.lastOffset) + 1n >= (ends.get(payload.partition) ?? 0n))
        remaining.delete(payload.partition);
      if (remaining.size === 0) resolve();
    });
  });
  const timeoutMs = options.timeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const end = ends.get(batch.partition) ?? 0n;
        for (const message of batch.messages)
          if (BigInt(message.offset) < end) onMessage(message, batch.partition);
      },
    });
    // The deadline runs from here: connecting and joining the group have kafkajs' own timeouts.
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const behind = `${remaining.size} partition(s) behind`;
        reject(
          new RetriableError(`could not read ${topic} to its end within ${timeoutMs / 1000} s (${behind})`),
        );
      }, timeoutMs);
    });
    await Promise.race([caughtUp, deadline]);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
}
