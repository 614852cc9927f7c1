/**
 * The Pure Chat transcript import without servers, over time: resuming from committed offsets,
 * what makes a file "already imported" (its content and the record settings), transcripts of
 * 200k messages, the JSON size limit, a JSON file changed after the scan, and stopping a scan.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { purechatImportCommand } from '../../cli/commands/purechat-import.ts';
import { ConfigError, UsageError } from '../../core/errors.ts';
import {
  type ExportFile,
  MAX_JSON_BYTES,
  ScanInterrupted,
  scanFile,
} from '../../producers/purechat/import/files.ts';
import { type ImportPlan, scanFiles } from '../../producers/purechat/import/importer.ts';
import { parseMapping } from '../../producers/purechat/import/mapping.ts';
import { messagesOf } from '../../producers/purechat/import/rows.ts';
import { settingsHash } from '../../producers/purechat/import/source.ts';
import { parseTime } from '../../producers/purechat/import/times.ts';
import {
  Grouper,
  type Message,
  span,
  transcriptRecord,
} from '../../producers/purechat/import/transcripts.ts';
import type { SourceOffset, SourcePage } from '../../producers/source.ts';

import { FIXTURES, planOf, type Run, records, runSource, UTC } from '../helpers/purechat-import.ts';

test('offsets: a stop resumes after the last committed page; done content is "already imported"', async () => {
  const plan = planOf();
  const files = [
    await scanFile(join(FIXTURES, 'per-message.csv'), plan.read),
    await scanFile(join(FIXTURES, 'transcripts.json'), plan.read),
  ];
  const all = records(await runSource(files, plan));
  const store = new Map<string, SourceOffset>();
  const first = await runSource(files, plan, store, { pageSize: 1, stopAfter: 1 });
  assert.equal(first.stats.interrupted, true);
  assert.deepEqual(first.pages[0]?.offsets?.[0]?.offset, { line: 5, done: false });
  const second = await runSource(files, plan, store, { pageSize: 1 });
  assert.equal(second.stats.resumed, 1);
  assert.equal(second.stats.interrupted, false);
  assert.deepEqual([...records(first), ...records(second)], all, 'each transcript once, in order');
  const json = second.pages.filter((p) => p.offsets?.[0]?.partition.file === files[1]?.sha256);
  assert.deepEqual(json.at(-1)?.offsets?.[0]?.offset, { line: 40, item: 5, done: true });
  const third = await runSource([...files, files[0] as ExportFile], plan, store);
  assert.deepEqual(records(third), []);
  assert.equal(third.stats.alreadyImported, 3);
  assert.equal(third.stats.badRows, 0);
});

test('already imported: keyed by the content and every record setting; changed settings import it again', async () => {
  const csv = join(FIXTURES, 'per-message.csv');
  const json = join(FIXTURES, 'transcripts.json');
  const store = new Map<string, SourceOffset>();
  /** Imports the fixture with these settings against the one offset store. */
  const importWith = async (path: string, env: NodeJS.ProcessEnv = {}, flags = {}) => {
    const plan = planOf(env, flags);
    return runSource([await scanFile(path, plan.read)], plan, store);
  };
  const wrote = (run: Run, what: string) => {
    assert.equal(run.stats.alreadyImported, 0, `${what}: already imported`);
    assert.ok(records(run).length > 0, `${what}: nothing written`);
  };
  const skipped = (run: Run, what: string) => {
    assert.equal(run.stats.alreadyImported, 1, `${what}: imported again`);
    assert.deepEqual(records(run), [], `${what}: written again`);
  };
  const key = 'k'.repeat(32);
  wrote(await importWith(csv), 'first import');
  skipped(await importWith(csv), 'same settings');
  // The same records: auto and what it detects, a hash key no mode uses, another page size.
  skipped(await importWith(csv, { PURECHAT_IMPORT_CSV_DELIMITER: ',' }), 'delimiter , = auto');
  skipped(await importWith(csv, {}, { format: 'csv' }), '--format csv = auto');
  skipped(await importWith(csv, { PURECHAT_PII_HASH_KEY: key }), 'unused hash key');
  skipped(await importWith(csv, { PURECHAT_IMPORT_PAGE_SIZE: '1' }), 'page size');
  const changes: [string, NodeJS.ProcessEnv, Record<string, string>][] = [
    ['time zone', { PURECHAT_IMPORT_TIME_ZONE: 'America/New_York' }, {}],
    ['date order', { PURECHAT_IMPORT_DATE_ORDER: 'dmy' }, {}],
    ['--mapping', {}, { mapping: '{"question": null}' }],
    ['mapping setting', { PURECHAT_IMPORT_MAPPING: '{"question": null, "widget_id": null}' }, {}],
    ['PII phone', { PURECHAT_PII_PHONE: 'drop' }, {}],
    ['PII e-mail', { PURECHAT_PII_EMAIL: 'hash', PURECHAT_PII_HASH_KEY: key }, {}],
    ['PII hash key', { PURECHAT_PII_EMAIL: 'hash', PURECHAT_PII_HASH_KEY: 'h'.repeat(32) }, {}],
  ];
  for (const [what, env, flags] of changes) {
    wrote(await importWith(csv, env, flags), what);
    skipped(await importWith(csv, env, flags), `${what}, again`);
  }
  // The same mapping from the flag as from the setting, keys in another order: the same records.
  skipped(
    await importWith(csv, {}, { mapping: '{ "widget_id": null, "question" : null }' }),
    'the same mapping written differently',
  );
  wrote(await importWith(json), 'JSON');
  skipped(await importWith(json, { PURECHAT_IMPORT_CSV_DELIMITER: ';' }), 'JSON: the CSV delimiter');
  wrote(await importWith(json, {}, { mapping: '{"question": null}' }), 'JSON: --mapping');
});

