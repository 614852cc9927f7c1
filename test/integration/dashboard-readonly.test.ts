/**
 * The dashboard's read-only ClickHouse user on a throw-away ClickHouse (an isolated stack of
 * its own, ClickHouse only: the shared one must not be restarted): the local stack writes the
 * user with a readonly profile, the dashboard's queries can read and cannot write; ClickHouse
 * re-reads users.xml without a restart, and without the user the dashboard falls back to the
 * writer with readonly=2, which cannot write either; a wrong read-only password is exit 3 naming
 * the setting, never a fallback.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DashboardQueries } from '../../analytics/queries.ts';
import { loadConfig } from '../../cli/settings.ts';
import { EXIT, FatalError } from '../../core/errors.ts';
import { createLogger } from '../../core/log.ts';
import { usersConfig } from '../../stack/clickhouse.ts';
import { runCli } from '../helpers/cli.ts';
import { isolatedStackEnv } from '../helpers/names.ts';

const PASSWORD = 'reader-secret';
let home: string;
let env: NodeJS.ProcessEnv;
let config: ReturnType<typeof loadConfig>;
const warnings: string[] = [];
const log = createLogger('test.dashboard-readonly');
const quietLog = { ...log, warn: (msg: string) => warnings.push(msg) } as typeof log;

before(async () => {
  home = mkdtempSync(join(tmpdir(), 'chatstream-dashboard-readonly-'));
  env = {
    ...(await isolatedStackEnv(home, loadConfig().stack.cacheDir)),
    CHATSTREAM_CLICKHOUSE_READONLY_PASSWORD: PASSWORD,
  };
  config = loadConfig({ env });
  const up = await runCli(['stack', 'up', 'clickhouse'], env, 120_000);
  assert.equal(up.code, 0, up.stderr);
});

after(async () => {
  if (env) await runCli(['stack', 'down', 'clickhouse'], env, 60_000);
  if (home) rmSync(home, { recursive: true, force: true });
});

async function connected(): Promise<DashboardQueries> {
  const queries = new DashboardQueries(config, quietLog, 0);
  await queries.connect();
  return queries;
}

/**
 * Writes users.xml and connects until the mode is `want`, at most 30 s. The file is written again
 * on every try: ClickHouse re-reads it when its modification time changes, and a change made in
 * the first seconds after the server started was seen to be missed.
 */
async function modeBecomes(text: string, want: DashboardQueries['mode']): Promise<DashboardQueries> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    writeFileSync(join(home, 'clickhouse', 'users.xml'), text);
    await sleep(2500);
    const queries = await connected();
    if (queries.mode === want) return queries;
    await queries.close();
    if (Date.now() > deadline) throw new Error(`the dashboard did not switch to ${want} within 30 s`);
  }
}

async function refusesWrites(queries: DashboardQueries): Promise<void> {
  await assert.rejects(
    queries.rows('CREATE TABLE default.dashboard_wrote (a UInt8) ENGINE = Memory'),
    /readonly mode|Code: 164/,
  );
  await assert.rejects(queries.rows('INSERT INTO system.numbers VALUES (1)'), /readonly|Code: 164|Code: 48/);
}

test('the local stack creates the read-only user: it reads, and cannot write', async () => {
  const queries = await connected();
  try {
    assert.equal(queries.mode, 'readonly-user');
    assert.deepEqual(await queries.rows('SELECT 1 AS one'), [{ one: 1 }]);
    await refusesWrites(queries);
  } finally {
    await queries.close();
  }
});

test('a wrong read-only password is exit 3 naming the setting, not a fallback to the writer', async () => {
  const wrong = loadConfig({ env: { ...env, CHATSTREAM_CLICKHOUSE_READONLY_PASSWORD: 'not-the-password' } });
  const queries = new DashboardQueries(wrong, quietLog, 0);
  await assert.rejects(
    queries.connect(),
    (e: unknown) =>
      e instanceof FatalError &&
      e.exitCode === EXIT.config &&
      /CHATSTREAM_CLICKHOUSE_READONLY_PASSWORD/.test(e.message),
  );
  assert.equal(queries.mode, 'readonly-user');
  await queries.close();
});

test('users.xml is re-read without a restart; without the user the dashboard falls back, still read-only', async () => {
  const fallback = await modeBecomes(usersConfig(config.clickhouse.password), 'writer-readonly-setting');
  try {
    assert.ok(warnings.some((w) => /cannot be used; querying as "default" with readonly=2/.test(w)));
    assert.deepEqual(await fallback.rows('SELECT 2 AS two'), [{ two: 2 }]);
    await refusesWrites(fallback);
  } finally {
    await fallback.close();
  }
  const back = await modeBecomes(
    usersConfig(config.clickhouse.password, { user: config.clickhouse.readonlyUser, password: PASSWORD }),
    'readonly-user',
  );
  await back.close();
});
