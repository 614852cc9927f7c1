/**
 * The project's topics, created with explicit settings rather than broker defaults: entity
 * topics compacted (a new sink rebuilds current state from the beginning), event topics with
 * a retention. Existing topics are left as they are.
 */
import type { Admin, ITopicConfig } from 'kafkajs';
import type { Config } from '../core/settings.ts';
import { RECORD_KINDS, type RecordKind } from '../schemas/catalog.ts';

export function topicName(config: Config, kind: RecordKind): string {
  return `${config.kafka.topicPrefix}${kind.topic}`;
}

/** The topic definition for a record kind. Pure. */
export function topicConfig(config: Config, kind: RecordKind, brokers: number): ITopicConfig {
  const { partitions, replicationFactor, eventRetentionHours } = config.kafka;
  const configEntries =
    kind.retention === 'compact'
      ? [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'min.compaction.lag.ms', value: String(60 * 60 * 1000) },
        ]
      : [
          { name: 'cleanup.policy', value: 'delete' },
          { name: 'retention.ms', value: String(eventRetentionHours * 60 * 60 * 1000) },
        ];
  return {
    topic: topicName(config, kind),
    numPartitions: partitions,
    replicationFactor: replicationFactor || Math.min(3, brokers),
    configEntries,
  };
}

/** Creates the missing topics; returns the names it created. */
export async function ensureTopics(
  admin: Admin,
  config: Config,
  kinds: RecordKind[] = RECORD_KINDS,
): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const brokers = (await admin.describeCluster()).brokers.length;
  const missing = kinds
    .map((kind) => topicConfig(config, kind, brokers))
    .filter((t) => !existing.has(t.topic));
  if (missing.length > 0) await admin.createTopics({ topics: missing, waitForLeaders: true });
  return missing.map((t) => t.topic);
}
