import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { type Config, loadConfig } from '../../cli/settings.ts';
import { createLogger } from '../../core/log.ts';
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

test('an existing event topic that keeps records for less time than the setting is left as it is, with one warning naming it and the fix', async () => {
  const base = loadConfig();
  const prefix = `${uniqueName('tpr')}.`;
  const kinds = RECORD_KINDS.filter((k) => k.topic === 'freshchat.messages' || k.topic === 'freshchat.users');
  const at = (eventRetentionHours: number): Config => ({
    ...base,
    kafka: { ...base.kafka, topicPrefix: prefix, partitions: 1, eventRetentionHours },
  });
  const warnings: { msg: string; fields?: Record<string, unknown> }[] = [];
  const log = createLogger('test.topics');
  const capture = {
    ...log,
    warn: (msg: string, fields?: Record<string, unknown>) => warnings.push({ msg, fields }),
  };
  await withAdmin(base, async (admin) => {
    // Created by an older release, with its 7-day default.
    await ensureTopics(admin, at(168), kinds, capture);
    assert.equal(warnings.length, 0, JSON.stringify(warnings));
    assert.deepEqual(await ensureTopics(admin, at(0), kinds, capture), []);
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    const [warning] = warnings;
    assert.match(warning?.msg ?? '', /CHATSTREAM_KAFKA_EVENT_RETENTION_HOURS/);
    assert.equal(warning?.fields?.topic, `${prefix}freshchat.messages`);
    assert.equal(warning?.fields?.retentionMs, String(168 * 3600 * 1000));
    assert.equal(warning?.fields?.configuredRetentionMs, '-1');
    assert.match(String(warning?.fields?.fix), /--add-config retention\.ms=-1/);
    // Its settings are the operator's: nothing was changed.
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        {
          type: kafkajs.ConfigResourceTypes.TOPIC,
          name: `${prefix}freshchat.messages`,
          configNames: ['retention.ms'],
        },
      ],
    });
    assert.equal(described.resources[0]?.configEntries[0]?.configValue, String(168 * 3600 * 1000));
    // Once per process: every part of `start` ensures the same topics.
    await ensureTopics(admin, at(0), kinds, capture);
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
  });
  await withAdmin(base, (admin) => admin.deleteTopics({ topics: kinds.map((k) => `${prefix}${k.topic}`) }));
});
