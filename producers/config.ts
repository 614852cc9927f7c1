/**
 * Settings of the producer runtime every source shares (`producer` section): the source
 * instance's identity (its Kafka transactional id), the offsets topic, transaction batching,
 * retries and the metrics endpoint. Each source adds its own section beside its code.
 */
import { type Settings, setting } from '../core/config.ts';
import type { CoreConfig } from '../core/settings.ts';

export const producerSettings = {
  instanceId: setting.string({
    default: 'local',
    description:
      'Names this source instance. Its Kafka transactional id is `chatstream-<topic prefix><source>-<instanceId>`. Two processes with the same id cannot both write: the one started last fences the other, which stops with exit 5. Give every concurrently running instance of a source its own id.',
    example: 'eu-1',
  }),
  offsetsTopic: setting.optionalString({
    description:
      "Compacted topic holding the sources' cursors (Kafka Connect style source offsets), written in the same transaction as the records. Defaults to `<topic prefix>_chatstream_source_offsets`.",
  }),
  deadLetterTopic: setting.optionalString({
    description:
      'Topic that receives source records that cannot be encoded (a field that does not fit, unknown fields under the `freeze` contract, over 900 KiB), as JSON with the reason in headers. Defaults to `<topic prefix>chatstream.dead_letters`.',
  }),
  batchMaxRecords: setting.int({
    default: 5000,
    min: 1,
    max: 1_000_000,
    description:
      'Pages that arrive while a transaction is in flight are committed together in the next one, up to this many records (a larger page is one transaction of its own).',
  }),
  lingerMs: setting.int({
    default: 100,
    min: 0,
    max: 60_000,
    description:
      "How long a source's page may wait for more pages before its transaction begins, when the source goes on fetching meanwhile (Freshchat's conversations and messages): fewer, larger transactions cost Kafka and chatstream less CPU per record. The transaction begins earlier once CHATSTREAM_PRODUCER_BATCH_MAX_RECORDS records are ready, when a page someone waits for is ready (a step that needs its cursor), when the source is about to wait for its lingering pages (a full window of conversations, the end of a step), after a fatal error, or on stop. 0: each transaction begins as soon as the previous one ends.",
  }),
  transactionTimeoutMs: setting.int({
    default: 60_000,
    min: 1000,
    max: 900_000,
    description:
      'Kafka transaction timeout: how long the broker waits before aborting the open transaction of a producer that died.',
  }),
  retryInitialMs: setting.int({
    default: 500,
    min: 1,
    max: 600_000,
    description: 'First back-off after a retriable failure (Kafka or the schema registry unavailable).',
  }),
  retryMaxMs: setting.int({
    default: 30_000,
    min: 1,
    max: 3_600_000,
    description: 'Longest back-off between retries (retries go on until it works or the process is stopped).',
  }),
  metricsHost: setting.string({
    default: '127.0.0.1',
    description: "Address of the producers' `/metrics` and `/health` endpoint; `0.0.0.0` in a container.",
    example: '0.0.0.0',
  }),
  metricsPort: setting.int({
    default: 9465,
    min: 0,
    max: 65535,
    description: "Port of the producers' Prometheus `/metrics` endpoint (0 picks a free port).",
  }),
};

export type ProducerSettings = Settings<{ producer: typeof producerSettings }>['producer'];
/** What the producer runtime reads: the shared connection settings and its own section. */
export type ProducerConfig = CoreConfig & { producer: ProducerSettings };

/** The offsets topic: the setting, else `<prefix>_chatstream_source_offsets`. */
export function offsetsTopicOf(config: ProducerConfig): string {
  return config.producer.offsetsTopic ?? `${config.kafka.topicPrefix}_chatstream_source_offsets`;
}

/** The producers' dead-letter topic: the setting, else `<prefix>chatstream.dead_letters`. */
export function deadLetterTopicOf(config: ProducerConfig): string {
  return config.producer.deadLetterTopic ?? `${config.kafka.topicPrefix}chatstream.dead_letters`;
}

/** The transactional id of a source instance (prefix included: namespaces never fence each other). */
export function transactionalIdOf(config: ProducerConfig, source: string): string {
  return `chatstream-${config.kafka.topicPrefix}${source}-${config.producer.instanceId}`;
}