test('--help says exactly when a re-import writes nothing, and when it imports again', () => {
  const help = (purechatImportCommand.details ?? '').replaceAll('\n', ' ');
  for (const setting of [
    '--format',
    'PURECHAT_IMPORT_FORMAT',
    'PURECHAT_IMPORT_CSV_DELIMITER',
    '--mapping',
    'PURECHAT_IMPORT_MAPPING',
    'PURECHAT_IMPORT_TIME_ZONE',
    'PURECHAT_IMPORT_DATE_ORDER',
    'PURECHAT_PII_EMAIL',
    'PURECHAT_PII_PHONE',
    'PURECHAT_PII_HASH_KEY',
  ])
    assert.ok(help.includes(setting), `--help does not name ${setting}`);
  assert.match(help, /SHA-256 of the file's content/);
  assert.match(
    help,
    /A re-import writes nothing \("already imported"\) exactly when an earlier import of the same content with every one of those settings the same ran to the end/,
  );
  assert.match(help, /Change any of those settings and the file is imported again in full/);
  assert.match(help, /Ctrl-C during the scan stops it \(exit 130, nothing written\)/);
  assert.match(help, /at most 256 MB a file/);
});

test('settings hash: format, delimiter, mapping (in any key order), zone, date order, PII modes and key', () => {
  const plan = planOf();
  const base = { format: 'csv' as const, delimiter: ',' };
  const hash = settingsHash(base, plan);
  assert.match(hash, /^[0-9a-f]{64}$/);
  const with_ = (change: Partial<ImportPlan['times'] & ImportPlan['pii']>) => ({
    read: plan.read,
    times: { ...plan.times, ...change },
    pii: { ...plan.pii, ...change },
  });
  assert.equal(settingsHash({ ...base }, with_({})), hash);
  assert.notEqual(settingsHash({ ...base, delimiter: ';' }, plan), hash);
  assert.notEqual(settingsHash({ ...base, format: 'json' }, plan), hash);
  assert.equal(
    settingsHash({ format: 'json', delimiter: ',' }, plan),
    settingsHash({ format: 'json', delimiter: ';' }, plan),
    'JSON has no delimiter',
  );
  assert.notEqual(settingsHash(base, with_({ timeZone: '+02:00' })), hash);
  assert.notEqual(settingsHash(base, with_({ dateOrder: 'dmy' })), hash);
  assert.notEqual(settingsHash(base, with_({ email: 'drop' })), hash);
  assert.equal(settingsHash(base, with_({ hashKey: 'a'.repeat(32) })), hash, 'a key no mode uses');
  const hashed = settingsHash(base, with_({ email: 'hash', hashKey: 'a'.repeat(32) }));
  assert.notEqual(settingsHash(base, with_({ email: 'hash', hashKey: 'b'.repeat(32) })), hashed);
  assert.ok(!hashed.includes('a'.repeat(32)));
  const mapped = (mapping: string) =>
    settingsHash(base, { ...plan, read: { ...plan.read, mapping: parseMapping(mapping, 'M') } });
  assert.equal(mapped('{"text": "Body", "author": null}'), mapped('{"author": null, "text": "Body"}'));
  assert.notEqual(mapped('{"text": "Body"}'), hash);
  assert.notEqual(mapped('{"text": "Body"}'), mapped('{"text": "Message"}'));
});

test('resume keeps working per settings: the same settings resume, other settings start over', async () => {
  const plan = planOf({ PURECHAT_IMPORT_TIME_ZONE: 'Europe/Berlin' });
  const file = await scanFile(join(FIXTURES, 'per-message.csv'), plan.read);
  const all = records(await runSource([file], plan));
  const store = new Map<string, SourceOffset>();
  const first = await runSource([file], plan, store, { pageSize: 1, stopAfter: 1 });
  assert.equal(first.stats.interrupted, true);
  const other = await runSource([file], planOf(), new Map(store));
  assert.equal(other.stats.resumed, 0, 'other settings resumed');
  assert.equal(records(other).length, all.length);
  const second = await runSource([file], plan, store);
  assert.equal(second.stats.resumed, 1);
  assert.deepEqual([...records(first), ...records(second)], all, 'each transcript once, in order');
  assert.equal((await runSource([file], plan, store)).stats.alreadyImported, 1);
});

const MANY = 200_000;
const at = (i: number) => new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString();

test(`a transcript of ${MANY} messages: span and record without overflowing the stack`, () => {
  const messages: Message[] = [];
  for (let i = 0; i < MANY; i++)
    messages.push({
      time: i === 7 ? null : 1_000_000 + ((i * 7919) % MANY),
      author: 'A',
      author_type: null,
      text: `m${i}`,
    });
  assert.deepEqual(span(messages), { first: 1_000_000, last: 1_000_000 + MANY - 1 });
  assert.deepEqual(span([]), { first: null, last: null });
  const record = transcriptRecord({ id: 'big', fields: {}, messages }, 'big.json', planOf().pii);
  assert.equal(record.started_time, 1_000_000);
  assert.equal(record.ended_time, 1_000_000 + MANY - 1);
  assert.equal((record.messages as unknown[]).length, MANY);
});

test(`a transcript of ${MANY} messages: grouped, and read from a message list of chat text`, () => {
  const messages: Message[] = Array.from({ length: MANY }, (_, i) => ({
    time: i,
    author: null,
    author_type: null,
    text: `m${i}`,
  }));
  const [whole] = new Grouper(new Map([['x', 1]])).add('x', 1, { id: 'x', fields: {}, messages });
  assert.equal(whole?.messages.length, MANY);
  const isTime = (v: string) => typeof parseTime(v, UTC) === 'number';
  const chat = Array.from({ length: MANY }, (_, i) => `[${at(i)}] Ann: m${i}`).join('\n');
  const read = messagesOf([chat], {}, 1, () => 1, isTime);
  assert.equal(read.messages.length, MANY);
  assert.deepEqual(read.messages.at(-1)?.fields, { time: at(MANY - 1), author: 'Ann', text: `m${MANY - 1}` });
});

test(`a transcript of ${MANY} messages in a CSV chat-text cell: scanned and imported whole`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pc-many-'));
  const chat = Array.from({ length: MANY }, (_, i) => `[${at(i)}] Ann: m${i}`).join('\n');
  writeFileSync(join(dir, 'chat.csv'), `Chat Id,Visitor Name,Transcript\nT,Ann,"${chat}"\n`);
  const plan = planOf();
  const run = await runSource([await scanFile(join(dir, 'chat.csv'), plan.read)], plan);
  const [record, ...rest] = records(run);
  assert.equal(rest.length, 0);
  assert.equal(record?.transcript_id, 'T');
  const written = record?.messages as { time: number; author_type: string }[] | undefined;
  assert.equal(written?.length, MANY);
  assert.equal(written?.[MANY - 1]?.author_type, 'visitor');
  assert.equal(record?.started_time, Date.parse(at(0)));
  assert.equal(record?.ended_time, Date.parse(at(MANY - 1)));
  assert.deepEqual(run.bad, []);
});

