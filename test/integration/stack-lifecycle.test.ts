/**
 * The local stack's promises, on a second, throw-away stack (own folder, own ports) so the
 * shared one the other tests use is never disturbed: up reports both services healthy with
 * versions, data survives down/up, up is idempotent, and down leaves no process of ours.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../cli/settings.ts';
import { createKafka } from '../../kafka/client.ts';
import { commandLine } from '../../stack/process.ts';
import { runCli } from '../helpers/cli.ts';
import { isolatedStackEnv, uniqueName } from '../helpers/names.ts';

const home = mkdtempSync(join(tmpdir(), 'chatstream-stack-'));
let env: NodeJS.ProcessEnv;

/** Live processes whose command line mentions this stack's folder. */
function ourProcesses(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => pid !== process.pid && (commandLine(pid) ?? '').includes(home));
}

interface Status {
  name: string;
  state: string;
  version?: string;
  pid?: number;
}

async function status(): Promise<Status[]> {
  const result = await runCli(['stack', 'status', '--json'], env);
  return JSON.parse(result.stdout) as Status[];
}

before(async () => {
  env = await isolatedStackEnv(home, loadConfig().stack.cacheDir);
});

after(async () => {
  await runCli(['stack', 'down'], env);
  rmSync(home, { recursive: true, force: true });
});

test('stack up starts Kafka, ClickHouse and the registry; status shows them running with versions', async () => {
  const up = await runCli(['stack', 'up'], env);
  assert.equal(up.code, 0, up.stderr);
  const statuses = await status();
  assert.deepEqual(
    statuses.map((s) => [s.name, s.state]),
    [
      ['kafka', 'running'],
      ['clickhouse', 'running'],
      ['registry', 'running'],
    ],
  );
  assert.match(statuses[0]?.version ?? '', /^Apache Kafka 3\.9\.\d+ \(KRaft\)$/);
  assert.match(statuses[1]?.version ?? '', /^ClickHouse \d+\.\d+/);
  assert.match(statuses[2]?.version ?? '', /^chatstream registry /);
  const table = await runCli(['stack', 'status'], env);
  assert.equal(table.code, 0);
  assert.match(table.stdout, /kafka\s+running\s+Apache Kafka/);
});

test('a second stack up is a no-op: the same processes keep running', async () => {
  const before = await status();
  const again = await runCli(['stack', 'up'], env);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(
    (await status()).map((s) => s.pid),
    before.map((s) => s.pid),
  );
});

test('a 6-partition topic survives stack down && stack up; down leaves no process of ours', async () => {
  const cfg = loadConfig({ env });
  const topic = uniqueName('test_durable');
  const admin = createKafka(cfg, { role: 'test' }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true });
  await admin.disconnect();

  const down = await runCli(['stack', 'down'], env);
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, /stopped: registry, clickhouse, kafka/);
  assert.deepEqual(ourProcesses(), []);
  const stopped = await runCli(['stack', 'status'], env);
  assert.equal(stopped.code, 5, 'status exits 5 when services are stopped');

  const up = await runCli(['stack', 'up'], env);
  assert.equal(up.code, 0, up.stderr);
  const again = createKafka(cfg, { role: 'test' }).admin();
  await again.connect();
  const metadata = await again.fetchTopicMetadata({ topics: [topic] });
  await again.disconnect();
  assert.equal(metadata.topics[0]?.partitions.length, 6);

  assert.equal((await runCli(['stack', 'down'], env)).code, 0);
  assert.deepEqual(ourProcesses(), []);
});

test('KAFKA_HOME: a Kafka distribution is run instead of the Maven artifacts', async () => {
  const distribution = mkdtempSync(join(tmpdir(), 'kafka-dist-'));
  const otherHome = mkdtempSync(join(tmpdir(), 'chatstream-kh-'));
  const cached = join(loadConfig().stack.cacheDir, `kafka-${loadConfig().kafka.version}`, 'libs');
  cpSync(cached, join(distribution, 'libs'), { recursive: true });
  const khEnv = {
    ...(await isolatedStackEnv(otherHome, join(otherHome, 'no-cache'))),
    KAFKA_HOME: distribution,
    CHATSTREAM_KAFKA_MVN: '/nonexistent/mvn',
  };
  try {
    const up = await runCli(['stack', 'up', 'kafka'], khEnv);
    assert.equal(up.code, 0, up.stderr);
    const [kafka] = JSON.parse(
      (await runCli(['stack', 'status', '--json', 'kafka'], khEnv)).stdout,
    ) as Status[];
    assert.equal(kafka?.state, 'running');
    assert.equal(kafka?.version, `Apache Kafka ${loadConfig().kafka.version} (KRaft)`);
    assert.ok(
      (commandLine(kafka?.pid ?? 0) ?? '').includes(join(distribution, 'libs')),
      'runs from the distribution',
    );
  } finally {
    await runCli(['stack', 'down'], khEnv);
    rmSync(distribution, { recursive: true, force: true });
    rmSync(otherHome, { recursive: true, force: true });
  }
});
