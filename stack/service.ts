/**
 * What every local-stack service provides. `stack.ts` drives the lifecycle; each service
 * file (kafka.ts, clickhouse.ts, …) knows only how to prepare, start and probe itself.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ServiceError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { isRunning, readPidFile, tail } from './process.ts';

export interface PortClaim {
  port: number;
  /** The environment variable that sets it, for messages. */
  setting: string;
}

export interface ServiceStatus {
  name: string;
  /** running: process alive and answering; unhealthy: alive but not answering; stopped: no process. */
  state: 'running' | 'unhealthy' | 'stopped';
  pid?: number;
  version?: string;
  endpoint: string;
  detail?: string;
  logFile: string;
}

export interface Service {
  readonly name: string;
  readonly endpoint: string;
  readonly logFile: string;
  readonly pidFile: string;
  /** The signal that stops it cleanly (default SIGTERM). */
  readonly stopSignal?: NodeJS.Signals;
  ports(): PortClaim[];
  /** Checks prerequisites, fetches or installs what is missing, writes config, formats storage. */
  prepare(log: Logger): Promise<void>;
  /** Starts the process (detached); returns at once. */
  start(log: Logger): Promise<void>;
  /** Resolves once the service answers; throws a ServiceError when it dies or the deadline passes. */
  waitReady(deadline: number): Promise<void>;
  status(): Promise<ServiceStatus>;
}

/**
 * Waits until a started service answers `probe` (resolving, and not to false). Fails fast,
 * naming the log file and showing its end, when the process dies; fails with the last probe
 * error when the deadline passes.
 */
export async function waitUntilReady(
  service: Pick<Service, 'name' | 'pidFile' | 'logFile'>,
  deadline: number,
  probe: () => Promise<unknown>,
  failureLog = service.logFile,
): Promise<void> {
  const seconds = Math.max(1, Math.round((deadline - Date.now()) / 1000));
  let last: unknown;
  while (Date.now() < deadline) {
    if (!isRunning(readPidFile(service.pidFile))) {
      throw new ServiceError(service.name, 'the process exited during start-up', {
        code: 'SERVICE_EXITED',
        logFile: failureLog,
        hint: `see ${failureLog}; its last lines:\n${tail(failureLog, 12)}`,
      });
    }
    try {
      if ((await probe()) !== false) return;
    } catch (error) {
      last = error;
    }
    await sleep(250);
  }
  throw new ServiceError(service.name, `not ready within ${seconds}s`, {
    code: 'SERVICE_TIMEOUT',
    logFile: failureLog,
    cause: last,
    hint: `see ${failureLog}; raise CHATSTREAM_STACK_START_TIMEOUT on a slow machine`,
  });
}
