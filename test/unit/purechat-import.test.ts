/**
 * The Pure Chat transcript import without servers, reading: times and zones, the mapping, CSV and
 * JSON reading with line numbers, validation, grouping (interleaved rows too), PII, and the
 * fixtures end to end through the source. Resuming, "already imported", large transcripts and
 * files, and stopping a scan: purechat-import-resume.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../cli/settings.ts';
import { ConfigError, UsageError } from '../../core/errors.ts';
import { scanFile } from '../../producers/purechat/import/files.ts';
import { elementLines, readJson } from '../../producers/purechat/import/json.ts';
import { parseMapping, resolveColumns } from '../../producers/purechat/import/mapping.ts';
import { textMessages } from '../../producers/purechat/import/rows.ts';
import { settingsHash } from '../../producers/purechat/import/source.ts';
import { parseTime, type TimeOptions } from '../../producers/purechat/import/times.ts';

import {
  asRecord,
  EXPECTED,
  FIXTURES,
  iso,
  planOf,
  records,
  runSource,
  UTC,
} from '../helpers/purechat-import.ts';

test('times: ISO with and without a zone, slash dates, words, epochs; junk is undefined', () => {
  const ny: TimeOptions = { timeZone: 'America/New_York', dateOrder: 'mdy' };
  const cases: [unknown, TimeOptions, string | null | undefined][] = [
    ['2024-03-05T14:03:00Z', UTC, '2024-03-05T14:03:00.000Z'],
    ['2024-03-05 14:03', UTC, '2024-03-05T14:03:00.000Z'],
    ['2024-03-05T14:03:00.250+01:00', UTC, '2024-03-05T13:03:00.250Z'],
    ['2024-03-05 14:03', ny, '2024-03-05T19:03:00.000Z'], // EST
    ['2024-07-05 14:03', ny, '2024-07-05T18:03:00.000Z'], // EDT
    ['2024-03-10 02:30', ny, '2024-03-10T07:30:00.000Z'], // in the DST gap: moved forward
    ['2024-03-05 14:03', { timeZone: '-05:00', dateOrder: 'mdy' }, '2024-03-05T19:03:00.000Z'],
    ['03/05/2024 2:03 PM', UTC, '2024-03-05T14:03:00.000Z'],
    ['03/05/2024 12:10 AM', UTC, '2024-03-05T00:10:00.000Z'],
    ['05/03/2024 14:03', { timeZone: 'UTC', dateOrder: 'dmy' }, '2024-03-05T14:03:00.000Z'],
    ['3/5/24', UTC, '2024-03-05T00:00:00.000Z'],
    ['Mar 5, 2024 2:03 PM', UTC, '2024-03-05T14:03:00.000Z'],
    [1709647380, UTC, '2024-03-05T14:03:00.000Z'],
    ['1709647380000', UTC, '2024-03-05T14:03:00.000Z'],
    ['', UTC, null],
    [null, UTC, null],
    ['yesterday', UTC, undefined],
    ['02/30/2024', UTC, undefined],
    ['13/01/2024 10:00', UTC, undefined],
    ['2024-03-05 25:00', UTC, undefined],
    [{ at: 1 }, UTC, undefined],
  ];
  for (const [value, options, want] of cases)
    assert.equal(iso(parseTime(value, options)), want, `${JSON.stringify(value)} in ${options.timeZone}`);
});

test('settings: delimiter, time zone and mapping are checked, naming the variable', () => {
  assert.equal(
    loadConfig({ env: { PURECHAT_IMPORT_CSV_DELIMITER: 'tab' } }).purechatImport.csvDelimiter,
    '\t',
  );
  assert.throws(
    () => loadConfig({ env: { PURECHAT_IMPORT_TIME_ZONE: 'Mars/Olympus' } }),
    (e: unknown) => e instanceof ConfigError && e.setting === 'PURECHAT_IMPORT_TIME_ZONE',
  );
  assert.throws(
    () => loadConfig({ env: { PURECHAT_IMPORT_CSV_DELIMITER: ';;' } }),
    /PURECHAT_IMPORT_CSV_DELIMITER/,
  );
  assert.throws(
    () => parseMapping('{"transcript":"x"}', '--mapping'),
    /--mapping: unknown field "transcript"/,
  );
  assert.throws(() => parseMapping('{nope', 'PURECHAT_IMPORT_MAPPING'), /not valid JSON/);
  assert.throws(() => parseMapping('@/no/such/mapping.json', '--mapping'), /cannot read the mapping file/);
  const dir = mkdtempSync(join(tmpdir(), 'pc-map-'));
  writeFileSync(join(dir, 'm.json'), '{"transcript_id": "Chat", "visitor_phone": null}');
  assert.deepEqual(parseMapping(`@${join(dir, 'm.json')}`, '--mapping'), {
    transcript_id: 'Chat',
    visitor_phone: null,
  });
  assert.throws(() => planOf({}, { format: 'xml' }), UsageError);
  // A config file may hold the mapping as an object.
  writeFileSync(join(dir, 'chatstream.json'), '{"purechatImport": {"mapping": {"transcript_id": "Chat"}}}');
  const fromFile = loadConfig({ env: {}, file: join(dir, 'chatstream.json') }).purechatImport.mapping;
  assert.deepEqual(parseMapping(fromFile, 'purechatImport.mapping'), { transcript_id: 'Chat' });
});

test('mapping: guesses common names loosely, one column per field; explicit names win; null turns a guess off', () => {
  const header = [
    'Chat ID',
    'Start Time',
    'VISITOR_EMAIL',
    'Phone',
    'Operator',
    'Timestamp',
    'Author',
    'Message',
  ];
  const guessed = resolveColumns(header, {}, 'S', 'f.csv');
  assert.deepEqual(guessed, {
    transcript_id: 0,
    started_time: 1,
    visitor_email: 2,
    visitor_phone: 3,
    operator_name: 4,
    time: 5,
    author: 6,
    text: 7,
  });
  const mapped = resolveColumns(header, { text: 'Author', author: null, visitor_phone: null }, 'S', 'f.csv');
  assert.equal(mapped.text, 6);
  assert.equal(mapped.author, undefined);
  assert.equal(mapped.visitor_phone, undefined);
  assert.throws(
    () => resolveColumns(header, { question: 'Topic' }, '--mapping', 'f.csv'),
    /--mapping: f.csv has no column "Topic" \(mapped to question\)/,
  );
  assert.throws(
    () => resolveColumns(['When', 'Who'], {}, 'PURECHAT_IMPORT_MAPPING', 'f.csv'),
    (e: unknown) =>
      e instanceof ConfigError && /no transcript id column/.test(e.message) && /"When"/.test(e.hint ?? ''),
  );
});

test('chat text: [time] Author: text lines; other lines continue the message before', () => {
  const isTime = (v: string) => typeof parseTime(v, UTC) === 'number';
  const lines = textMessages('[2024-03-05 14:03] Jane: Hi\nthere\n[soon] Sam: Hello\nJust text', 7, isTime);
  assert.deepEqual(
    lines.map((m) => m.fields),
    [
      { time: '2024-03-05 14:03', author: 'Jane', text: 'Hi\nthere' },
      { author: 'Sam', text: '[soon] Hello\nJust text' },
    ],
  );
  assert.ok(lines.every((m) => m.line === 7));
});

test('JSON: the line of every list element, a root list or {"transcripts": …}; bad files are usage errors', () => {
  const text = '{"a": [1,\n {"b": [\n  "x", "y"]}],\n "c": {"d": [\n{}]}}';
  const lines = elementLines(text);
  assert.equal(lines.get('["a",0]'), 1);
  assert.equal(lines.get('["a",1]'), 2);
  assert.equal(lines.get('["a",1,"b",1]'), 3);
  assert.equal(lines.get('["c","d",0]'), 5);
  const options = { mapping: {}, file: 'x.json', isTime: () => false };
  const rows = [...readJson('[\n{"id": "a"},\n{"id": "b", "messages": [\n{"text": "hi"}]}]', options)];
  assert.deepEqual(
    rows.map((r) => [r.line, r.pos, r.fields.transcript_id, r.messages.map((m) => m.line)]),
    [
      [2, 1, 'a', []],
      [3, 2, 'b', [4]],
    ],
  );
  assert.throws(
    () => readJson('{"a": 1', options),
    (e: unknown) => e instanceof UsageError && /x.json is not valid JSON/.test(e.message),
  );
  assert.throws(() => readJson('{"a": 1}', options), /not a transcript export/);
});

for (const name of Object.keys(EXPECTED).filter((k) => !k.startsWith('_'))) {
  test(`${name}: every transcript and field as expected; bad rows by line`, async () => {
    const plan = planOf();
    const file = await scanFile(join(FIXTURES, name), plan.read);
    const run = await runSource([file], plan);
    const want = EXPECTED[name] as { badRows: string[]; transcripts: Record<string, unknown>[] };
    assert.deepEqual(
      records(run),
      want.transcripts.map((t) => asRecord(t, name)),
    );
    assert.deepEqual(
      run.bad,
      want.badRows.map((b) => `${name}:${b}`),
    );
    assert.equal(run.stats.transcripts, want.transcripts.length);
    assert.equal(run.stats.total, want.transcripts.length);
    const last = run.pages.at(-1)?.offsets?.[0];
    assert.deepEqual(last?.partition, { file: file.sha256, settings: settingsHash(file, plan) });
    assert.equal(last?.offset?.done, true);
  });
}

test('CRLF, a multi-line field and a row of the wrong width: lines still right', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pc-csv-'));
  const path = join(dir, 'crlf.csv');
  const csv = 'Chat Id;Message\r\nA;"one\r\ntwo"\r\n;;;\r\nB;x;extra\r\n\r\nC;"three"\r\n';
  writeFileSync(path, csv);
  const plan = planOf();
  const file = await scanFile(path, plan.read);
  assert.equal(file.delimiter, ';');
  const run = await runSource([file], plan);
  assert.deepEqual(
    records(run).map((r) => [r.transcript_id, (r.messages as { text: string }[]).map((m) => m.text)]),
    [
      ['A', ['one\ntwo']],
      ['C', ['three']],
    ],
  );
  assert.deepEqual(run.bad, ['crlf.csv:5: has 3 fields, the header has 2']);
});

test('interleaved rows: each transcript complete; offsets only where no transcript is half read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pc-mix-'));
  const path = join(dir, 'mix.csv');
  writeFileSync(path, 'Chat Id,Message\nA,a1\nB,b1\nA,a2\nC,c1\nB,b2\nD,d1'); // no newline at the end
  const plan = planOf();
  const run = await runSource([await scanFile(path, plan.read)], plan, new Map(), { pageSize: 1 });
  const texts = (r: Record<string, unknown>) => (r.messages as { text: string }[]).map((m) => m.text);
  assert.deepEqual(
    run.pages.map((p) => [
      p.records.map((r) => `${r.value.transcript_id}:${texts(r.value)}`),
      p.offsets?.[0]?.offset,
    ]),
    [
      [['A:a1,a2', 'C:c1', 'B:b1,b2'], { line: 6, done: false }],
      [['D:d1'], { line: 7, done: false }],
      [[], { line: 7, done: true }],
    ],
  );
});

test('PII: e-mail and phone hashed with the key (normalized) or dropped', async () => {
  const key = 'k'.repeat(32);
  const hashed = planOf({
    PURECHAT_PII_EMAIL: 'hash',
    PURECHAT_PII_PHONE: 'drop',
    PURECHAT_PII_HASH_KEY: key,
  });
  assert.throws(() => planOf({ PURECHAT_PII_EMAIL: 'hash' }), /PURECHAT_PII_HASH_KEY/);
  const file = await scanFile(join(FIXTURES, 'per-message.csv'), hashed.read);
  const [jane] = records(await runSource([file], hashed));
  const { createHmac } = await import('node:crypto');
  assert.equal(jane?.visitor_email, createHmac('sha256', key).update('jane.doe@example.com').digest('hex'));
  assert.equal(jane?.visitor_phone, null);
  assert.equal(jane?.visitor_name, 'Jane Doe');
});
