/**
 * chatstream's schema registry as a local-stack service: `chatstream registry` run detached,
 * storing its schemas in the stack's Kafka (over its loopback PLAINTEXT listener). In secure
 * mode it serves HTTPS with the stack's certificate and requires basic auth.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import type { Logger } from '../core/log.ts';
import { type CoreConfig, PROJECT_ROOT } from '../core/settings.ts';
import { isRunning, readPidFile, startDetached } from './process.ts';
import { type SecureStack, secureStack } from './secure.ts';
import { type PortClaim, type Service, type ServiceStatus, waitUntilReady } from './service.ts';

const NAME = 'registry';

export class RegistryService implements Service {
  readonly name = NAME;
  readonly endpoint: string;
  readonly logFile: string;
  readonly pidFile: string;
  private readonly config: CoreConfig;
  private readonly secure: SecureStack | undefined;

  constructor(config: CoreConfig) {
    this.config = config;
    this.secure = secureStack(config);
    this.endpoint = `${this.secure ? 'https' : 'http'}://127.0.0.1:${config.registry.port}`;
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
        CHATSTREAM_KAFKA_SECURITY_PROTOCOL: 'PLAINTEXT',
        CHATSTREAM_REGISTRY_PORT: String(this.config.registry.port),
        CHATSTREAM_REGISTRY_HOST: '127.0.0.1',
        CHATSTREAM_LOG_FORMAT: 'json',
        ...this.secureEnv(),
      },
    });
  }

  /** Secure mode: HTTPS with the stack's certificate, basic auth with the stack's login. */
  private secureEnv(): Record<string, string> {
    if (!this.secure) return {};
    const { certificates, registry } = this.secure;
    return {
      CHATSTREAM_REGISTRY_TLS_CERTIFICATE_LOCATION: certificates.serverCert,
      CHATSTREAM_REGISTRY_TLS_KEY_LOCATION: certificates.serverKey,
      CHATSTREAM_REGISTRY_USER: registry.user,
      ...(registry.passwordFile
        ? { CHATSTREAM_REGISTRY_PASSWORD: '', CHATSTREAM_REGISTRY_PASSWORD_FILE: registry.passwordFile }
        : { CHATSTREAM_REGISTRY_PASSWORD: registry.password }),
    };
  }

  private async get(path: string, timeoutMs: number): Promise<unknown> {
    const { user, password } = this.secure?.registry ?? this.config.registry;
    const headers: Record<string, string> = user
      ? { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` }
      : {};
    const ca = this.secure && readFileSync(this.secure.certificates.ca, 'utf8');
    const dispatcher = ca ? new Agent({ connect: { ca } }) : undefined;
    try {
      const response = await request(`${this.endpoint}${path}`, {
        headers,
        signal: AbortSignal.timeout(timeoutMs),
        ...(dispatcher ? { dispatcher } : {}),
      });
      const body = await response.body.json();
      if (response.statusCode !== 200)
        throw new Error(`HTTP ${response.statusCode}: ${JSON.stringify(body)}`);
      return body;
    } finally {
      await dispatcher?.close();
    }
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
