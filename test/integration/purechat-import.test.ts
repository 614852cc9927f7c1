/**
 * `chatstream purechat import` on the real stack (Kafka, registry), each test in topics of its
 * own: the fixtures land in purechat.transcripts field for field (decoded with the registry),
 * bad rows are reported by line, importing again writes nothing, with a changed record setting
 * it writes again, an interrupted import resumes writing each transcript once, Ctrl-C during
 * the scan stops it at once writing nothing, and a missing file or unmappable header writes nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../cli/settings.ts';
import { createKafka } from '../../kafka/client.ts';
import { runCli, spawnCli } from '../helpers/cli.ts';
import { uniqueName } from '../helpers/names.ts';
import { asRecord, EXPECTED, FIXTURES } from '../helpers/purechat-import.ts';
import { duplicateKeys, type TopicRecord, topicRecords } from '../helpers/topic-records.ts';

const NAMES = ['per-message.csv', 'per-transcript.csv', 'transcripts.json'];

/** Environment for a chatstream process writing to topics of its own (a random prefix). */
function importEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const prefix = uniqueName('pci');
  return {
    ...process.env,
    CHATSTREAM_KAFKA_TOPIC_PREFIX: `${prefix}.`,
    CHATSTREAM_KAFKA_PARTITIONS: '3',
    CHATSTREAM_PRODUCER_OFFSETS_TOPIC: `${prefix}._offsets`,
    CHATSTREAM_PRODUCER_DEAD_LETTER_TOPIC: `${prefix}.dead_letters`,
    CHATSTREAM_PRODUCER_INSTANCE_ID: prefix,
    CHATSTREAM_LOG_FORMAT: 'json',
    ...extra,
  };
}

function recordsOf(env: NodeJS.ProcessEnv, topic: string): Promise<TopicRecord[]> {
  return topicRecords(loadConfig({ env }), `${env.CHATSTREAM_KAFKA_TOPIC_PREFIX}${topic}`);
}

/** The topics of the test's prefix that exist. */
async function topicsOf(env: NodeJS.ProcessEnv): Promise<string[]> {
  const admin = createKafka(loadConfig({ env }), { role: 'test-admin', quiet: true }).admin();
  await admin.connect();
  try {
    const prefix = env.CHATSTREAM_KAFKA_TOPIC_PREFIX as string;
    return (await admin.listTopics()).filter((t) => t.startsWith(prefix));
  } finally {
    await admin.disconnect();
  }
}

test('imports every fixture transcript field for field, reports bad rows by line; a second import writes nothing', async () => {
  const env = importEnv();
  const paths = NAMES.map((n) => join(FIXTURES, n));
  const first = await runCli(['purechat', 'import', ...paths], env);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^purechat import: 3 files, 9 transcripts written, 7 bad rows$/m);
  for (const name of NAMES)
    for (const bad of EXPECTED[name]?.badRows ?? [])
      assert.ok(first.stderr.includes(`${join(FIXTURES, name)}:${bad}\n`), `not reported: ${name}:${bad}`);

  const records = await recordsOf(env, 'purechat.transcripts');
  const want = NAMES.flatMap((name) => (EXPECTED[name]?.transcripts ?? []).map((t) => asRecord(t, name)));
  assert.deepEqual(duplicateKeys(records), []);
  const byKey = new Map(records.map((r) => [r.key, r]));
  assert.deepEqual([...byKey.keys()].sort(), want.map((t) => t.transcript_id as string).sort());
  for (const t of want) {
    const r = byKey.get(t.transcript_id as string);
    // Plain JSON: the decoder's values are instances of avsc's record classes.
    assert.deepEqual(JSON.parse(JSON.stringify(r?.value)), t, `transcript ${t.transcript_id}`);
    // The record time is the chat's own: its end, else its start.
    assert.equal(r?.timestamp, t.ended_time ?? t.started_time, `timestamp of ${t.transcript_id}`);
  }
  assert.equal((await recordsOf(env, 'dead_letters')).length, 0, 'dead letters were written');

  const again = await runCli(['purechat', 'import', ...paths], env);
  assert.equal(again.code, 0, again.stderr);
  assert.match(
    again.stdout,
    /^purechat import: 3 files, 0 transcripts written, 0 bad rows, 3 files already imported$/m,
  );
  assert.doesNotMatch(again.stderr, /is not a date/);
  assert.equal(
    (await recordsOf(env, 'purechat.transcripts')).length,
    records.length,
    'the second import wrote',
  );
});

