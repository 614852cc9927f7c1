import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeRecord, encodeRecord, type RegistryRecord } from '../../registry/records.ts';
import { RegistryState } from '../../registry/state.ts';

const schema = (subject: string, version: number, id: number, text = `"s${id}"`): RegistryRecord => ({
  keytype: 'SCHEMA',
  subject,
  version,
  value: { subject, version, id, schema: text, deleted: false },
});

test('records encode to Confluent keys and decode back; unknown key types are skipped', () => {
  const raw = encodeRecord(schema('a', 1, 7));
  assert.equal(raw.key, '{"keytype":"SCHEMA","subject":"a","version":1,"magic":1}');
  assert.deepEqual(decodeRecord(raw), schema('a', 1, 7));
  assert.equal(
    encodeRecord({ keytype: 'CONFIG', subject: null, value: { compatibilityLevel: 'FULL' } }).key,
    '{"keytype":"CONFIG","magic":0}',
  );
  // Confluent writes a global config key with or without "subject": null, and NOOP records.
  assert.deepEqual(
    decodeRecord({
      key: '{"keytype":"CONFIG","subject":null,"magic":0}',
      value: '{"compatibilityLevel":"NONE"}',
    }),
    {
      keytype: 'CONFIG',
      subject: null,
      value: { compatibilityLevel: 'NONE' },
    },
  );
  assert.deepEqual(decodeRecord({ key: '{"keytype":"NOOP","magic":0}', value: null }), {
    keytype: 'NOOP',
    value: null,
  });
  assert.equal(decodeRecord({ key: '{"keytype":"CONTEXT","magic":0}', value: '{}' }), undefined);
  assert.equal(decodeRecord({ key: 'not json', value: null }), undefined);
  // A SCHEMA value without "deleted" (older writers) counts as live.
  const old = decodeRecord({
    key: '{"keytype":"SCHEMA","subject":"a","version":1,"magic":1}',
    value: '{"subject":"a","version":1,"id":1,"schema":"\\"int\\""}',
  });
  assert.equal(old?.keytype === 'SCHEMA' && old.value?.deleted, false);
});

test('state: soft delete hides versions but keeps ids; tombstones remove them; ids are shared by content', () => {
  const state = new RegistryState();
  for (const r of [schema('a', 1, 1), schema('a', 2, 2), schema('b', 1, 1, '"s1"')]) state.apply(r);
  assert.deepEqual(state.subjectNames(), ['a', 'b']);
  assert.equal(state.idOf('"s1"'), 1);
  assert.equal(state.maxId, 2);
  state.apply({ keytype: 'DELETE_SUBJECT', subject: 'a', value: { subject: 'a', version: 2 } });
  assert.deepEqual(state.subjectNames(), ['b']);
  assert.deepEqual(state.subjectNames(true), ['a', 'b']);
  assert.deepEqual(
    state.versions('a', true).map((e) => e.deleted),
    [true, true],
  );
  assert.equal(state.schemaById(2)?.schema, '"s2"', 'soft-deleted ids stay readable');
  state.apply({ keytype: 'SCHEMA', subject: 'a', version: 2, value: null });
  assert.equal(state.schemaById(2), undefined, 'a tombstone frees the id');
  state.apply({ keytype: 'SCHEMA', subject: 'a', version: 1, value: null });
  assert.equal(state.schemaById(1)?.schema, '"s1"', 'still used by subject b');
  assert.equal(state.hasSubject('a'), false);
  state.apply({ keytype: 'CONFIG', subject: 'b', value: { compatibilityLevel: 'FULL' } });
  assert.equal(state.config('b'), 'FULL');
  state.apply({ keytype: 'CONFIG', subject: 'b', value: null });
  assert.equal(state.config('b'), undefined);
  state.apply({ keytype: 'MODE', subject: null, value: { mode: 'READONLY' } });
  assert.equal(state.mode(null), 'READONLY');
});
