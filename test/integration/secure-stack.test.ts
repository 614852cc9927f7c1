/**
 * Production-style connections, for real: a second, throw-away local stack in secure mode (own
 * folder, own ports; taken down by its pid files at the end, always) — Kafka SASL_SSL with
 * SCRAM-SHA-512, ClickHouse over HTTPS, the registry over HTTPS with basic auth, all signed by
 * the stack's throw-away CA. A producer (`purechat import`) and a sink (`sink clickhouse`) round
 * trip records with exactly the settings `stack up --secure` prints; a wrong Kafka password, a
 * wrong ClickHouse password and a CA that does not match each stop within seconds with exit 3
 * naming the setting; no secret appears in any output, `config show` or the stack's logs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../cli/settings.ts';
import { createClickHouseClient } from '../../consumers/sinks/clickhouse/connection.ts';
import { tableName } from '../../consumers/sinks/clickhouse/schema.ts';
import { withAdmin } from '../../kafka/client.ts';
import { type CliResult, runCli, spawnCli } from '../helpers/cli.ts';
import { freePort, isolatedStackEnv, uniqueName } from '../helpers/names.ts';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'purechat', 'transcripts.json');
const home = mkdtempSync(join(tmpdir(), 'chatstream-secure-'));
/** The environment the secure stack was started with. */
let stackEnv: NodeJS.ProcessEnv;
/** stackEnv plus the client settings `stack up --secure` printed. */
let clientEnv: NodeJS.ProcessEnv;
/** Every output the tests saw, checked for secrets at the end. */
const outputs: string[] = [];
const WRONG = 'Wrong-Secret-7f3a9c';

function remember(result: CliResult): CliResult {
  outputs.push(result.stdout, result.stderr);
  return result;
}

/** `export NAME=value` lines → an environment. */
function exportsOf(stdout: string): Record<string, string> {
  const found: Record<string, string> = {};
  for (const match of stdout.matchAll(/^export (CHATSTREAM_\w+)=(.*)$/gm))
    found[match[1] as string] = match[2] as string;
  return found;
}

function secrets(): string[] {
  return ['kafka', 'clickhouse', 'registry'].map((name) =>
    readFileSync(join(home, 'tls', `${name}.password`), 'utf8').trim(),
  );
}