test('an interrupted import (exit 130) resumes after its last committed page: each transcript once', async () => {
  const count = 30_000;
  const dir = mkdtempSync(join(tmpdir(), 'pc-import-'));
  const path = join(dir, 'big.csv');
  const lines = ['Chat Id,Start Time,Visitor Name,Timestamp,Author,Message'];
  for (let i = 0; i < count; i++) {
    const at = new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString();
    lines.push(`C-${i},${at},Visitor ${i},${at},Visitor ${i},hello ${i}`);
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
  const env = importEnv({ PURECHAT_IMPORT_PAGE_SIZE: '100', CHATSTREAM_LOG_LEVEL: 'debug' });

  const cli = spawnCli(['purechat', 'import', path], env);
  const deadline = Date.now() + 90_000;
  while (!cli.stderr().includes('"page committed"') && Date.now() < deadline && cli.child.exitCode === null)
    await new Promise((resolve) => setTimeout(resolve, 20));
  const code = await cli.stop('SIGINT');
  assert.equal(code, 130, `expected an interrupted import\n${cli.stdout()}\n${cli.stderr().slice(-2000)}`);
  assert.match(cli.stdout(), /\(interrupted\)/);
  const partial = await recordsOf(env, 'purechat.transcripts');
  assert.ok(partial.length > 0 && partial.length < count, `${partial.length} written before the stop`);

  const resumed = await runCli(['purechat', 'import', path], env);
  assert.equal(resumed.code, 0, resumed.stderr.slice(-2000));
  assert.match(
    resumed.stdout,
    new RegExp(
      `^purechat import: 1 file, ${count - partial.length} transcripts written, 0 bad rows, 1 file resumed$`,
      'm',
    ),
  );
  const records = await recordsOf(env, 'purechat.transcripts');
  assert.equal(records.length, count, 'every transcript exactly once');
  assert.deepEqual(duplicateKeys(records), []);
  const sample = records.find((r) => r.key === 'C-12345')?.value;
  assert.equal(sample?.visitor_name, 'Visitor 12345');
  assert.equal(sample?.source_file, 'big.csv');
});

test('a missing file is a usage error (exit 2) naming it; an unmappable header exit 3; neither writes', async () => {
  const env = importEnv();
  const missing = await runCli(
    ['purechat', 'import', join(FIXTURES, 'per-message.csv'), 'no-such-export.csv'],
    env,
  );
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /no such file: no-such-export\.csv/);

  const none = await runCli(['purechat', 'import'], env);
  assert.equal(none.code, 2, none.stderr);

  const dir = mkdtempSync(join(tmpdir(), 'pc-import-'));
  writeFileSync(join(dir, 'odd.csv'), 'When,Who,Said\n2024-01-01,Ann,hi\n');
  const odd = await runCli(['purechat', 'import', join(dir, 'odd.csv')], env);
  assert.equal(odd.code, 3, odd.stderr);
  assert.match(odd.stderr, /PURECHAT_IMPORT_MAPPING: .*odd\.csv has no transcript id column/);
  assert.match(odd.stderr, /"When", "Who", "Said"/);

  const mapped = await runCli(
    [
      'purechat',
      'import',
      '--dry-run',
      '--mapping',
      '{"transcript_id":"Who","text":"Said","time":"When"}',
      join(dir, 'odd.csv'),
    ],
    env,
  );
  assert.equal(mapped.code, 0, mapped.stderr);
  assert.match(mapped.stdout, /purechat import \(dry run\): 1 file, 1 transcript to write, 0 bad rows/);

  assert.deepEqual(await topicsOf(env), [], 'topics were created');
});

