/**
 * The registry's state lives in Kafka: a restarted instance, or a second one reading the same
 * topic, serves the same subjects, versions and ids. And the pipeline's own clients
 * (kafkajs + @kafkajs/confluent-schema-registry) round-trip Avro through it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SchemaRegistry as RegistryClient, SchemaType } from '@kafkajs/confluent-schema-registry';
import { loadConfig } from '../../cli/settings.ts';
import { createKafka, createProducer } from '../../kafka/client.ts';
import { uniqueName } from '../helpers/names.ts';
import { call, startTestRegistry } from '../helpers/registry.ts';

const record = (name: string, fields: unknown[]) => JSON.stringify({ type: 'record', name, fields });

async function snapshot(url: string) {
  const subjects = (await call(url, 'GET', '/subjects?deleted=true')).body as string[];
  const out: Record<string, unknown> = {};
  for (const subject of subjects) {
    const versions = (await call(url, 'GET', `/subjects/${subject}/versions?deleted=true`)).body as number[];
    out[subject] = await Promise.all(
      versions.map(
        async (v) => (await call(url, 'GET', `/subjects/${subject}/versions/${v}?deleted=true`)).body,
      ),
    );
  }
  out['/config'] = (await call(url, 'GET', '/config')).body;
  return out;
}

test('after a restart, and in a second instance on the same topic, every subject, version and id is served again', async () => {
  const first = await startTestRegistry();
  const { topic } = first;
  const ids: number[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      const subject = `durable-${i}-value`;
      const v1 = record(`chat.R${i}`, [{ name: 'id', type: 'string' }]);
      const v2 = record(`chat.R${i}`, [
        { name: 'id', type: 'string' },
        { name: 'n', type: 'int', default: 0 },
      ]);
      ids.push(
        (
          (await call(first.url, 'POST', `/subjects/${subject}/versions`, { schema: v1 })).body as {
            id: number;
          }
        ).id,
      );
      ids.push(
        (
          (await call(first.url, 'POST', `/subjects/${subject}/versions`, { schema: v2 })).body as {
            id: number;
          }
        ).id,
      );
    }
    await call(first.url, 'DELETE', '/subjects/durable-4-value/versions/1');
    await call(first.url, 'PUT', '/config', { compatibility: 'FULL' });
    await call(first.url, 'PUT', '/config/durable-0-value', { compatibility: 'NONE' });
  } finally {
    await first.close();
  }
  assert.deepEqual(
    ids,
    [...ids].sort((a, b) => a - b),
    'ids are global and increasing',
  );

  const restarted = await startTestRegistry({ topic });
  const second = await startTestRegistry({ topic });
  try {
    const before = await snapshot(restarted.url);
    assert.equal(Object.keys(before).length, 6);
    assert.deepEqual(await snapshot(second.url), before, 'a second instance serves the same state');
    assert.deepEqual((await call(restarted.url, 'GET', '/config')).body, { compatibilityLevel: 'FULL' });
    assert.deepEqual((await call(second.url, 'GET', '/config/durable-0-value')).body, {
      compatibilityLevel: 'NONE',
    });
    assert.deepEqual((await call(second.url, 'GET', '/subjects/durable-4-value/versions')).body, [2]);
    for (const id of ids) {
      const a = await call(restarted.url, 'GET', `/schemas/ids/${id}`);
      assert.equal(a.status, 200);
      assert.deepEqual((await call(second.url, 'GET', `/schemas/ids/${id}`)).body, a.body);
    }
    // The next id continues after the replayed ones.
    const next = await call(restarted.url, 'POST', '/subjects/durable-new-value/versions', {
      schema: record('chat.New', [{ name: 'x', type: 'long' }]),
    });
    assert.equal((next.body as { id: number }).id, Math.max(...ids) + 1);
  } finally {
    await restarted.close();
    await second.close();
  }
});

test('the _schemas records are in Confluent format (SCHEMA key with magic 1, JSON value)', async () => {
  const registry = await startTestRegistry();
  await call(registry.url, 'POST', '/subjects/fmt-value/versions', {
    schema: record('chat.F', [{ name: 'id', type: 'string' }]),
  });
  await registry.close();
  const kafka = createKafka(loadConfig(), { role: 'test' });
  const consumer = kafka.consumer({ groupId: uniqueName('fmt') });
  await consumer.connect();
  await consumer.subscribe({ topic: registry.topic, fromBeginning: true });
  const first = await new Promise<{ key: unknown; value: unknown }>((resolve) => {
    consumer.run({
      eachMessage: async ({ message }) =>
        resolve({ key: JSON.parse(String(message.key)), value: JSON.parse(String(message.value)) }),
    });
  });
  await consumer.disconnect();
  assert.deepEqual(first.key, { keytype: 'SCHEMA', subject: 'fmt-value', version: 1, magic: 1 });
  const value = first.value as Record<string, unknown>;
  assert.deepEqual(Object.keys(value).sort(), ['deleted', 'id', 'schema', 'subject', 'version']);
  assert.equal(value.deleted, false);
});

test('a write Kafka cannot take is answered 500 / 50001 and the state is unchanged', async () => {
  const registry = await startTestRegistry();
  const admin = createKafka(loadConfig(), { role: 'test' }).admin();
  try {
    await call(registry.url, 'POST', '/subjects/ok-value/versions', {
      schema: record('chat.Ok', [{ name: 'id', type: 'string' }]),
    });
    await admin.connect();
    await admin.deleteTopics({ topics: [registry.topic] });
    const reply = await call(registry.url, 'POST', '/subjects/lost-value/versions', {
      schema: record('chat.Lost', [{ name: 'id', type: 'string' }]),
    });
    assert.equal(reply.status, 500);
    assert.equal((reply.body as { error_code: number }).error_code, 50001);
    assert.match((reply.body as { message: string }).message, /Error while storing the schema/);
    assert.deepEqual((await call(registry.url, 'GET', '/subjects')).body, ['ok-value']);
  } finally {
    await admin.disconnect();
    await registry.close();
  }
});

test('round trip: @kafkajs/confluent-schema-registry encodes against our registry → Kafka → a consumer decodes', async () => {
  const config = loadConfig();
  const client = new RegistryClient({ host: config.schemaRegistry.url });
  const topic = uniqueName('roundtrip');
  const schema = {
    type: 'record',
    name: 'Message',
    namespace: 'chatstream.test',
    fields: [
      { name: 'id', type: 'string' },
      { name: 'conversation_id', type: 'string' },
      { name: 'created_time', type: { type: 'long', logicalType: 'timestamp-millis' } },
      { name: 'text', type: ['null', 'string'], default: null },
    ],
  };
  const { id } = await client.register(
    { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
    { subject: `${topic}-value` },
  );
  const values = Array.from({ length: 50 }, (_, i) => ({
    id: `m-${i}`,
    conversation_id: `c-${i % 5}`,
    created_time: 1_763_800_000_000 + i,
    text: i % 2 ? `hello ${i} ✓ 안녕` : null,
  }));

  const kafka = createKafka(config, { role: 'test' });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  const producer = createProducer(kafka);
  await producer.connect();
  const encoded = await Promise.all(values.map((v) => client.encode(id, v)));
  assert.equal(encoded[0]?.[0], 0, 'Confluent wire format: magic byte 0');
  assert.equal(encoded[0]?.readInt32BE(1), id, 'then the 4-byte schema id');
  await producer.send({
    topic,
    messages: values.map((v, i) => ({ key: v.id, value: encoded[i] as Buffer })),
  });
  await producer.disconnect();

  // A fresh client with an empty cache decodes: it must fetch the schema by id from the registry.
  const reader = new RegistryClient({ host: config.schemaRegistry.url });
  const consumer = kafka.consumer({ groupId: uniqueName('roundtrip') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const decoded: unknown[] = [];
  await new Promise<void>((resolve) => {
    consumer.run({
      eachMessage: async ({ message }) => {
        decoded.push({ ...(await reader.decode(message.value as Buffer)) });
        if (decoded.length === values.length) resolve();
      },
    });
  });
  await consumer.disconnect();
  await admin.deleteTopics({ topics: [topic] });
  await admin.disconnect();
  const byId = (a: unknown, b: unknown) =>
    String((a as { id: string }).id).localeCompare(String((b as { id: string }).id));
  // The library decodes timestamp-millis as its underlying long.
  assert.deepEqual(decoded.sort(byId), values.sort(byId));
});
