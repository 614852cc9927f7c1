import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAvroSchema } from '../../schemas/avro-schema.ts';
import { checkCompatibility, type Level, readIncompatibilities } from '../../schemas/compatibility.ts';

const t = (schema: unknown) => parseAvroSchema(JSON.stringify(schema)).type;
const record = (fields: unknown[], extra: Record<string, unknown> = {}) => ({
  type: 'record',
  name: 'chat.Message',
  fields,
  ...extra,
});

const v1 = t(record([{ name: 'id', type: 'string' }]));
const v2optional = t(
  record([
    { name: 'id', type: 'string' },
    { name: 'text', type: ['null', 'string'], default: null },
  ]),
);
const v2required = t(
  record([
    { name: 'id', type: 'string' },
    { name: 'text', type: 'string' },
  ]),
);

function check(level: Level, candidate: ReturnType<typeof t>, ...previous: ReturnType<typeof t>[]) {
  return checkCompatibility(
    level,
    candidate,
    previous.map((type, i) => ({ version: i + 1, type })),
  );
}

test('adding an optional field with a default is BACKWARD, FORWARD and FULL compatible', () => {
  for (const level of ['BACKWARD', 'FORWARD', 'FULL'] as const)
    assert.equal(check(level, v2optional, v1).compatible, true, level);
});

test('adding a field without default breaks BACKWARD and names the field and the rule', () => {
  const report = check('BACKWARD', v2required, v1);
  assert.equal(report.compatible, false);
  assert.match(report.messages[0] ?? '', /READER_FIELD_MISSING_DEFAULT_VALUE/);
  assert.match(report.messages[0] ?? '', /field 'text'/);
  assert.equal(check('FORWARD', v2required, v1).compatible, true, 'old readers ignore the new field');
});

test('removing a field without default breaks FORWARD (old readers need it), not BACKWARD', () => {
  assert.equal(check('BACKWARD', v1, v2required).compatible, true);
  const report = check('FORWARD', v1, v2required);
  assert.equal(report.compatible, false);
  assert.match(report.messages.join('\n'), /field 'text' of chat\.Message has no default value/);
});

test('type changes: promotions are allowed one way, other changes are refused naming the path', () => {
  const asInt = t(record([{ name: 'n', type: 'int' }]));
  const asLong = t(record([{ name: 'n', type: 'long' }]));
  const asString = t(record([{ name: 'n', type: 'string' }]));
  assert.equal(check('BACKWARD', asLong, asInt).compatible, true, 'long reads int');
  assert.equal(check('BACKWARD', asInt, asLong).compatible, false, 'int cannot read long');
  const report = check('BACKWARD', asString, asInt);
  assert.match(
    report.messages[0] ?? '',
    /TYPE_MISMATCH.*reader type string does not match writer type int.*\/fields\/0\/type/,
  );
  assert.deepEqual(readIncompatibilities(t('bytes'), t('string')), []);
});

test('enums: new symbols break readers without a default; an enum default accepts them', () => {
  const ab = t({ type: 'enum', name: 'S', symbols: ['A', 'B'] });
  const abc = t({ type: 'enum', name: 'S', symbols: ['A', 'B', 'C'] });
  const abDefault = t({ type: 'enum', name: 'S', symbols: ['A', 'B'], default: 'A' });
  assert.equal(readIncompatibilities(ab, abc)[0]?.errorType, 'MISSING_ENUM_SYMBOLS');
  assert.match(readIncompatibilities(ab, abc)[0]?.description ?? '', /lacks symbols \[C\]/);
  assert.deepEqual(readIncompatibilities(abDefault, abc), []);
  assert.deepEqual(readIncompatibilities(abc, ab), []);
});