test('a JSON file over the size limit is refused by the scan, naming it and saying to split it or use CSV', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pc-big-'));
  const path = join(dir, 'huge.json');
  writeFileSync(path, '[');
  truncateSync(path, MAX_JSON_BYTES + 1); // sparse: no disk space, nothing read
  const plan = planOf();
  await assert.rejects(
    scanFile(path, plan.read),
    (e: unknown) =>
      e instanceof UsageError &&
      e.message.includes(`${path} is 256.0 MB, over the 256 MB limit for JSON exports`) &&
      /split it/.test(e.message) &&
      /CSV/.test(e.message),
  );
  // The same bytes as CSV are streamed, whatever their size (this one has no header to map).
  truncateSync(path, 1000);
  await assert.rejects(scanFile(path, { ...plan.read, format: 'csv' }), ConfigError);
});

test('a JSON file changed after its scan is refused by the import; nothing of it is written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pc-changed-'));
  const path = join(dir, 'a.json');
  writeFileSync(path, '[{"id": "a", "messages": [{"text": "hi"}]}]');
  const plan = planOf();
  const file = await scanFile(path, plan.read);
  writeFileSync(path, '[{"id": "b", "messages": [{"text": "other"}]}]');
  const pages: SourcePage[] = [];
  await assert.rejects(
    runSource([file], plan).then((run) => pages.push(...run.pages)),
    (e: unknown) => e instanceof Error && /a\.json changed since it was scanned/.test(e.message),
  );
  assert.deepEqual(pages, []);
});

