/**
 * The topics a source needs before it writes: its record kinds' topics, the dead-letter topic
 * and the offsets topic, created with their settings when missing. Kafka out of reach here is
 * a service failure (exit 5) naming the setting; refused credentials or certificates exit 3.
 */
import { isChatstreamError, ServiceError } from '../../core/errors.ts';
import { withAdmin } from '../../kafka/client.ts';
import { ensureDeadLetterTopic } from '../../kafka/dead-letters.ts';
import { ensureTopics } from '../../kafka/topics.ts';
import type { RecordKind } from '../../schemas/catalog.ts';
import { deadLetterTopicOf, offsetsTopicOf, type ProducerConfig } from '../config.ts';
import { ensureOffsetsTopic } from './offsets.ts';

export async function prepareTopics(config: ProducerConfig, kinds: RecordKind[]): Promise<void> {
  try {
    await withAdmin(config, async (admin) => {
      await ensureTopics(admin, config, kinds);
      await ensureDeadLetterTopic(admin, config, deadLetterTopicOf(config));
      const brokers = (await admin.describeCluster()).brokers.length;
      await ensureOffsetsTopic(
        admin,
        offsetsTopicOf(config),
        config.kafka.replicationFactor || Math.min(3, brokers),
      );
    });
  } catch (error) {
    if (isChatstreamError(error)) throw error; // a setting (credentials, certificate) already named
    throw new ServiceError(
      'kafka',
      `cannot prepare the topics on ${config.kafka.brokers.join(',')}: ${(error as Error).message}`,
      {
        code: 'KAFKA_UNREACHABLE',
        hint: 'is Kafka running ("chatstream stack status")? The brokers come from CHATSTREAM_KAFKA_BROKERS',
        cause: error,
      },
    );
  }
}
