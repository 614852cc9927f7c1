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
      'Names this source instance. Its Kafka transactional id is `chatstream-<source>-<instanceId>`: a second process with the same id fences the first (exactly one writer per source), so give every concurrently running instance of a source its own id.',
    example: 'eu-1',
  }),
  offsetsTopic: setting.string({
    default: '_chatstream_source_offsets',
    description:
      "Compacted topic holding the sources' cursors (Kafka Connect style source offsets), written in the same transaction as the records.",
  }),
  deadLetterTopic: setting.string({
    default: 'chatstream.dead_letters',
    description:
      'Topic that receives source records that cannot be encoded (a field that does not fit, or unknown fields under the `freeze` contract), as JSON with the reason in headers.',
  }),
  batchMaxRecords: setting.int({
    default: 5000,
    min: 1,
    max: 1_000_000,
    description:
      'Most records in one Kafka transaction. Pages that arrive while a transaction is in flight are committed together in the next one.',
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
