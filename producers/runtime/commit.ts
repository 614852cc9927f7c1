/**
 * One batch of pages into Kafka exactly once. The batch's messages (records, dead letters, the
 * offsets it moves and a marker naming the transaction, batch.ts) go in one transaction, retried
 * until it is committed. A commit whose answer was lost (AmbiguousCommitError) may have gone
 * through: before sending again, the marker is looked for on the offsets topic — found means
 * committed, so nothing is sent twice; not found means aborted (a new producer was initialised
 * first, which completes or aborts what the lost commit left open), so it is sent again.
 */
import type { Kafka } from 'kafkajs';
import { EXIT, FatalError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import { MARKER } from './batch.ts';
import type { IdempotentWriter } from './idempotent.ts';
import { loadOffsets } from './offsets.ts';
import {
  AmbiguousCommitError,
  type TopicMessages,
  TransactionalWriter,
  TransactionTimeoutError,
} from './transactions.ts';

export interface CommitOptions {
  writer: TransactionalWriter | IdempotentWriter;
  messages: TopicMessages[];
  /** The transaction's marker id (in `messages` for a transactional writer). */
  id: string;
  /** Records in the batch (for the message of a timeout). */
  records: number;
  /** Runs a try again and again while it fails retriably (the runner's back-off, bounded by its stop). */
  retry: (what: string, fn: () => Promise<void>) => Promise<void>;
  /** Whether the transaction with this marker id is committed. */
  committed: () => Promise<boolean>;
  log: Logger;
}

export async function commitExactlyOnce(options: CommitOptions): Promise<void> {
  const { writer, messages, id, log } = options;
  /** Set when a commit's answer was lost: before sending again, find out whether it happened. */
  let uncertain: AmbiguousCommitError | undefined;
  let timeouts = 0;
  await options.retry('committing a transaction', async () => {
    if (uncertain) {
      if (await options.committed()) {
        log.info('the commit had gone through; not sending it again', { transaction: id });
        if (writer instanceof TransactionalWriter) writer.confirmed(uncertain.written);
        return;
      }
      uncertain = undefined;
    }
    try {
      await writer.commit(messages);
    } catch (error) {
      if (error instanceof AmbiguousCommitError) uncertain = error;
      // Twice too slow for the transaction timeout: it will not get faster by retrying.
      if (error instanceof TransactionTimeoutError && ++timeouts >= 2)
        throw new FatalError(
          `a transaction of ${options.records} records outlived the transaction timeout twice`,
          {
            code: 'TRANSACTION_TIMEOUT',
            exitCode: EXIT.config,
            hint: 'raise CHATSTREAM_PRODUCER_TRANSACTION_TIMEOUT_MS, or make pages smaller (e.g. FRESHCHAT_REPORT_WINDOW_HOURS)',
            cause: error,
          },
        );
      throw error;
    }
  });
}

/**
 * Whether the transaction with this marker is committed. A new producer is initialised first:
 * that completes or aborts whatever the lost commit left open. The marker can still sit behind
 * another source's open transaction on the offsets topic (the read stops at the last stable
 * offset), so the topic is read a few times, a second apart, before the answer is "no".
 */
export async function markerCommitted(
  writer: TransactionalWriter | IdempotentWriter,
  kafka: Kafka,
  offsetsTopic: string,
  source: string,
  id: string,
  log: Logger,
): Promise<boolean> {
  await writer.connect();
  for (let read = 0; read < 3; read++) {
    if (read > 0) await new Promise((resolve) => setTimeout(resolve, 1000));
    const offsets = await loadOffsets(kafka, offsetsTopic, source, log);
    if (offsets.get(MARKER)?.transaction === id) return true;
  }
  return false;
}
