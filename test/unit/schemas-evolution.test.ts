import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import avro from 'avsc';
import { PROJECT_ROOT } from '../../core/settings.ts';
import { parseAvroSchema } from '../../schemas/avro-schema.ts';
import { kindOf, latestSchema } from '../../schemas/catalog.ts';
import { checkCompatibility } from '../../schemas/compatibility.ts';
import { conform, toEpochMillis } from '../../schemas/conform.ts';
import { avroFieldName, evolveSchema, type RegistryPort, SchemaContract } from '../../schemas/evolution.ts';

const fixture = (name: string) =>
  JSON.parse(readFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'freshchat', name), 'utf8'));
const schemaOf = (topic: string) => JSON.parse(latestSchema(kindOf(topic)).text);

test('a real Freshchat message conforms to freshchat.messages and encodes', () => {
  const schema = schemaOf('freshchat.messages');
  const result = conform(schema, fixture('message.json'));
  assert.deepEqual(result.errors, []);
  assert.deepEqual(result.unknown, []);
  const value = result.value as Record<string, unknown>;
  assert.equal(value.created_time, Date.parse('2025-07-10T19:47:55.442Z'));
  const parts = value.message_parts as Record<string, unknown>[];
  assert.deepEqual(parts[0]?.text, { content: 'hello world ✓ 안녕' });
  assert.equal(parts[0]?.image, null);
  assert.match(
    String(parts[2]?.template_content),
    /^\{"type":"carousel"/,
    'template_content kept as JSON text',
  );
  const type = avro.Type.forSchema(schema);
  assert.deepEqual(type.fromBuffer(type.toBuffer(value)), type.clone(value));
});

test('conversations: numeric ids become strings, property objects a map, ISO times epoch ms', () => {
  const result = conform(schemaOf('freshchat.conversations'), fixture('conversation.json'));
  assert.deepEqual(result.errors, []);
  const value = result.value as Record<string, unknown>;
  assert.equal(value.conversation_internal_id, '1019183591791880');
  assert.equal(value.skill_id, '0');
  assert.deepEqual(value.properties, { priority: 'Low' });
  assert.equal(value.assigned_agent_id, null);
  assert.deepEqual(value.agent_ids, []);
});

test('timestamps: ISO-8601 with Z or offsets, epoch seconds and milliseconds', () => {
  assert.equal(toEpochMillis('2022-11-22T10:55:23.126Z'), 1669114523126);
  assert.equal(toEpochMillis('2019-05-31T15:30:00.000+05:30'), Date.parse('2019-05-31T10:00:00.000Z'));
  assert.equal(toEpochMillis(1566970961), 1566970961000);
  assert.equal(toEpochMillis(1669114523126), 1669114523126);
  assert.equal(toEpochMillis('yesterday'), undefined);
});

test('unknown fields are reported with their path; bad values are errors naming the field', () => {
  const schema = schemaOf('freshchat.messages');
  const message = {
    ...fixture('message.json'),
    priority: 3,
    message_parts: [{ text: { content: 'x', lang: 'ko' } }, { file: { url: 'u' } }],
  };
  const result = conform(schema, message);
  assert.deepEqual(
    result.unknown.map((u) => u.path),
    ['message_parts[].text.lang', 'message_parts[].file', 'priority'].sort((a, b) =>
      a === 'priority' ? 1 : b === 'priority' ? -1 : 0,
    ),
  );
  const bad = conform(schema, { ...fixture('message.json'), created_time: 'yesterday', id: undefined });
  assert.deepEqual(bad.errors, [
    'id: is required',
    'created_time: expected a timestamp (ISO-8601 or epoch), got "yesterday"',
  ]);
});

test('evolveSchema adds optional typed fields, at any depth, and stays compatible both ways', () => {
  const schema = schemaOf('freshchat.messages');
  const { schema: next, added } = evolveSchema(schema, [
    { path: 'priority', value: 3 },
    { path: 'score', value: 0.5 },
    { path: 'escalated_at', value: '2025-07-10T19:47:55.442Z' },
    { path: 'labels', value: ['a', 'b'] },
    { path: 'cf-region', value: 'EU' },
    { path: 'message_parts[].text.lang', value: 'ko' },
    { path: 'message_parts[].file', value: { url: 'u' } },
  ]);
  assert.deepEqual(added, [
    'Message.priority',
    'Message.score',
    'Message.escalated_at',
    'Message.labels',
    'Message.cf_region',
    'TextPart.lang',
    'MessagePart.file',
  ]);
  const fields = (
    next.fields as { name: string; type: unknown; default?: unknown; source_name?: string; doc: string }[]
  ).slice(-5);
  assert.deepEqual(
    fields.map((f) => f.type),
    [
      ['null', 'long'],
      ['null', 'double'],
      ['null', { type: 'long', logicalType: 'timestamp-millis' }],
      ['null', 'string'],
      ['null', 'string'],
    ],
  );
  assert.ok(fields.every((f) => f.default === null));
  assert.match(fields[3]?.doc ?? '', /kept as JSON text/);
  assert.equal(fields[4]?.source_name, 'cf-region');
  const before = parseAvroSchema(JSON.stringify(schema)).type;
  const after = parseAvroSchema(JSON.stringify(next)).type;
  assert.equal(checkCompatibility('FULL', after, [{ version: 1, type: before }]).compatible, true);
  // The evolved schema types the record that had unknown fields.
  const evolved = conform(next, {
    ...fixture('message.json'),
    'cf-region': 'EU',
    labels: ['a'],
    message_parts: [{ file: { url: 'u' } }],
  });
  assert.deepEqual(evolved.unknown, []);
  assert.equal((evolved.value as Record<string, unknown>).cf_region, 'EU');
  assert.equal((evolved.value as Record<string, unknown>).labels, '["a"]');
  assert.equal(avroFieldName('1st', new Set()), '_1st');
  assert.equal(avroFieldName('id', new Set(['id'])), 'id_2');
});

/** Registers into a list, giving ids by content (what a registry does). */
function memoryRegistry(): RegistryPort & { registered: string[] } {
  const registered: string[] = [];
  return {
    registered,
    async register(_subject, schema) {
      if (!registered.includes(schema)) registered.push(schema);
      return registered.indexOf(schema) + 1;
    },
  };
}

test('contract modes on a record with an unknown field: evolve types it, discard drops it, freeze rejects it', async () => {
  const schema = schemaOf('freshchat.conversations');
  const records = [
    fixture('conversation.json'),
    { ...fixture('conversation.json'), conversation_id: 'c2', csat: 4 },
  ];
  for (const mode of ['evolve', 'discard', 'freeze'] as const) {
    const registry = memoryRegistry();
    const contract = new SchemaContract({ subject: 'freshchat.conversations-value', schema, mode, registry });
    const outcome = await contract.apply(records);
    if (mode === 'evolve') {
      assert.deepEqual(outcome.added, ['Conversation.csat']);
      assert.equal(outcome.accepted.length, 2);
      assert.equal(outcome.accepted[1]?.value.csat, 4);
      assert.equal(outcome.accepted[0]?.value.csat, null);
      assert.equal(registry.registered.length, 1, 'only the evolved schema was registered');
    } else if (mode === 'discard') {
      assert.deepEqual(outcome.added, []);
      assert.equal(outcome.accepted.length, 2);
      assert.equal('csat' in (outcome.accepted[1]?.value ?? {}), false);
    } else {
      assert.deepEqual(
        outcome.accepted.map((a) => a.index),
        [0],
      );
      assert.equal(outcome.rejected[0]?.index, 1);
      assert.match(outcome.rejected[0]?.reason ?? '', /unknown field\(s\) csat \(schema contract "freeze"/);
    }
  }
});

test('in every mode a record whose known field does not fit is rejected with the reason', async () => {
  const contract = new SchemaContract({
    subject: 's',
    schema: schemaOf('freshchat.conversations'),
    mode: 'evolve',
    registry: memoryRegistry(),
  });
  const outcome = await contract.apply([{ ...fixture('conversation.json'), created_time: 'soon' }]);
  assert.equal(outcome.accepted.length, 0);
  assert.match(outcome.rejected[0]?.reason ?? '', /created_time: expected a timestamp/);
});
