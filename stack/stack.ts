/**
 * The local stack: the services chatstream runs on when there is no Docker. `up` is
 * idempotent (running services are left alone), `down` stops exactly the processes the pid
 * files name, data survives both, and `reset` wipes it. Secure mode (stack/secure.ts) adds TLS
 * and logins to the same services.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, ServiceError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { CoreConfig } from '../core/settings.ts';
import { ClickHouseService } from './clickhouse.ts';
import { KafkaService } from './kafka.ts';
import { PostgresService } from './postgres.ts';
import { isPortFree, isRunning, readPidFile, stopProcess } from './process.ts';
import { RegistryService } from './registry.ts';
import { markedSecure, markSecure, unmarkSecure } from './secure.ts';
import type { Service, ServiceStatus } from './service.ts';

/** How long a service may take to stop after SIGTERM before it is killed. */
const STOP_GRACE_MS = 30_000;

/** Every service the stack knows, in start order (stopped in reverse). */
function allServices(config: CoreConfig): Service[] {
  return [
    new KafkaService(config),
    new ClickHouseService(config),
    new RegistryService(config),
    new PostgresService(config),
  ];
}

/** The services `up` starts: PostgreSQL only when a Postgres sink is configured. */
export function stackServices(config: CoreConfig): Service[] {
  return allServices(config).filter((s) => s.name !== 'postgres' || config.postgres.enabled);
}

function select(services: Service[], names: string[] | undefined): Service[] {
  if (!names || names.length === 0) return services;
  return services.filter((s) => names.includes(s.name));
}

async function checkPorts(services: Service[]): Promise<void> {
  const seen = new Map<number, string>();
  for (const service of services) {
    for (const claim of service.ports()) {
      const other = seen.get(claim.port);
      if (other) {
        throw new ServiceError(
          service.name,
          `port ${claim.port} (${claim.setting}) is also configured for ${other}`,
          {
            code: 'PORT_CONFLICT',
            hint: 'give every service its own port',
          },
        );
      }
      seen.set(claim.port, claim.setting);
      if (!(await isPortFree(claim.port))) {
        throw new ServiceError(
          service.name,
          `port ${claim.port} (${claim.setting}) is already in use by another process`,
          {
            code: 'PORT_IN_USE',
            hint: `stop whatever listens on ${claim.port} (ss -ltnp 'sport = :${claim.port}') or choose another port with ${claim.setting}`,
          },
        );
      }
    }
  }
}

export class Stack {
  readonly services: Service[];
  /** Names of every service the stack knows (configured or not). */
  readonly known: string[];

  private readonly config: CoreConfig;
  private readonly log: Logger;

  constructor(config: CoreConfig, log: Logger) {
    this.config = config;
    this.log = log;
    this.services = stackServices(config);
    this.known = allServices(config).map((s) => s.name);
  }

  /** Starts every service that is not running and waits until all answer. */
  async up(names?: string[]): Promise<ServiceStatus[]> {
    const wanted = select(this.services, names);
    const toStart = wanted.filter((s) => !isRunning(readPidFile(s.pidFile)));
    await checkPorts(toStart);
    const firstSecure = this.config.stack.secure && !markedSecure(this.config);
    if (firstSecure) {
      const running = wanted.filter((s) => !toStart.includes(s)).map((s) => s.name);
      if (running.length > 0)
        throw new ConfigError(
          'CHATSTREAM_STACK_SECURE',
          `${running.join(', ')} already run${running.length === 1 ? 's' : ''} in plaintext: secure mode needs a fresh start`,
          'stop the stack first (chatstream stack down), then chatstream stack up --secure',
        );
      markSecure(this.config);
    }
    try {
      for (const service of toStart) await service.prepare(this.log.child(service.name));
    } catch (error) {
      if (firstSecure) unmarkSecure(this.config); // the stack stays as it was: plaintext
      throw error;
    }
    for (const service of wanted) {
      if (toStart.includes(service)) {
        const started = Date.now();
        this.log.info(`starting ${service.name}`, { endpoint: service.endpoint, log: service.logFile });
        await service.start(this.log.child(service.name));
        await service.waitReady(started + this.config.stack.startTimeout * 1000);
        this.log.info(`${service.name} is ready`, { ms: Date.now() - started });
      } else {
        this.log.info(`${service.name} is already running`);
        await service.waitReady(Date.now() + this.config.stack.startTimeout * 1000);
      }
    }
    return this.status(names);
  }

  /** Stops the services (reverse order). Returns the names of those that were running. */
  async down(names?: string[]): Promise<string[]> {
    const stopped: string[] = [];
    // Also whatever runs but is no longer configured (e.g. PostgreSQL after it was disabled).
    const candidates = allServices(this.config).filter(
      (s) => this.services.some((c) => c.name === s.name) || isRunning(readPidFile(s.pidFile)),
    );
    for (const service of [...select(candidates, names)].reverse()) {
      if (await stopProcess(service.pidFile, STOP_GRACE_MS, service.stopSignal)) {
        this.log.info(`stopped ${service.name}`);
        stopped.push(service.name);
      }
    }
    return stopped;
  }

  async status(names?: string[]): Promise<ServiceStatus[]> {
    return Promise.all(select(this.services, names).map((s) => s.status()));
  }

  /** Stops everything and deletes all data, configs and logs (the download cache is kept). */
  async reset(): Promise<void> {
    await this.down();
    for (const folder of ['kafka', 'clickhouse', 'postgres', 'logs', 'run', 'tls']) {
      rmSync(join(this.config.stack.home, folder), { recursive: true, force: true });
    }
    this.log.info('stack data removed', { home: this.config.stack.home });
  }
}
