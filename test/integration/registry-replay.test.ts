/**
 * A malformed record in the registry's topic (a value that is not JSON, or not the shape its
 * key type needs) is skipped with a warning naming it; the replay goes on and the registry
 * starts. Each test uses a fresh topic of its own, never the shared `_schemas`.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { loadConfig } from '../../cli/settings.ts';
import { configureLogging, createLogger } from '../../core/log.ts';
import { createKafka, createProducer } from '../../kafka/client.ts';
import { KafkaRecordLog } from '../../registry/kafka-log.ts';
import { encodeRecord } from '../../registry/records.ts';
import { RegistryState } from '../../registry/state.ts';
import { uniqueName } from '../helpers/names.ts';
import { call, startTestRegistry } from '../helpers/registry.ts';

const config = loadConfig();
const kafka = createKafka(config, { role: 'test' });
const topics: string[] = [];

after(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
});

const schemaKey = (subject: string, version = 1) =>
  JSON.stringify({ keytype: 'SCHEMA', subject, version, magic: 1 });
const schemaRecord = (subject: string, id: number, fieldName: string) =>
  encodeRecord({
    keytype: 'SCHEMA',
    subject,
    version: 1,
    value: {
      subject,
      version: 1,
      id,
      schema: JSON.stringify({ type: 'record', name: 'R', fields: [{ name: fieldName, type: 'string' }] }),
      deleted: false,
    },
  });

/** A fresh one-partition compacted topic holding these raw records, in order. */
async function topicWith(records: { key: string; value: string | null }[]): Promise<string> {
  const topic = uniqueName('_schemas_replay');
  topics.push(topic);
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
    });
  } finally {
    await admin.disconnect();
  }
  const producer = createProducer(kafka);
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: records });
  } finally {
    await producer.disconnect();
  }
  return topic;
}

/** Replays the topic into a state; fails (and stops the reader) instead of waiting forever. */
async function replay(topic: string, deadlineMs = 30_000): Promise<RegistryState> {
  const state = new RegistryState();
  const store = new KafkaRecordLog(
    createKafka(config, { role: 'test-registry' }),
    topic,
    state,
    createLogger('test-registry'),
  );
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      store.start(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the replay of ${topic} did not finish within ${deadlineMs} ms`)),
          deadlineMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
    await store.stop();
  }
  return state;
}

test('malformed records in the schemas topic are skipped with a warning; the replay and the registry go on', async () => {
  const topic = await topicWith([
    schemaRecord('a-value', 1, 'a'), // 0
    { key: schemaKey('b-value'), value: '{"subject":"b-value", not json' }, // 1: not JSON
    { key: schemaKey('c-value'), value: '{"subject":"c-value","version":1}' }, // 2: no id, no schema
    { key: '{"keytype":"CONFIG","magic":0}', value: '{"compatibilityLevel":7}' }, // 3: not a level
    { key: schemaKey('e-value'), value: '"just a string"' }, // 4: not an object
    schemaRecord('d-value', 2, 'd'), // 5
  ]);
  const lines: string[] = [];
  configureLogging({ level: 'warn', format: 'json', write: (line) => lines.push(line) });
  let state: RegistryState;
  try {
    state = await replay(topic);
  } finally {
    configureLogging({ level: 'info', format: 'auto', write: (line) => process.stderr.write(line) });
  }
  assert.deepEqual(state.subjectNames(true), ['a-value', 'd-value']);
  assert.equal(state.schemaById(2)?.schema.includes('"d"'), true);
  assert.equal(state.maxId, 2);
  assert.equal(state.config(null), undefined, 'the malformed CONFIG record changed nothing');
  const warnings = lines
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.level === 'warn' && /malformed/.test(String(entry.msg)));
  assert.deepEqual(
    warnings.map((w) => [w.topic, w.offset]),
    [
      [topic, '1'],
      [topic, '2'],
      [topic, '3'],
      [topic, '4'],
    ],
  );
  for (const w of warnings) assert.ok(typeof w.reason === 'string' && w.reason.length > 0, JSON.stringify(w));

  // The whole registry starts on that topic, serves what is valid and takes new schemas.
  const registry = await startTestRegistry({ topic });
  try {
    assert.deepEqual((await call(registry.url, 'GET', '/subjects')).body, ['a-value', 'd-value']);
    const next = await call(registry.url, 'POST', '/subjects/f-value/versions', {
      schema: JSON.stringify({ type: 'record', name: 'F', fields: [{ name: 'f', type: 'long' }] }),
    });
    assert.equal(next.status, 200, JSON.stringify(next.body));
    assert.equal((next.body as { id: number }).id, 3);
  } finally {
    await registry.close();
  }
});
