import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { type Config, loadConfig } from '../../cli/settings.ts';
import { withAdmin } from '../../kafka/client.ts';
import { ensureTopics } from '../../kafka/topics.ts';
import { RECORD_KINDS } from '../../schemas/catalog.ts';
import { uniqueName } from '../helpers/names.ts';

test('ensureTopics creates every topic with explicit settings: entities compacted, events retained; twice is a no-op', async () => {
  const base = loadConfig();
  const prefix = `${uniqueName('tp')}.`;
  const config: Config = {
    ...base,
    kafka: { ...base.kafka, topicPrefix: prefix, partitions: 3, eventRetentionHours: 48 },
  };
  await withAdmin(config, async (admin) => {
    const created = await ensureTopics(admin, config, RECORD_KINDS);
    assert.deepEqual(created.sort(), RECORD_KINDS.map((k) => `${prefix}${k.topic}`).sort());
    assert.deepEqual(await ensureTopics(admin, config, RECORD_KINDS), []);
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [`${prefix}freshchat.users`, `${prefix}freshchat.messages`].map((name) => ({
        type: kafkajs.ConfigResourceTypes.TOPIC,
        name,
        configNames: ['cleanup.policy', 'retention.ms'],
      })),
    });
    const settings = Object.fromEntries(
      described.resources.map((r) => [
        r.resourceName,
        Object.fromEntries(r.configEntries.map((e) => [e.configName, e.configValue])),
      ]),
    );
    assert.equal(settings[`${prefix}freshchat.users`]?.['cleanup.policy'], 'compact');
    assert.equal(settings[`${prefix}freshchat.messages`]?.['cleanup.policy'], 'delete');
    assert.equal(settings[`${prefix}freshchat.messages`]?.['retention.ms'], String(48 * 3600 * 1000));
    const metadata = await admin.fetchTopicMetadata({ topics: [`${prefix}freshchat.conversations`] });
    assert.equal(metadata.topics[0]?.partitions.length, 3);
    await admin.deleteTopics({ topics: created });
  });
});
