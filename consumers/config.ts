/** Settings of every sink runner (`chatstream sink <name>`): batching, memory, retries, dead letters, metrics. */
import { type Settings, setting } from '../core/config.ts';
import type { CoreConfig } from '../core/settings.ts';

export const sinkSettings = {
  group: setting.optionalString({
    description: 'Consumer group of `chatstream sink <name>`. Defaults to `chatstream-sink-<name>`.',
    example: 'analytics-clickhouse',
  }),
  topics: setting.optionalString({
    description: 'Comma-separated topics to sink. Defaults to every chatstream topic (with the prefix).',
    example: 'freshchat.messages,freshchat.conversations',
  }),
  fromBeginning: setting.bool({
    default: true,
    description: 'A new group starts at the beginning of each topic (else at the end).',
  }),
  batchMaxRows: setting.int({
    default: 50_000,
    min: 1,
    max: 10_000_000,
    description: 'Most records in one write to the sink.',
  }),
  batchMaxBytes: setting.int({
    default: 8 * 1024 * 1024,
    min: 1024,
    max: 1024 * 1024 * 1024,
    description: 'Most encoded bytes in one write to the sink (and per partition per fetch).',
  }),
  batchMaxWaitMs: setting.int({
    default: 500,
    min: 1,
    max: 60_000,
    description:
      'Longest a fetch waits for more data before the records are written (latency vs. batch size).',
  }),
  memoryBytes: setting.int({
    default: 64 * 1024 * 1024,
    min: 4 * 1024 * 1024,
    max: 16 * 1024 * 1024 * 1024,
    description:
      'Memory budget for records in flight (fetch and decoded chunks). The sink caps its V8 heap at 48 MiB + 2 × this; its RSS stays under 192 MiB + 3 × this.',
  }),
  concurrency: setting.int({
    default: 2,
    min: 1,
    max: 64,
    description: 'Partitions written at the same time.',
  }),
  sessionTimeoutMs: setting.int({
    default: 10_000,
    min: 6_000,
    max: 300_000,
    description:
      'Consumer group session timeout: how soon the partitions of a sink that died (kill -9) move on.',
  }),
  startTimeoutMs: setting.int({
    default: 60_000,
    min: 1_000,
    max: 3_600_000,
    description:
      'How long each start step (Kafka, the schema registry, the destination) is retried before the sink exits 5 naming the service.',
  }),
  retryInitialMs: setting.int({
    default: 500,
    min: 1,
    max: 600_000,
    description: 'First back-off after a retriable failure.',
  }),
  retryMaxMs: setting.int({
    default: 30_000,
    min: 1,
    max: 3_600_000,
    description: 'Longest back-off between retries (retries go on until it works).',
  }),
  deadLetterTopic: setting.string({
    default: 'chatstream.dead_letters',
    description:
      'Topic that receives poison records (undecodable, unknown schema, rejected as bad data), with the reason in headers.',
  }),
  metricsHost: setting.string({
    default: '127.0.0.1',
    description: 'Address of the `/metrics` and `/health` endpoint; `0.0.0.0` in a container.',
    example: '0.0.0.0',
  }),
  metricsPort: setting.port({
    default: 9464,
    description: 'Port of the Prometheus `/metrics` endpoint of `chatstream sink` (127.0.0.1).',
  }),
};

/** What the sink runner and the sinks read: the shared settings and the `sink` section. */
export type SinkConfig = CoreConfig & Settings<{ sink: typeof sinkSettings }>;
