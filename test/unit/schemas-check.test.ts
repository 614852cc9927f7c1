import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RECORD_KINDS, type RecordKind } from '../../schemas/catalog.ts';
import { checkAll, checkKind, lintSchema } from '../../schemas/check.ts';
import { generateTypes, TYPES_FILE } from '../../schemas/typegen.ts';

test('every curated schema passes `schemas check` (valid, documented, conventions, compatible)', () => {
  const reports = checkAll();
  assert.equal(reports.length, RECORD_KINDS.length);
  for (const report of reports) {
    assert.ok(report.versions >= 1, `${report.topic} has a schema`);
    assert.deepEqual(report.problems, [], report.topic);
  }
});

test('schemas/types.generated.ts is generated from the latest schemas (run `chatstream schemas types`)', () => {
  assert.equal(readFileSync(TYPES_FILE, 'utf8'), generateTypes());
});

const kind: RecordKind = {
  topic: 'demo.things',
  key: 'id',
  retention: 'compact',
  compatibility: 'BACKWARD',
  time: [],
  identity: 'id',
};

function writeVersions(...schemas: unknown[]): string {
  const root = mkdtempSync(join(tmpdir(), 'schemas-'));
  mkdirSync(join(root, 'demo', 'things'), { recursive: true });
  for (const [i, s] of schemas.entries())
    writeFileSync(join(root, 'demo', 'things', `v${i + 1}.avsc`), JSON.stringify(s));
  return root;
}

const field = (name: string, type: unknown, extra: Record<string, unknown> = {}) => ({
  name,
  type,
  doc: `${name}.`,
  ...extra,
});
const thing = (...fields: unknown[]) => ({
  type: 'record',
  name: 'Thing',
  doc: 'A thing.',
  fields: [field('id', 'string'), ...fields],
});

test('check finds an incompatible new version, naming the file, the field and the rule', () => {
  const root = writeVersions(thing(), thing(field('size', 'long')));
  const report = checkKind(kind, root);
  assert.equal(report.problems.length, 1);
  assert.match(
    report.problems[0] ?? '',
    /v2\.avsc: incompatible with an earlier version: .*READER_FIELD_MISSING_DEFAULT_VALUE.*field 'size'/,
  );
  const fixed = writeVersions(thing(), thing(field('size', ['null', 'long'], { default: null })));
  assert.deepEqual(checkKind(kind, fixed).problems, []);
});

test('check enforces the conventions: docs, timestamp-millis *_time fields, string ids, the key', () => {
  const problems = lintSchema(
    {
      type: 'record',
      name: 'Thing',
      fields: [
        { name: 'id', type: ['null', 'string'] },
        field('created_time', 'string'),
        field('owner_id', 'long'),
      ],
    },
    'id',
  );
  assert.deepEqual(problems, [
    'Thing: record has no doc',
    'Thing.id: field has no doc',
    'Thing.created_time: a *_time/*_on field must be timestamp-millis',
    'Thing.owner_id: ids are strings',
    'key field "id" must be a required string',
  ]);
  const root = writeVersions({ type: 'record', name: 'Bad' });
  assert.match(checkKind(kind, root).problems[0] ?? '', /v1\.avsc: Invalid schema/);
});
