/**
 * ClickHouse for the local stack: whatever server binary the machine has (a `clickhouse`
 * multi-tool or Debian's `clickhouse-server`, installed with apt-get when missing and we are
 * root on Debian), run with the project's own config: loopback only, data and logs under
 * the stack folder.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ConfigError, MissingDependencyError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { CoreConfig } from '../core/settings.ts';
import { isRunning, readPidFile, startDetached, which } from './process.ts';
import { isSecureStack, secureStack } from './secure.ts';
import { type PortClaim, type Service, type ServiceStatus, waitUntilReady } from './service.ts';
import { ensureCertificates } from './tls.ts';

const NAME = 'clickhouse';
/** Debian installs the server outside a non-root PATH. */
const DEBIAN_SERVER = '/usr/sbin/clickhouse-server';

/** A user name that is also an XML element name. */
const USER_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Secure mode: an HTTPS port with the stack's certificate; client certificates are checked when sent. */
export interface HttpsListener {
  port: number;
  certificate: string;
  key: string;
  ca: string;
}

function httpsConfig(https: HttpsListener): string {
  return `
  <https_port>${https.port}</https_port>
  <openSSL>
    <server>
      <certificateFile>${xmlEscape(https.certificate)}</certificateFile>
      <privateKeyFile>${xmlEscape(https.key)}</privateKeyFile>
      <caConfig>${xmlEscape(https.ca)}</caConfig>
      <verificationMode>relaxed</verificationMode>
      <loadDefaultCAFile>false</loadDefaultCAFile>
      <cacheSessions>true</cacheSessions>
      <disableProtocols>sslv2,sslv3,tlsv1,tlsv1_1</disableProtocols>
      <preferServerCiphers>true</preferServerCiphers>
    </server>
  </openSSL>`;
}

/** The server config (the `<yandex>` root is read by 18.16 and by current releases). Pure. */
export function serverConfig(opts: {
  dir: string;
  logDir: string;
  httpPort: number;
  tcpPort: number;
  https?: HttpsListener;
}): string {
  const d = xmlEscape(opts.dir);
  const l = xmlEscape(opts.logDir);
  return `<?xml version="1.0"?>
<!-- Written by \`chatstream stack up\`; edits are overwritten. -->
<yandex>
  <logger>
    <level>information</level>
    <log>${l}/clickhouse-server.log</log>
    <errorlog>${l}/clickhouse-server.err.log</errorlog>
    <size>100M</size>
    <count>3</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${opts.httpPort}</http_port>
  <tcp_port>${opts.tcpPort}</tcp_port>${opts.https ? httpsConfig(opts.https) : ''}
  <path>${d}/data/</path>
  <tmp_path>${d}/tmp/</tmp_path>
  <user_files_path>${d}/user_files/</user_files_path>
  <format_schema_path>${d}/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <mlock_executable>false</mlock_executable>
  <!-- Kafka engine tables (librdkafka): a new consumer group starts at the earliest offset. -->
  <kafka>
    <auto_offset_reset>smallest</auto_offset_reset>
  </kafka>
</yandex>
`;
}

/**
 * users.xml: the `default` user, and (when given) a read-only user for the dashboard with a
 * `readonly` profile (readonly=2: SELECT and settings only; no writes, no DDL). ClickHouse
 * re-reads this file by itself within seconds (18.16 too), without a restart.
 */
export function usersConfig(password: string, readonly?: { user: string; password: string }): string {
  const network = '<networks><ip>127.0.0.1</ip><ip>::1</ip></networks>';
  const reader = readonly
    ? `
    <${readonly.user}>
      <password>${xmlEscape(readonly.password)}</password>
      ${network}
      <profile>readonly</profile>
      <quota>default</quota>
    </${readonly.user}>`
    : '';
  return `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default><max_memory_usage>4000000000</max_memory_usage></default>
    <readonly><readonly>2</readonly><max_memory_usage>4000000000</max_memory_usage></readonly>
  </profiles>
  <users>
    <default>
      <password>${xmlEscape(password)}</password>
      ${network}
      <profile>default</profile>
      <quota>default</quota>
    </default>${reader}
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`;
}

interface Binary {
  command: string;
  /** Arguments before --config-file (`server` for the multi-tool binary). */
  args: string[];
}

export class ClickHouseService implements Service {
  readonly name = NAME;
  readonly endpoint: string;
  readonly logFile: string;
  readonly pidFile: string;
  private readonly dir: string;
  private readonly errorLog: string;
  private readonly configFile: string;

  private readonly config: CoreConfig;

  constructor(config: CoreConfig) {
    this.config = config;
    const home = config.stack.home;
    this.dir = join(home, 'clickhouse');
    this.configFile = join(this.dir, 'config.xml');
    this.logFile = join(home, 'logs', 'clickhouse-server.log');
    this.errorLog = join(home, 'logs', 'clickhouse-server.err.log');
    this.pidFile = join(home, 'run', 'clickhouse.pid');
    this.endpoint = `http://127.0.0.1:${config.clickhouse.httpPort}`;
  }

  ports(): PortClaim[] {
    return [
      { port: this.config.clickhouse.httpPort, setting: 'CHATSTREAM_CLICKHOUSE_HTTP_PORT' },
      { port: this.config.clickhouse.tcpPort, setting: 'CHATSTREAM_CLICKHOUSE_TCP_PORT' },
      ...(isSecureStack(this.config)
        ? [{ port: this.config.clickhouse.httpsPort, setting: 'CHATSTREAM_CLICKHOUSE_HTTPS_PORT' }]
        : []),
    ];
  }