/** A run of the CLI with its duration. */
async function timed(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult & { ms: number }> {
  const started = Date.now();
  const result = remember(await runCli(args, env, 60_000));
  return { ...result, ms: Date.now() - started };
}

/** Environment writing to topics of its own (a random prefix). */
function topicEnv(env: NodeJS.ProcessEnv, prefix = uniqueName('sec')): NodeJS.ProcessEnv {
  return {
    ...env,
    CHATSTREAM_KAFKA_TOPIC_PREFIX: `${prefix}.`,
    CHATSTREAM_KAFKA_PARTITIONS: '2',
    CHATSTREAM_PRODUCER_OFFSETS_TOPIC: `${prefix}._offsets`,
    CHATSTREAM_PRODUCER_DEAD_LETTER_TOPIC: `${prefix}.dead_letters`,
    CHATSTREAM_SINK_DEAD_LETTER_TOPIC: `${prefix}.sink_dead_letters`,
    CHATSTREAM_PRODUCER_INSTANCE_ID: prefix,
    CHATSTREAM_CLICKHOUSE_DATABASE: prefix,
  };
}

let topic: Promise<string> | undefined;
/** A topic that exists (the sink connects to ClickHouse once its topics exist), made over SASL_SSL in-process. */
function existingTopic(): Promise<string> {
  topic ??= withAdmin(loadConfig({ env: clientEnv }), async (admin) => {
    const name = uniqueName('sec_topic');
    await admin.createTopics({ topics: [{ topic: name, numPartitions: 1 }], waitForLeaders: true });
    return name;
  });
  return topic;
}

/** Exit 3 within a few seconds, naming the setting, without a stack trace or the secret. */
function assertRefused(result: CliResult & { ms: number }, setting: RegExp, secret?: string): void {
  assert.equal(result.code, 3, `exit code; stderr:\n${result.stderr}`);
  assert.match(result.stderr, setting);
  assert.ok(result.ms < 15_000, `failed fast (took ${result.ms} ms)`);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  if (secret) assert.ok(!`${result.stdout}${result.stderr}`.includes(secret), 'the secret is not shown');
}

before(async () => {
  stackEnv = {
    ...(await isolatedStackEnv(home, loadConfig().stack.cacheDir)),
    CHATSTREAM_KAFKA_SECURE_PORT: String(await freePort()),
    CHATSTREAM_CLICKHOUSE_HTTPS_PORT: String(await freePort()),
    CHATSTREAM_LOG_LEVEL: 'info',
  };
  const up = remember(await runCli(['stack', 'up', '--secure'], stackEnv));
  assert.equal(up.code, 0, up.stderr);
  clientEnv = { ...stackEnv, ...exportsOf(up.stdout) };
});

after(async () => {
  await runCli(['stack', 'down'], stackEnv);
  rmSync(home, { recursive: true, force: true });
});

test('stack up --secure prints the client settings: SASL_SSL + SCRAM-SHA-512, https, the CA, passwords only as _FILE', () => {
  assert.equal(clientEnv.CHATSTREAM_KAFKA_SECURITY_PROTOCOL, 'SASL_SSL');
  assert.equal(clientEnv.CHATSTREAM_KAFKA_SASL_MECHANISM, 'SCRAM-SHA-512');
  assert.equal(clientEnv.CHATSTREAM_KAFKA_BROKERS, `127.0.0.1:${stackEnv.CHATSTREAM_KAFKA_SECURE_PORT}`);
  assert.equal(clientEnv.CHATSTREAM_KAFKA_SSL_CA_LOCATION, join(home, 'tls', 'ca.pem'));
  assert.match(clientEnv.CHATSTREAM_CLICKHOUSE_URL ?? '', /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.match(clientEnv.CHATSTREAM_SCHEMA_REGISTRY_URL ?? '', /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(clientEnv.CHATSTREAM_KAFKA_SASL_PASSWORD_FILE, join(home, 'tls', 'kafka.password'));
  assert.equal(clientEnv.CHATSTREAM_KAFKA_SASL_PASSWORD, undefined, 'no password value is printed');
});

test('a producer and a sink round trip records over SASL_SSL, the registry over https and ClickHouse over https', async () => {
  const env = topicEnv(clientEnv);
  const produced = await timed(['purechat', 'import', FIXTURE], env);
  assert.equal(produced.code, 0, produced.stderr);
  assert.match(produced.stdout, /3 transcripts written/);

  const topic = `${env.CHATSTREAM_KAFKA_TOPIC_PREFIX}purechat.transcripts`;
  const sink = spawnCli(
    ['sink', 'clickhouse', '--topics', topic, '--group', uniqueName('sec-sink'), '--metrics-port', '0'],
    env,
  );
  const client = createClickHouseClient(loadConfig({ env }));
  try {
    const table = `${env.CHATSTREAM_CLICKHOUSE_DATABASE}.${tableName(topic)}`;
    let ids: string[] = [];
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline && ids.length < 3 && sink.child.exitCode === null) {
      const result = await client
        .query({ query: `SELECT transcript_id FROM ${table} ORDER BY transcript_id`, format: 'JSONEachRow' })
        .then((r) => r.json<{ transcript_id: string }>())
        .catch(() => []);
      ids = result.map((row) => row.transcript_id);
      if (ids.length < 3) await sleep(500);
    }
    assert.equal(ids.length, 3, `rows in ClickHouse over https; sink stderr:\n${sink.stderr()}`);
  } finally {
    await client.close();
    assert.equal(await sink.stop(), 0, sink.stderr());
    outputs.push(sink.stdout(), sink.stderr());
  }
});

test('a wrong Kafka password: the producer and the sink exit 3 at once naming CHATSTREAM_KAFKA_SASL_PASSWORD', async () => {
  const env = {
    ...topicEnv(clientEnv),
    CHATSTREAM_KAFKA_SASL_PASSWORD_FILE: '',
    CHATSTREAM_KAFKA_SASL_PASSWORD: WRONG,
  };
  assertRefused(await timed(['purechat', 'import', FIXTURE], env), /CHATSTREAM_KAFKA_SASL_PASSWORD/, WRONG);
  assertRefused(
    await timed(['sink', 'clickhouse', '--topics', 'x', '--group', 'g', '--metrics-port', '0'], env),
    /Kafka refused the login.*CHATSTREAM_KAFKA_SASL_PASSWORD/,
    WRONG,
  );
});

test('a wrong ClickHouse password: the sink exits 3 at once naming CHATSTREAM_CLICKHOUSE_PASSWORD', async () => {
  const env = {
    ...topicEnv(clientEnv),
    CHATSTREAM_CLICKHOUSE_PASSWORD_FILE: '',
    CHATSTREAM_CLICKHOUSE_PASSWORD: WRONG,
  };
  const result = await timed(
    ['sink', 'clickhouse', '--topics', await existingTopic(), '--group', 'g', '--metrics-port', '0'],
    env,
  );
  assertRefused(result, /WRONG_PASSWORD.*\n?.*CHATSTREAM_CLICKHOUSE_PASSWORD/, WRONG);
});

test('a CA that does not match: Kafka and ClickHouse each exit 3 naming their CA setting', async () => {
  const other = join(home, 'other-ca');
  const made = spawnSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    `${other}.key`,
    '-out',
    `${other}.pem`,
    '-days',
    '1',
    '-subj',
    '/CN=not the stack CA',
  ]);
  assert.equal(made.status, 0, String(made.stderr));
  const sinkArgs = [
    'sink',
    'clickhouse',
    '--topics',
    await existingTopic(),
    '--group',
    'g',
    '--metrics-port',
    '0',
  ];
  const kafka = await timed(sinkArgs, {
    ...topicEnv(clientEnv),
    CHATSTREAM_KAFKA_SSL_CA_LOCATION: `${other}.pem`,
  });
  assertRefused(kafka, /certificate does not verify .*CHATSTREAM_KAFKA_SSL_CA_LOCATION/);
  const producer = await timed(['purechat', 'import', FIXTURE], {
    ...topicEnv(clientEnv),
    CHATSTREAM_KAFKA_SSL_CA_LOCATION: `${other}.pem`,
  });
  assertRefused(producer, /CHATSTREAM_KAFKA_SSL_CA_LOCATION/);
  const clickhouse = await timed(sinkArgs, {
    ...topicEnv(clientEnv),
    CHATSTREAM_CLICKHOUSE_SSL_CA_LOCATION: `${other}.pem`,
  });
  assertRefused(clickhouse, /certificate does not verify .*CHATSTREAM_CLICKHOUSE_SSL_CA_LOCATION/);
});

test('secrets appear nowhere: not in config show, not in any output above, not in the stack logs', async () => {
  const values = secrets();
  const [kafka, clickhouse, registry] = values as [string, string, string];
  const shown = await timed(['config', 'show'], {
    ...clientEnv,
    CHATSTREAM_KAFKA_SASL_PASSWORD: kafka,
    CHATSTREAM_CLICKHOUSE_PASSWORD: clickhouse,
    CHATSTREAM_SCHEMA_REGISTRY_PASSWORD: registry,
  });
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /saslPassword/);
  const logs = readdirSync(join(home, 'logs')).map((f) => readFileSync(join(home, 'logs', f), 'utf8'));
  assert.ok(logs.join('').length > 0, 'the stack wrote logs');
  for (const [i, secret] of [...values, WRONG].entries()) {
    assert.ok(secret.length >= 16);
    for (const [j, text] of [...outputs, ...logs].entries())
      assert.ok(!text.includes(secret), `secret ${i} appears in text ${j}: ${text.slice(0, 200)}`);
  }
});