test('unions: a reader union must cover every writer branch; a plain type read into a union is fine', () => {
  assert.deepEqual(readIncompatibilities(t(['null', 'string']), t('string')), []);
  assert.deepEqual(readIncompatibilities(t(['null', 'long']), t('int')), [], 'promotion into a branch');
  // A writer union is read branch by branch: its null branch does not fit a string reader.
  assert.equal(readIncompatibilities(t('string'), t(['null', 'string']))[0]?.errorType, 'TYPE_MISMATCH');
  assert.equal(
    readIncompatibilities(t(['null', 'int']), t(['null', 'string']))[0]?.errorType,
    'MISSING_UNION_BRANCH',
  );
});

test('named types: names must match unless the reader has an alias; renamed fields via aliases', () => {
  const renamed = t({
    type: 'record',
    name: 'chat.Msg',
    aliases: ['chat.Message'],
    fields: [{ name: 'ident', type: 'string', aliases: ['id'] }],
  });
  assert.deepEqual(readIncompatibilities(renamed, v1), []);
  const other = t({ type: 'record', name: 'chat.Other', fields: [{ name: 'id', type: 'string' }] });
  assert.equal(readIncompatibilities(other, v1)[0]?.errorType, 'NAME_MISMATCH');
  const f4 = t({ type: 'fixed', name: 'F', size: 4 });
  const f8 = t({ type: 'fixed', name: 'F', size: 8 });
  assert.equal(readIncompatibilities(f8, f4)[0]?.errorType, 'FIXED_SIZE_MISMATCH');
});

test('arrays, maps and recursive records are checked through', () => {
  const list = (item: string) =>
    t(
      record([
        { name: 'xs', type: { type: 'array', items: item } },
        { name: 'm', type: { type: 'map', values: item } },
      ]),
    );
  assert.deepEqual(readIncompatibilities(list('long'), list('int')), []);
  assert.equal(readIncompatibilities(list('int'), list('string')).length, 2);
  const tree = t({
    type: 'record',
    name: 'Node',
    fields: [{ name: 'children', type: { type: 'array', items: 'Node' } }],
  });
  assert.deepEqual(readIncompatibilities(tree, tree), []);
  const linked = t({
    type: 'record',
    name: 'Link',
    fields: [{ name: 'next', type: ['null', 'Link'], default: null }],
  });
  assert.deepEqual(readIncompatibilities(linked, linked), [], 'recursion through a union ends');
});

test('transitive levels check every earlier version; plain levels only the latest', () => {
  const v3 = t(
    record([
      { name: 'id', type: 'string' },
      { name: 'text', type: ['null', 'string'], default: null },
      { name: 'n', type: 'int', default: 0 },
    ]),
  );
  const dropsText = t(record([{ name: 'id', type: 'string' }]));
  assert.equal(check('FORWARD', dropsText, v2optional, v2required).compatible, false);
  assert.equal(
    check('FORWARD', dropsText, v2required, v2optional).compatible,
    true,
    'only the latest (v2optional) counts',
  );
  assert.equal(check('FORWARD_TRANSITIVE', dropsText, v2required, v2optional).compatible, false);
  assert.equal(check('FULL_TRANSITIVE', v3, v1, v2optional).compatible, true);
  assert.equal(check('NONE', v2required, v1).compatible, true);
});

test('canonical form ignores white space, attribute order and namespace spelling, but not defaults', () => {
  const a = parseAvroSchema(
    '{"type":"record","name":"M","namespace":"chat","fields":[{"name":"id","type":{"type":"string"}}]}',
  );
  const b = parseAvroSchema(
    '{ "fields": [ {"type": "string", "name": "id"} ], "name": "chat.M", "type": "record" }',
  );
  assert.equal(a.canonical, b.canonical);
  const withDefault = parseAvroSchema(
    '{"type":"record","name":"chat.M","fields":[{"name":"id","type":"string","default":""}]}',
  );
  assert.notEqual(a.canonical, withDefault.canonical);
  assert.equal(parseAvroSchema('"string"').canonical, '"string"');
  assert.throws(
    () => parseAvroSchema('{"type":"record","name":"M","fields":[{"name":"x","type":"int","default":"no"}]}'),
    /Invalid schema/,
  );
  assert.throws(() => parseAvroSchema('{"type":"recrod"}'), /Invalid schema/);
});
