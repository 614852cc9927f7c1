/**
 * Topics created with explicit settings rather than broker defaults: entity topics compacted
 * (a new sink rebuilds current state from the beginning), event topics with a retention
 * (forever by default: see retentionMs).
 * Existing topics are left as they are (a retention other than the setting is warned about). The project's topics are the record kinds of
 * schemas/catalog.ts (RECORD_KINDS), which callers pass in.
 */
import kafkajs, { type Admin, type ITopicConfig } from 'kafkajs';
import { createLogger, type Logger } from '../core/log.ts';
import type { CoreConfig } from '../core/settings.ts';

const { ConfigResourceTypes } = kafkajs;

/** What a topic needs to be created: its name (before the prefix) and how it keeps records. */
export interface TopicSpec {
  topic: string;
  retention: 'compact' | 'time';
}

export function topicName(config: CoreConfig, spec: Pick<TopicSpec, 'topic'>): string {
  return `${config.kafka.topicPrefix}${spec.topic}`;
}

/**
 * An event topic's `retention.ms`: 0 hours keeps records forever (-1). Kafka applies it to record
 * timestamps, and ours are the sources' event times, so a finite retention deletes backfilled
 * history older than it within minutes of the write: forever is the default.
 */
export function retentionMs(hours: number): string {
  return hours === 0 ? '-1' : String(hours * 60 * 60 * 1000);
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
          { name: 'retention.ms', value: retentionMs(eventRetentionHours) },
        ];
  return {
    topic: topicName(config, spec),
    numPartitions: partitions,
    replicationFactor: replicationFactor || Math.min(3, brokers),
    configEntries,
  };
}

/**
 * Creates the missing topics; returns the names it created. Existing topics keep their settings;
 * an event topic that keeps records for less time than CHATSTREAM_KAFKA_EVENT_RETENTION_HOURS
 * gets a warning (one created before forever became the default deletes backfilled history).
 */
export async function ensureTopics(
  admin: Admin,
  config: CoreConfig,
  specs: TopicSpec[],
  log: Logger = createLogger('kafka.topics'),
): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const brokers = (await admin.describeCluster()).brokers.length;
  const wanted = specs.map((spec) => topicConfig(config, spec, brokers));
  const events = specs.filter((s) => s.retention === 'time').map((s) => topicName(config, s));
  await warnOnRetention(
    admin,
    config,
    events.filter((t) => existing.has(t)),
    log,
  );
  return createTopics(
    admin,
    wanted.filter((t) => !existing.has(t.topic)),
  );
}

/** Topics already warned about in this process (several parts of `start` ensure the same topics). */
const warned = new Set<string>();

/** Whether a topic keeping records `actual` ms deletes what the setting (`expected`, -1 = forever) would keep. */
export function retentionShorter(actual: string, expected: string): boolean {
  const kept = Number(actual);
  if (!Number.isFinite(kept) || kept < 0) return false; // forever: nothing is deleted
  const wanted = Number(expected);
  return wanted < 0 || kept < wanted;
}

/**
 * Warns (once per topic and process) about existing event topics that keep records for less
 * time than the setting: they delete history the setting means to keep. A longer retention is
 * the operator's choice and deletes nothing early. Best effort: a topic that cannot be
 * described (gone, or not ours to describe) is only noted at debug level.
 */
async function warnOnRetention(
  admin: Admin,
  config: CoreConfig,
  topics: string[],
  log: Logger,
): Promise<void> {
  const expected = retentionMs(config.kafka.eventRetentionHours);
  const described = await Promise.allSettled(
    topics
      .filter((name) => !warned.has(name))
      .map(async (name) => {
        const { resources } = await admin.describeConfigs({
          includeSynonyms: false,
          resources: [{ type: ConfigResourceTypes.TOPIC, name, configNames: ['retention.ms'] }],
        });
        return {
          name,
          actual: resources[0]?.configEntries.find((e) => e.configName === 'retention.ms')?.configValue,
        };
      }),
  );
  for (const result of described) {
    if (result.status === 'rejected') {
      log.debug('could not check the retention of an existing event topic', { error: String(result.reason) });
      continue;
    }
    const { name, actual } = result.value;
    if (actual === undefined || !retentionShorter(actual, expected)) continue;
    warned.add(name);
    log.warn(
      'an existing event topic keeps records for less time than CHATSTREAM_KAFKA_EVENT_RETENTION_HOURS: Kafka deletes its records older than that, by their event time (backfilled history first)',
      {
        topic: name,
        retentionMs: actual,
        configuredRetentionMs: expected,
        fix: `kafka-configs.sh --bootstrap-server <broker> [--command-config <client.properties>] --alter --entity-type topics --entity-name ${name} --add-config retention.ms=${expected}`,
      },
    );
  }
}

const LEADERS_TIMEOUT_MS = 30_000;

/**
 * Creates topics and waits until every partition has a leader. kafkajs' own `waitForLeaders`
 * gives up on the UNKNOWN_TOPIC_OR_PARTITION a KRaft broker answers for a moment after the
 * create, so this waits itself. A topic another process created meanwhile is fine. Returns
 * the names it created.
 */
export async function createTopics(admin: Admin, topics: ITopicConfig[]): Promise<string[]> {
  if (topics.length === 0) return [];
  let created = topics.map((t) => t.topic);
  try {
    await admin.createTopics({ topics, waitForLeaders: false });
  } catch (error) {
    // kafkajs reports "already exists" per topic: the others were created.
    const already = (error as { topicErrors?: { topic: string; type: string }[] }).topicErrors ?? [];
    if (already.length === 0 || already.some((e) => e.type !== 'TOPIC_ALREADY_EXISTS')) throw error;
    created = created.filter((t) => !already.some((e) => e.topic === t));
  }
  const deadline = Date.now() + LEADERS_TIMEOUT_MS;
  for (;;) {
    try {
      const { topics: found } = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.topic) });
      if (found.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0)))
        return created;
    } catch (error) {
      if (Date.now() > deadline || (error as { retriable?: boolean }).retriable !== true) throw error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `topics ${topics.map((t) => t.topic).join(', ')} have no leader after ${LEADERS_TIMEOUT_MS / 1000} s`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