  private findBinary(): Binary | undefined {
    const configured = this.config.clickhouse.bin;
    if (configured) {
      if (!which(configured))
        throw new ConfigError('CHATSTREAM_CLICKHOUSE_BIN', `no such program: ${configured}`);
      return basename(configured) === 'clickhouse'
        ? { command: configured, args: ['server'] }
        : { command: configured, args: [] };
    }
    const multi = which('clickhouse');
    if (multi) return { command: multi, args: ['server'] };
    const server = which('clickhouse-server') ?? (existsSync(DEBIAN_SERVER) ? DEBIAN_SERVER : undefined);
    return server ? { command: server, args: [] } : undefined;
  }

  private install(log: Logger): void {
    const canInstall = process.getuid?.() === 0 && existsSync('/etc/debian_version') && which('apt-get');
    if (!canInstall) {
      throw new MissingDependencyError(
        'clickhouse',
        'ClickHouse is not installed: no `clickhouse` or `clickhouse-server` was found.',
        'install it (Debian: sudo apt-get install clickhouse-server) or set CHATSTREAM_CLICKHOUSE_BIN',
      );
    }
    log.info('installing clickhouse-server with apt-get (first run only)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = () =>
      spawnSync(
        'apt-get',
        ['install', '-y', '--no-install-recommends', 'clickhouse-server', 'clickhouse-client'],
        {
          env,
          encoding: 'utf8',
        },
      );
    let run = install();
    if (run.status !== 0) {
      spawnSync('apt-get', ['update'], { env, stdio: 'ignore' });
      run = install();
    }
    if (run.status !== 0) {
      throw new MissingDependencyError(
        'clickhouse',
        'apt-get could not install clickhouse-server.',
        `${run.stdout}${run.stderr}`.trim().split('\n').slice(-8).join('\n'),
      );
    }
  }

  private binary(log: Logger): Binary {
    let found = this.findBinary();
    if (!found) {
      this.install(log);
      found = this.findBinary();
    }
    if (!found)
      throw new MissingDependencyError(
        'clickhouse',
        'ClickHouse is still missing after apt-get install.',
        'see apt-get output',
      );
    return found;
  }

  async prepare(log: Logger): Promise<void> {
    this.binary(log);
    for (const sub of ['tmp', 'user_files', 'format_schemas'])
      mkdirSync(join(this.dir, sub), { recursive: true });
    mkdirSync(join(this.config.stack.home, 'logs'), { recursive: true });
    const { httpPort, tcpPort, httpsPort, readonlyUser, readonlyPassword } = this.config.clickhouse;
    const logDir = join(this.config.stack.home, 'logs');
    const secure = secureStack(this.config);
    const certs = secure && ensureCertificates(this.config.stack.home);
    const https = certs
      ? { port: httpsPort, certificate: certs.serverCert, key: certs.serverKey, ca: certs.ca }
      : undefined;
    writeFileSync(this.configFile, serverConfig({ dir: this.dir, logDir, httpPort, tcpPort, https }));
    if (!USER_NAME.test(readonlyUser) || readonlyUser === 'default')
      throw new ConfigError(
        'CHATSTREAM_CLICKHOUSE_READONLY_USER',
        `"${readonlyUser}" cannot be the local stack's read-only user`,
        'use letters, digits and "_" (not starting with a digit), other than "default"',
      );
    const users = join(this.dir, 'users.xml');
    writeFileSync(users, usersConfig(this.password(), { user: readonlyUser, password: readonlyPassword }), {
      mode: 0o600,
    });
    chmodSync(users, 0o600); // the mode above applies only to a new file: passwords are in it
  }

  /** The `default` user's password: the configured one, or in secure mode a generated one. */
  private password(): string {
    return secureStack(this.config)?.clickhouse.password ?? this.config.clickhouse.password;
  }

  async start(log: Logger): Promise<void> {
    const { command, args } = this.binary(log);
    await startDetached({
      command,
      args: [...args, `--config-file=${this.configFile}`],
      logFile: join(this.config.stack.home, 'logs', 'clickhouse.stdout.log'),
      pidFile: this.pidFile,
      marker: this.configFile,
      cwd: this.dir,
    });
  }

  /** Runs a query over HTTP on the local server; used only for readiness and status. */
  private async query(sql: string, timeoutMs: number): Promise<string> {
    const response = await fetch(`${this.endpoint}/?query=${encodeURIComponent(sql)}`, {
      headers: { 'X-ClickHouse-User': 'default', 'X-ClickHouse-Key': this.password() },
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await response.text()).trim();
    if (!response.ok) throw new Error(`HTTP ${response.status}: ${body.slice(0, 300)}`);
    return body;
  }

  waitReady(deadline: number): Promise<void> {
    return waitUntilReady(
      this,
      deadline,
      async () => (await this.query('SELECT 1', 1000)) === '1',
      this.errorLog,
    );
  }

  async status(): Promise<ServiceStatus> {
    const record = readPidFile(this.pidFile);
    const base = { name: NAME, endpoint: this.endpoint, logFile: this.logFile };
    if (!isRunning(record)) return { ...base, state: 'stopped' };
    try {
      const version = await this.query('SELECT version()', 3000);
      return { ...base, state: 'running', pid: record.pid, version: `ClickHouse ${version}` };
    } catch (error) {
      return { ...base, state: 'unhealthy', pid: record.pid, detail: (error as Error).message };
    }
  }
}
