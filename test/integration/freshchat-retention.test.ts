/**
 * Kafka keeps what a Freshchat backfill writes. Time retention is applied to record timestamps,
 * which are the source's event times, and a backfill's history (the simulator's is dated 2025)
 * is older than any short retention: the broker would delete a partition's first records (a
 * segment of their own) at its next retention check, minutes after they were written, before a
 * stopped or lagging sink read them (seen in the tests as one conversation's messages gone). So
 * event topics keep records forever unless CHATSTREAM_KAFKA_EVENT_RETENTION_HOURS says
 * otherwise; this checks what the topics a sync creates really get, on the real stack.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { withAdmin } from '../../kafka/client.ts';
import { FRESHCHAT_KINDS } from '../../producers/freshchat/poller.ts';
import { FreshchatSimulator } from '../../producers/freshchat/simulator/index.ts';
import { prepareTopics } from '../../producers/runtime/topics.ts';
import { configOf, freshchatEnv } from '../helpers/freshchat.ts';

const DAY_MS = 24 * 3600 * 1000;

test('event topics of a Freshchat sync keep the simulator history: by default forever (retention.ms -1)', async () => {
  const sim = await FreshchatSimulator.start({ seed: 3 });
  try {
    const config = configOf(freshchatEnv(sim));
    await prepareTopics(config, FRESHCHAT_KINDS);
    const topic = `${config.kafka.topicPrefix}freshchat.messages`;
    const retentionMs = await withAdmin(config, async (admin) => {
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms'] }],
      });
      return Number(described.resources[0]?.configEntries[0]?.configValue);
    });
    const oldest = Math.min(...sim.snapshot().messages.map((m) => Date.parse(String(m.created_time))));
    assert.ok(Date.now() - oldest > 7 * DAY_MS, 'the simulated history is older than a week');
    assert.equal(retentionMs, -1, `${topic} keeps records ${retentionMs} ms, not forever`);
    await withAdmin(config, async (admin) => {
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(config.kafka.topicPrefix));
      await admin.deleteTopics({ topics });
    });
  } finally {
    await sim.stop();
  }
});
