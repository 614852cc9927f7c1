/**
 * Kafka keeps what the Freshchat tests write. Time retention is applied to record timestamps,
 * which are the source's event times, and the simulator's history is dated 2025: with a
 * retention shorter than its age, the broker deletes a partition's first records (a segment of
 * their own) at its next retention check, at most 5 minutes after they were written — a test
 * reading after that misses them (seen as one conversation's messages gone). global-setup.ts
 * gives the tests the longest event retention; this checks that the topics a sync creates get
 * it, on the real stack.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { withAdmin } from '../../kafka/client.ts';
import { FRESHCHAT_KINDS } from '../../producers/freshchat/poller.ts';
import { FreshchatSimulator } from '../../producers/freshchat/simulator/index.ts';
import { prepareTopics } from '../../producers/runtime/topics.ts';
import { configOf, freshchatEnv } from '../helpers/freshchat.ts';

const YEAR_MS = 365 * 24 * 3600 * 1000;

test('event topics of a Freshchat sync keep the simulator history: retention longer than its oldest message', async () => {
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
    // A year of margin: the check keeps holding while the clock moves on from the simulator's dates.
    assert.ok(
      retentionMs > Date.now() - oldest + YEAR_MS,
      `${topic} keeps ${retentionMs} ms; the oldest simulated message is ${Date.now() - oldest} ms old`,
    );
    await withAdmin(config, async (admin) => {
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(config.kafka.topicPrefix));
      await admin.deleteTopics({ topics });
    });
  } finally {
    await sim.stop();
  }
});
