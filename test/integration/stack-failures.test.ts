/**
 * Bad situations give a clear message and a non-zero exit code: a port already taken, Java
 * or Maven missing, ClickHouse failing to start (the message names its log file).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../../cli/settings.ts';
import { runCli } from '../helpers/cli.ts';
import { isolatedStackEnv } from '../helpers/names.ts';

const homes: string[] = [];
function tempHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'chatstream-fail-'));
  homes.push(home);
  return home;
}

after(() => {
  for (const home of homes) rmSync(home, { recursive: true, force: true });
});

test('a port already taken: exit 5, the message names the port and its setting, nothing starts', async () => {
  const home = tempHome();
  const env = await isolatedStackEnv(home, loadConfig().stack.cacheDir);
  const blocker: Server = createServer();
  await new Promise<void>((resolve) =>
    blocker.listen(Number(env.CHATSTREAM_CLICKHOUSE_HTTP_PORT), '127.0.0.1', resolve),
  );
  try {
    const result = await runCli(['stack', 'up'], env);
    assert.equal(result.code, 5);
    assert.match(
      result.stderr,
      new RegExp(
        `port ${env.CHATSTREAM_CLICKHOUSE_HTTP_PORT} \\(CHATSTREAM_CLICKHOUSE_HTTP_PORT\\) is already in use`,
      ),
    );
    const status = await runCli(['stack', 'status', '--json'], env);
    assert.ok(
      (JSON.parse(status.stdout) as { state: string }[]).every((s) => s.state === 'stopped'),
      'Kafka was not left running',
    );
  } finally {
    blocker.close();
  }
});

test('Java missing: exit 4 and a message that says how to install it', async () => {
  const env = {
    ...(await isolatedStackEnv(tempHome(), loadConfig().stack.cacheDir)),
    CHATSTREAM_KAFKA_JAVA: '/nonexistent/bin/java',
  };
  const result = await runCli(['stack', 'up', 'kafka'], env);
  assert.equal(result.code, 4);
  assert.match(result.stderr, /Java is not installed: "\/nonexistent\/bin\/java" was not found/);
  assert.match(result.stderr, /hint: install a Java 17\+ runtime/);
});

test('Maven missing with an empty cache: exit 4 naming Maven and KAFKA_HOME as the way out', async () => {
  const home = tempHome();
  const env = {
    ...(await isolatedStackEnv(home, join(home, 'empty-cache'))),
    CHATSTREAM_KAFKA_MVN: '/nonexistent/mvn',
  };
  const result = await runCli(['stack', 'up', 'kafka'], env);
  assert.equal(result.code, 4);
  assert.match(result.stderr, /Maven is not installed: "\/nonexistent\/mvn" was not found/);
  assert.match(result.stderr, /KAFKA_HOME/);
});

test('ClickHouse failing to start: exit 5, the message names the log file and shows its end', async () => {
  const home = tempHome();
  const env = await isolatedStackEnv(home, loadConfig().stack.cacheDir);
  // A data folder that is a file: the real server refuses to start.
  mkdirSync(join(home, 'clickhouse'), { recursive: true });
  writeFileSync(join(home, 'clickhouse', 'data'), 'not a folder');
  const result = await runCli(['stack', 'up', 'clickhouse'], env);
  assert.equal(result.code, 5);
  assert.match(result.stderr, /clickhouse: the process exited during start-up/);
  assert.ok(result.stderr.includes(join(home, 'logs', 'clickhouse-server.err.log')), result.stderr);
});

test('an invalid setting: exit 3 naming the variable', async () => {
  const result = await runCli(['stack', 'status'], { ...process.env, CHATSTREAM_KAFKA_PORT: '70000' });
  assert.equal(result.code, 3);
  assert.match(result.stderr, /CHATSTREAM_KAFKA_PORT: expected a number from 1 to 65535, got 70000/);
});
