/**
 * The PostgreSQL sink runs the same conformance suite, on a PostgreSQL the stack starts for
 * it (CHATSTREAM_POSTGRES_ENABLED) in a folder and on a port of its own.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import pg from 'pg';
import { type Config, loadConfig } from '../../cli/settings.ts';
import { postgresSink } from '../../consumers/sinks/postgres/index.ts';
import { ident, pgTableName } from '../../consumers/sinks/postgres/schema.ts';
import { runCli } from '../helpers/cli.ts';
import { freePort } from '../helpers/names.ts';
import { type ReadBack, sinkConformance } from '../helpers/sink-conformance.ts';

const home = mkdtempSync(join(tmpdir(), 'chatstream-pg-'));
chmodSync(home, 0o755); // the server runs as the postgres user when we are root
const port = await freePort();
const env = {
  ...process.env,
  CHATSTREAM_STACK_HOME: home,
  CHATSTREAM_STACK_CACHE_DIR: loadConfig().stack.cacheDir,
  CHATSTREAM_POSTGRES_ENABLED: 'true',
  CHATSTREAM_POSTGRES_PORT: String(port),
};

before(async () => {
  const up = await runCli(['stack', 'up', 'postgres'], env);
  if (up.code !== 0) throw new Error(`PostgreSQL did not start: ${up.stderr}`);
});
after(async () => {
  // Without CHATSTREAM_POSTGRES_ENABLED: `stack down` still stops the PostgreSQL it started.
  const { CHATSTREAM_POSTGRES_ENABLED: _enabled, ...plain } = env;
  const down = await runCli(['stack', 'down'], plain);
  rmSync(home, { recursive: true, force: true });
  if (!/stopped: postgres/.test(down.stdout))
    throw new Error(`stack down did not stop PostgreSQL: ${down.stdout} ${down.stderr}`);
});

function postgresReadBack(config: Config): ReadBack {
  const pool = new pg.Pool({ connectionString: config.postgres.url });
  const table = (topic: string) => `${ident(config.postgres.schema)}.${ident(pgTableName(topic))}`;
  const rows = async (sql: string) => {
    try {
      return (await pool.query(sql)).rows as Record<string, string | null>[];
    } catch (error) {
      if ((error as { code?: string }).code === '42P01') return []; // not created yet
      throw error;
    }
  };
  return {
    async visible(topic) {
      return Number((await rows(`SELECT count(*) AS c FROM ${table(topic)}`))[0]?.c ?? 0);
    },
    async stored(topic) {
      const [row] = await rows(
        `SELECT count(DISTINCT (_partition, _offset)) AS d, count(*) AS r FROM ${table(topic)}`,
      );
      return { distinct: Number(row?.d ?? 0), rows: Number(row?.r ?? 0) };
    },
    async field(topic, field) {
      const found = await rows(`SELECT id, ${ident(field)}::text AS v FROM ${table(topic)}`);
      return new Map(found.map((r) => [String(r.id), r.v ?? null]));
    },
    close: () => pool.end(),
  };
}

sinkConformance(postgresSink, postgresReadBack, (config) => ({
  ...config,
  postgres: { ...config.postgres, port, url: `postgres://postgres@127.0.0.1:${port}/chatstream` },
}));
