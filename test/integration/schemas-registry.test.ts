/**
 * The curated schemas and the evolution contract against the real registry and Kafka:
 * registration is idempotent; a record with a new field evolves the subject (v2, no restart)
 * and round-trips through Kafka with the new field; freeze and discard do what they say.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Config, loadConfig } from '../../cli/settings.ts';
import { PROJECT_ROOT } from '../../core/settings.ts';
import { createKafka, createProducer } from '../../kafka/client.ts';
import { kindOf, latestSchema, RECORD_KINDS } from '../../schemas/catalog.ts';
import { type ContractMode, SchemaContract } from '../../schemas/evolution.ts';
import { registerAll } from '../../schemas/register.ts';
import { createRegistryClient, registryPort, subjectCompatibility } from '../../schemas/registry-client.ts';
import { uniqueName } from '../helpers/names.ts';
import { call } from '../helpers/registry.ts';

const base = loadConfig();
const prefix = `${uniqueName('t')}.`;
const config: Config = { ...base, kafka: { ...base.kafka, topicPrefix: prefix } };
const kafka = createKafka(config, { role: 'test' });
const admin = kafka.admin();
const conversation = () =>
  JSON.parse(readFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'freshchat', 'conversation.json'), 'utf8'));

before(() => admin.connect());
after(() => admin.disconnect());

test('schemas register: every kind under <prefix><topic>-value with its level; a second run changes nothing', async () => {
  const first = await registerAll(config);
  assert.equal(first.length, RECORD_KINDS.length);
  const subjects = (await call(config.schemaRegistry.url, 'GET', `/subjects?subjectPrefix=${prefix}`))
    .body as string[];
  assert.deepEqual(subjects.sort(), RECORD_KINDS.map((k) => `${prefix}${k.topic}-value`).sort());
  assert.equal(await subjectCompatibility(config, `${prefix}freshchat.messages-value`), 'BACKWARD');
  const second = await registerAll(config);
  assert.deepEqual(second, first);
  const versions = (
    await call(config.schemaRegistry.url, 'GET', `/subjects/${prefix}freshchat.users-value/versions`)
  ).body;
  assert.deepEqual(versions, [1]);
});

async function roundTrip(mode: ContractMode, records: unknown[]) {
  const topic = `${prefix}${uniqueName('conversations')}`;
  const subject = `${topic}-value`;
  const client = createRegistryClient(config);
  const contract = new SchemaContract({
    subject,
    schema: JSON.parse(latestSchema(kindOf('freshchat.conversations')).text),
    mode,
    registry: registryPort(client),
  });
  const outcome = await contract.apply(records);
  await admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
  const producer = createProducer(kafka);
  await producer.connect();
  await producer.send({
    topic,
    messages: await Promise.all(
      outcome.accepted.map(async (a) => ({
        key: String(a.value.conversation_id),
        value: await client.encode(outcome.schemaId, a.value),
      })),
    ),
  });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: uniqueName('evolve') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const reader = createRegistryClient(config);
  const decoded: Record<string, unknown>[] = [];
  await new Promise<void>((resolve) => {
    if (outcome.accepted.length === 0) resolve();
    consumer.run({
      eachMessage: async ({ message }) => {
        decoded.push({ ...(await reader.decode(message.value as Buffer)) });
        if (decoded.length === outcome.accepted.length) resolve();
      },
    });
  });
  await consumer.disconnect();
  const versions = (await call(config.schemaRegistry.url, 'GET', `/subjects/${subject}/versions`))
    .body as number[];
  return { outcome, decoded, versions };
}

test('evolve: an unknown field becomes an optional field of a new registered version, and its values arrive', async () => {
  const { outcome, decoded, versions } = await roundTrip('evolve', [
    conversation(),
    { ...conversation(), conversation_id: 'c2', csat_score: 4, sentiment: 'happy' },
  ]);
  assert.deepEqual(outcome.added, ['Conversation.csat_score', 'Conversation.sentiment']);
  assert.deepEqual(versions, [1], 'the evolved schema is the first version of this fresh subject');
  const byId = Object.fromEntries(decoded.map((d) => [d.conversation_id, d]));
  assert.equal(byId.c2?.csat_score, 4);
  assert.equal(byId.c2?.sentiment, 'happy');
  assert.equal(byId['7e673110-64fc-461f-bcec-cc8e9a47a568']?.csat_score, null);
});

test('evolve registers v2 next to an existing v1 without a restart, under BACKWARD', async () => {
  const topic = `${prefix}${uniqueName('conv')}`;
  const subject = `${topic}-value`;
  const schema = JSON.parse(latestSchema(kindOf('freshchat.conversations')).text);
  const contract = new SchemaContract({
    subject,
    schema,
    mode: 'evolve',
    registry: registryPort(createRegistryClient(config)),
  });
  const v1 = await contract.apply([conversation()]);
  const v2 = await contract.apply([{ ...conversation(), first_response_seconds: 42 }]);
  assert.notEqual(v2.schemaId, v1.schemaId);
  assert.deepEqual(
    (await call(config.schemaRegistry.url, 'GET', `/subjects/${subject}/versions`)).body,
    [1, 2],
  );
  const latest = (await call(config.schemaRegistry.url, 'GET', `/subjects/${subject}/versions/latest`))
    .body as { schema: string };
  const added = (
    JSON.parse(latest.schema).fields as { name: string; type: unknown; default: unknown; doc: string }[]
  ).at(-1);
  assert.equal(added?.name, 'first_response_seconds');
  assert.deepEqual(added?.type, ['null', 'long']);
  assert.equal(added?.default, null);
  assert.match(added?.doc ?? '', /Added by schema evolution/);
});

test('discard: the unknown field is dropped and the record arrives; freeze: the record is rejected with the reason', async () => {
  const discarded = await roundTrip('discard', [{ ...conversation(), csat_score: 4 }]);
  assert.equal(discarded.decoded.length, 1);
  assert.equal('csat_score' in (discarded.decoded[0] ?? {}), false);
  const frozen = await roundTrip('freeze', [
    conversation(),
    { ...conversation(), conversation_id: 'c2', csat_score: 4 },
  ]);
  assert.deepEqual(
    frozen.decoded.map((d) => d.conversation_id),
    ['7e673110-64fc-461f-bcec-cc8e9a47a568'],
  );
  assert.equal(frozen.outcome.rejected.length, 1);
  assert.match(
    frozen.outcome.rejected[0]?.reason ?? '',
    /unknown field\(s\) csat_score \(schema contract "freeze"/,
  );
});