test('a scan stops between rows once its signal is aborted (CSV and JSON); an aborted one does not start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pc-stop-'));
  const rows = ['Chat Id,Timestamp,Message'];
  for (let i = 0; i < 100_000; i++) rows.push(`C-${i},${at(i)},hello ${i}`);
  writeFileSync(join(dir, 'big.csv'), `${rows.join('\n')}\n`);
  const list = Array.from({ length: 20_000 }, (_, i) => ({ id: `J-${i}`, messages: [{ text: `m${i}` }] }));
  writeFileSync(join(dir, 'big.json'), JSON.stringify(list));
  const plan = planOf();
  for (const name of ['big.csv', 'big.json']) {
    const stop = new AbortController();
    const started = Date.now();
    const scan = scanFiles([join(FIXTURES, 'per-message.csv'), join(dir, name)], plan, stop.signal);
    setTimeout(() => stop.abort(), 30);
    await assert.rejects(scan, ScanInterrupted, name);
    const stoppedIn = Date.now() - started;
    const full = Date.now();
    const whole = await scanFiles([join(FIXTURES, 'per-message.csv'), join(dir, name)], plan);
    const wholeIn = Date.now() - full;
    assert.equal(whole[1]?.lastPos.size, name === 'big.csv' ? 100_000 : 20_000);
    // Stopped part way, not at the end of the scan.
    assert.ok(stoppedIn < wholeIn / 2, `${name}: stopped after ${stoppedIn} ms of ${wholeIn}`);
  }
  const stopped = new AbortController();
  stopped.abort();
  await assert.rejects(
    scanFile(join(FIXTURES, 'transcripts.json'), plan.read, stopped.signal),
    ScanInterrupted,
  );
});
