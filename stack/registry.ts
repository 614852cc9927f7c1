/**
 * chatstream's schema registry as a local-stack service: `chatstream registry` run detached,
 * storing its schemas in the stack's Kafka.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/log.ts';
import { type CoreConfig, PROJECT_ROOT } from '../core/settings.ts';
import { isRunning, readPidFile, startDetached } from './process.ts';
import { type PortClaim, type Service, type ServiceStatus, waitUntilReady } from './service.ts';

const NAME = 'registry';

export class RegistryService implements Service {
  readonly name = NAME;
  readonly endpoint: string;
  readonly logFile: string;
  readonly pidFile: string;
  private readonly config: CoreConfig;

  constructor(config: CoreConfig) {
    this.config = config;
    this.endpoint = `http://127.0.0.1:${config.registry.port}`;
    this.logFile = join(config.stack.home, 'logs', 'registry.log');
    this.pidFile = join(config.stack.home, 'run', 'registry.pid');
  }

  ports(): PortClaim[] {
    return [{ port: this.config.registry.port, setting: 'CHATSTREAM_REGISTRY_PORT' }];
  }

  async prepare(_log: Logger): Promise<void> {}

  async start(_log: Logger): Promise<void> {
    const marker = `--stack-home=${this.config.stack.home}`;
    await startDetached({
      command: process.execPath,
      args: [join(PROJECT_ROOT, 'cli', 'main.ts'), 'registry', marker],
      logFile: this.logFile,
      pidFile: this.pidFile,
      marker,
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        CHATSTREAM_KAFKA_BROKERS: `127.0.0.1:${this.config.kafka.port}`,
        CHATSTREAM_REGISTRY_PORT: String(this.config.registry.port),
        CHATSTREAM_REGISTRY_HOST: '127.0.0.1',
        CHATSTREAM_LOG_FORMAT: 'json',
      },
    });
  }

  private async get(path: string, timeoutMs: number): Promise<unknown> {
    const { user, password } = this.config.registry;
    const headers: Record<string, string> = user
      ? { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` }
      : {};
    const response = await fetch(`${this.endpoint}${path}`, {
      headers,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(`HTTP ${response.status}: ${JSON.stringify(body)}`);
    return body;
  }

  waitReady(deadline: number): Promise<void> {
    return waitUntilReady(this, deadline, () => this.get('/subjects', 1000));
  }

  async status(): Promise<ServiceStatus> {
    const record = readPidFile(this.pidFile);
    const version = (
      JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }
    ).version;
    const base = {
      name: NAME,
      endpoint: this.endpoint,
      logFile: this.logFile,
      version: `chatstream registry ${version}`,
    };
    if (!isRunning(record)) return { ...base, state: 'stopped' };
    try {
      const subjects = (await this.get('/subjects', 3000)) as string[];
      return {
        ...base,
        state: 'running',
        pid: record.pid,
        detail: `${subjects.length} subject(s), topic ${this.config.registry.topic}`,
      };
    } catch (error) {
      return { ...base, state: 'unhealthy', pid: record.pid, detail: (error as Error).message };
    }
  }
}
