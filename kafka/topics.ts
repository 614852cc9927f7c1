/**
 * Topics created with explicit settings rather than broker defaults: entity topics compacted
 * (a new sink rebuilds current state from the beginning), event topics with a retention.
 * Existing topics are left as they are. The project's topics are the record kinds of
 * schemas/catalog.ts (RECORD_KINDS), which callers pass in.
 */
import type { Admin, ITopicConfig } from 'kafkajs';
import type { CoreConfig } from '../core/settings.ts';

/** What a topic needs to be created: its name (before the prefix) and how it keeps records. */
export interface TopicSpec {
  topic: string;
  retention: 'compact' | 'time';
}

export function topicName(config: CoreConfig, spec: Pick<TopicSpec, 'topic'>): string {
  return `${config.kafka.topicPrefix}${spec.topic}`;
}

/** The topic definition for a spec. Pure. */
export function topicConfig(config: CoreConfig, spec: TopicSpec, brokers: number): ITopicConfig {
  const { partitions, replicationFactor, eventRetentionHours } = config.kafka;
  const configEntries =
    spec.retention === 'compact'
      ? [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'min.compaction.lag.ms', value: String(60 * 60 * 1000) },
        ]
      : [
          { name: 'cleanup.policy', value: 'delete' },
          { name: 'retention.ms', value: String(eventRetentionHours * 60 * 60 * 1000) },
        ];
  return {
    topic: topicName(config, spec),
    numPartitions: partitions,
    replicationFactor: replicationFactor || Math.min(3, brokers),
    configEntries,
  };
}

/** Creates the missing topics; returns the names it created. */
export async function ensureTopics(admin: Admin, config: CoreConfig, specs: TopicSpec[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const brokers = (await admin.describeCluster()).brokers.length;
  const missing = specs
    .map((spec) => topicConfig(config, spec, brokers))
    .filter((t) => !existing.has(t.topic));
  if (missing.length > 0) await admin.createTopics({ topics: missing, waitForLeaders: true });
  return missing.map((t) => t.topic);
}