test('a re-import writes nothing with the same settings, and imports the file again with a changed one', async () => {
  const env = importEnv();
  const path = join(FIXTURES, 'per-message.csv');
  const count = EXPECTED['per-message.csv']?.transcripts.length ?? 0;
  const bad = EXPECTED['per-message.csv']?.badRows.length ?? 0;
  const wrote = (run: { code: number | null; stdout: string; stderr: string }) => {
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      new RegExp(`^purechat import: 1 file, ${count} transcripts written, ${bad} bad rows$`, 'm'),
    );
  };
  const skipped = (run: { code: number | null; stdout: string; stderr: string }) => {
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      /^purechat import: 1 file, 0 transcripts written, 0 bad rows, 1 file already imported$/m,
    );
  };
  wrote(await runCli(['purechat', 'import', path], env));
  skipped(await runCli(['purechat', 'import', path], env));
  const ny = { ...env, PURECHAT_IMPORT_TIME_ZONE: 'America/New_York' };
  wrote(await runCli(['purechat', 'import', path], ny));
  skipped(await runCli(['purechat', 'import', path], ny));
  const mapping = ['--mapping', '{"question": null}'];
  wrote(await runCli(['purechat', 'import', ...mapping, path], env));
  skipped(await runCli(['purechat', 'import', ...mapping, path], env));
  skipped(await runCli(['purechat', 'import', path], env));

  const records = await recordsOf(env, 'purechat.transcripts');
  assert.equal(records.length, 3 * count);
  // The time zone changed the times of the second import; the mapping dropped the question.
  const versions = records.filter((r) => r.key === 'T-1001').map((r) => JSON.parse(JSON.stringify(r.value)));
  assert.equal(versions.length, 3);
  const [utc, newYork, noQuestion] = versions;
  assert.notEqual(utc.messages.at(-1).time, newYork.messages.at(-1).time, 'a time without a zone');
  assert.equal(noQuestion.question, null);
  assert.notEqual(utc.question, null);
});

test('Ctrl-C during the scan stops it at once: exit 130, nothing written, no topic created', async () => {
  const count = 1_000_000;
  const dir = mkdtempSync(join(tmpdir(), 'pc-import-'));
  const path = join(dir, 'huge.csv');
  const lines = ['Chat Id,Timestamp,Author,Message'];
  for (let i = 0; i < count; i++) lines.push(`C-${i},2024-01-01T00:00:00Z,Visitor ${i},hello ${i}`);
  writeFileSync(path, `${lines.join('\n')}\n`);
  lines.length = 0;
  const env = importEnv();

  const cli = spawnCli(['purechat', 'import', path], env);
  const deadline = Date.now() + 60_000;
  while (
    !cli.stderr().includes('"scanning the export files"') &&
    Date.now() < deadline &&
    cli.child.exitCode === null
  )
    await new Promise((resolve) => setTimeout(resolve, 20));
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(cli.child.exitCode, null, `the scan ended already\n${cli.stdout()}\n${cli.stderr()}`);
  const signalled = Date.now();
  const code = await cli.stop('SIGINT');
  const stoppedIn = Date.now() - signalled;
  assert.equal(code, 130, `${cli.stdout()}\n${cli.stderr().slice(-2000)}`);
  assert.match(cli.stdout(), /^purechat import: interrupted during the scan; nothing was written$/m);
  // A scan of a million rows takes seconds; the stop comes between two of them.
  assert.ok(stoppedIn < 3000, `stopped ${stoppedIn} ms after the signal`);
  assert.deepEqual(await topicsOf(env), [], 'topics were created');
});
