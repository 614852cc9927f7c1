/** Shared pieces of the Freshchat tests: an isolated topic namespace per test and what the topics hold. */
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import type { Config } from '../../cli/settings.ts';
import { loadConfig } from '../../cli/settings.ts';
import { createLogger } from '../../core/log.ts';
import { FRESHCHAT_KINDS } from '../../producers/freshchat/poller.ts';
import type { FreshchatSimulator } from '../../producers/freshchat/simulator/index.ts';
import { SourceRunner } from '../../producers/runtime/runner.ts';
import { uniqueName } from './names.ts';
import { duplicateKeys, type TopicRecord, topicRecords } from './topic-records.ts';

/** Environment for a chatstream process writing to topics of its own (a random prefix). */
export function freshchatEnv(sim: FreshchatSimulator, prefix = uniqueName('fc')): NodeJS.ProcessEnv {
  return {
    ...process.env,
    CHATSTREAM_KAFKA_TOPIC_PREFIX: `${prefix}.`,
    CHATSTREAM_KAFKA_PARTITIONS: '3',
    CHATSTREAM_PRODUCER_OFFSETS_TOPIC: `${prefix}._offsets`,
    CHATSTREAM_PRODUCER_DEAD_LETTER_TOPIC: `${prefix}.dead_letters`,
    CHATSTREAM_PRODUCER_INSTANCE_ID: prefix,
    CHATSTREAM_PRODUCER_METRICS_PORT: '0',
    CHATSTREAM_LOG_FORMAT: 'json',
    FRESHCHAT_BASE_URL: sim.url,
    FRESHCHAT_API_KEY: sim.apiKey,
    FRESHCHAT_SINCE: '2000-01-01T00:00:00Z',
    FRESHCHAT_REPORT_LAG_MINUTES: '0',
    FRESHCHAT_REPORT_PARTIAL_WINDOWS: 'true',
    FRESHCHAT_REPORT_POLL_INTERVAL_MS: '20',
    FRESHCHAT_REQUESTS_PER_MINUTE: '1000000',
  };
}

/** The producer runtime as the Freshchat poller makes it, for tests that drive it directly. */
export function freshchatRunner(config: Config, metrics = new Registry()): SourceRunner {
  return new SourceRunner({
    config,
    name: 'freshchat',
    kinds: FRESHCHAT_KINDS,
    contract: config.freshchat.contract,
    log: createLogger('test'),
    metrics,
  });
}

export function configOf(env: NodeJS.ProcessEnv): Config {
  return loadConfig({ env });
}

/** Entity resources: topic suffix, key field, and the simulator's list. */
export const ENTITY_CHECKS: {
  topic: string;
  ids: (s: ReturnType<FreshchatSimulator['snapshot']>) => string[];
}[] = [
  { topic: 'freshchat.users', ids: (s) => s.users.map((u) => String(u.id)) },
  { topic: 'freshchat.agents', ids: (s) => s.agents.map((a) => String(a.id)) },
  { topic: 'freshchat.groups', ids: (s) => s.groups.map((g) => String(g.id)) },
  { topic: 'freshchat.channels', ids: (s) => s.channels.map((c) => String(c.id)) },
  { topic: 'freshchat.agent_statuses', ids: (s) => s.agentStatuses.map((a) => String(a.id)) },
  { topic: 'freshchat.outbound_messages', ids: (s) => s.outboundMessages.map((m) => String(m.message_id)) },
  { topic: 'freshchat.conversations', ids: (s) => s.conversations.map((c) => String(c.conversation_id)) },
  { topic: 'freshchat.messages', ids: (s) => s.messages.map((m) => String(m.id)) },
];

export async function recordsOf(
  env: NodeJS.ProcessEnv,
  topic: string,
  options: { settle?: boolean } = {},
): Promise<TopicRecord[]> {
  return topicRecords(configOf(env), `${env.CHATSTREAM_KAFKA_TOPIC_PREFIX}${topic}`, options);
}

/** The topics hold exactly the simulator's entities: the same ids, each key once. */
export async function assertExactly(
  env: NodeJS.ProcessEnv,
  sim: FreshchatSimulator,
  topics = ENTITY_CHECKS,
): Promise<Record<string, number>> {
  const snapshot = sim.snapshot();
  const counts: Record<string, number> = {};
  for (const { topic, ids } of topics) {
    const records = await recordsOf(env, topic);
    // A writer waits (bounded, 4 s) for its records to be visible before it exits; should that
    // run out under load, records a read-committed reader does not see yet are read again a few
    // times. Records that never show up still fail below: the "one conversation's messages
    // missing" failures were records Kafka's retention had deleted (see global-setup.ts).
    for (let again = 1; again <= 5 && records.length < ids(snapshot).length; again++) {
      process.stderr.write(
        `${topic}: ${ids(snapshot).length - records.length} record(s) not visible yet; reading again (${again})\n`,
      );
      await new Promise((resolve) => setTimeout(resolve, 2000));
      records.splice(0, records.length, ...(await recordsOf(env, topic)));
    }
    assert.deepEqual(duplicateKeys(records), [], `${topic}: a key was written twice`);
    assert.deepEqual(
      records.map((r) => r.key).sort(),
      [...ids(snapshot)].sort(),
      `${topic}: the keys differ from the simulator's ids`,
    );
    counts[topic] = records.length;
  }
  return counts;
}
