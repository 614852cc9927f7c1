/**
 * PostgreSQL for the local stack, when a Postgres sink is configured
 * (CHATSTREAM_POSTGRES_ENABLED): the machine's server binaries (Debian's `postgresql`,
 * installed with apt-get when missing and we are root), a cluster of our own under the stack
 * folder, loopback only, trust authentication for local connections. PostgreSQL refuses to
 * run as root, so as root it runs as the `postgres` system user.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { MissingDependencyError, ServiceError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { CoreConfig } from '../core/settings.ts';
import { isRunning, readPidFile, startDetached, which } from './process.ts';
import { type PortClaim, type Service, type ServiceStatus, waitUntilReady } from './service.ts';

const NAME = 'postgres';

/** The folder of initdb and postgres: on PATH, else Debian's /usr/lib/postgresql/<newest>/bin. */
export function postgresBinDir(): string | undefined {
  const initdb = which('initdb');
  if (initdb && existsSync(join(initdb, '..', 'postgres'))) return join(initdb, '..');
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  const found = versions.map((v) => join(root, v, 'bin')).find((bin) => existsSync(join(bin, 'postgres')));
  return found;
}

/** The uid/gid to run as: ourselves, or the postgres system user when we are root. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (id.status !== 0)
    throw new MissingDependencyError(
      'postgres',
      'PostgreSQL cannot run as root and there is no "postgres" user.',
      'apt-get install postgresql creates it',
    );
  return { uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

export class PostgresService implements Service {
  readonly name = NAME;
  readonly endpoint: string;
  readonly logFile: string;
  readonly pidFile: string;
  /** SIGINT is PostgreSQL's fast shutdown (SIGTERM would wait for every client to leave). */
  readonly stopSignal = 'SIGINT' as const;
  private readonly config: CoreConfig;
  private readonly dir: string;
  private readonly dataDir: string;

  constructor(config: CoreConfig) {
    this.config = config;
    this.dir = join(config.stack.home, 'postgres');
    this.dataDir = join(this.dir, 'data');
    this.endpoint = `postgres://127.0.0.1:${config.postgres.port}`;
    this.logFile = join(config.stack.home, 'logs', 'postgres.log');
    this.pidFile = join(config.stack.home, 'run', 'postgres.pid');
  }

  ports(): PortClaim[] {
    return [{ port: this.config.postgres.port, setting: 'CHATSTREAM_POSTGRES_PORT' }];
  }

  private binDir(log: Logger): string {
    let bin = postgresBinDir();
    if (!bin && process.getuid?.() === 0 && existsSync('/etc/debian_version') && which('apt-get')) {
      log.info('installing postgresql with apt-get (first run only)');
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      let run = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'postgresql'], {
        env,
        encoding: 'utf8',
      });
      if (run.status !== 0) {
        spawnSync('apt-get', ['update'], { env, stdio: 'ignore' });
        run = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'postgresql'], {
          env,
          encoding: 'utf8',
        });
      }
      bin = postgresBinDir();
    }
    if (!bin) {
      throw new MissingDependencyError(
        'postgres',
        'PostgreSQL is not installed: no initdb/postgres was found.',
        'install it (Debian: apt-get install postgresql)',
      );
    }
    return bin;
  }

  async prepare(log: Logger): Promise<void> {
    const bin = this.binDir(log);
    const user = runAs();
    mkdirSync(this.dir, { recursive: true });
    mkdirSync(join(this.config.stack.home, 'logs'), { recursive: true });
    const socketDir = join(this.dir, 'socket');
    mkdirSync(socketDir, { recursive: true });
    if (user) for (const path of [this.dir, socketDir]) chownSync(path, user.uid, user.gid);
    if (existsSync(join(this.dataDir, 'PG_VERSION'))) return;
    log.info('initialising a PostgreSQL cluster', { dataDir: this.dataDir });
    const init = spawnSync(
      join(bin, 'initdb'),
      ['-D', this.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C'],
      {
        encoding: 'utf8',
        ...(user ?? {}),
      },
    );
    if (init.status !== 0) {
      throw new ServiceError(NAME, 'initdb failed', {
        code: 'POSTGRES_INIT_FAILED',
        hint: `${init.stdout}${init.stderr}`.trim().split('\n').slice(-8).join('\n'),
      });
    }
  }

  async start(log: Logger): Promise<void> {
    const bin = this.binDir(log);
    const user = runAs();
    const socketDir = join(this.dir, 'socket');
    // The log file is opened by us; as root it must stay writable for the server's user.
    writeFileSync(this.logFile, '', { flag: 'a' });
    if (user) chownSync(this.logFile, user.uid, user.gid);
    await startDetached({
      command: join(bin, 'postgres'),
      args: [
        '-D',
        this.dataDir,
        '-p',
        String(this.config.postgres.port),
        '-k',
        socketDir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=on',
      ],
      logFile: this.logFile,
      pidFile: this.pidFile,
      marker: this.dataDir,
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    });
  }

  private async query(sql: string, database = 'postgres'): Promise<string> {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: this.config.postgres.port,
      user: 'postgres',
      database,
      connectionTimeoutMillis: 2000,
    });
    await client.connect();
    try {
      const result = await client.query(sql);
      return String(Object.values(result.rows[0] ?? {})[0] ?? '');
    } finally {
      await client.end();
    }
  }

  waitReady(deadline: number): Promise<void> {
    return waitUntilReady(this, deadline, async () => {
      await this.query('SELECT 1');
      if ((await this.query("SELECT count(*) FROM pg_database WHERE datname = 'chatstream'")) === '0') {
        await this.query('CREATE DATABASE chatstream');
      }
    });
  }

  async status(): Promise<ServiceStatus> {
    const record = readPidFile(this.pidFile);
    const base = { name: NAME, endpoint: this.endpoint, logFile: this.logFile };
    if (!isRunning(record)) return { ...base, state: 'stopped' };
    try {
      const version = await this.query('SHOW server_version');
      return { ...base, state: 'running', pid: record.pid, version: `PostgreSQL ${version}` };
    } catch (error) {
      return { ...base, state: 'unhealthy', pid: record.pid, detail: (error as Error).message };
    }
  }
}
