/**
 * The registry's start against Kafka: each step retried while Kafka answers "not ready yet"
 * (a broker that just restarted is "not the leader" of `_schemas` until it has loaded the
 * partition), for a bounded time; then — or at once for any other failure — a ServiceError
 * naming Kafka (exit 5), never an "internal error".
 */
import type { Admin, Kafka } from 'kafkajs';
import { isChatstreamError, ServiceError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { withRetriesFor } from '../core/retry.ts';

/** How long each start step retries Kafka's "not ready yet" answers. */
export const START_TIMEOUT_MS = 60_000;
const POLICY = { initialMs: 200, maxMs: 5_000 };

/** One start step: retried while retriable, for at most `timeoutMs`; a failure names Kafka. */
export async function startStep<T>(
  what: string,
  fn: () => Promise<T>,
  log: Logger,
  timeoutMs: number,
): Promise<T> {
  try {
    return await withRetriesFor(fn, POLICY, timeoutMs, (error, attempt, waitMs) =>
      log.warn(`${what}: Kafka is not ready yet; retrying`, { attempt, waitMs, error: error.message }),
    );
  } catch (error) {
    if (isChatstreamError(error)) throw error;
    throw new ServiceError('kafka', `${what}: ${(error as Error).message}`, {
      code: 'UNREACHABLE',
      hint: 'is Kafka running (chatstream stack status)? check CHATSTREAM_KAFKA_BROKERS',
      cause: error,
    });
  }
}

async function ensureSchemasTopic(admin: Admin, topic: string, log: Logger): Promise<void> {
  const existing = await admin.listTopics();
  if (existing.includes(topic)) return;
  const brokers = (await admin.describeCluster()).brokers.length;
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      {
        topic,
        numPartitions: 1,
        replicationFactor: Math.min(3, brokers),
        configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
      },
    ],
  });
  log.info('created the schemas topic', { topic });
}

/**
 * Where the schemas topic ends now (creating it when missing). The admin client does not retry
 * on its own, so the step's time bounds the whole wait (each try still has kafkajs' request
 * timeout).
 */
export async function schemasEnd(
  kafka: Kafka,
  topic: string,
  log: Logger,
  timeoutMs: number,
): Promise<number> {
  const admin = kafka.admin({ retry: { retries: 0 } });
  try {
    return await startStep(
      `reading the schemas topic ${topic}`,
      async () => {
        await admin.connect();
        await ensureSchemasTopic(admin, topic, log);
        return Number((await admin.fetchTopicOffsets(topic))[0]?.high ?? 0);
      },
      log,
      timeoutMs,
    );
  } finally {
    await admin.disconnect();
  }
}
