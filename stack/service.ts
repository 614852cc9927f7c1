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

export interface ReadinessCheck {
  name: string;
  pidFile: string;
  /** The log whose end is shown when the process dies. */
  logFile: string;
  deadline: number;
  timeoutSeconds: number;
  /** Resolves when the service answers; throws (or resolves false) while it does not yet. */
  probe: () => Promise<unknown>;
  intervalMs?: number;
}

/**
 * Waits until a started service answers. Fails fast, naming the log file and showing its end,
 * when the process dies; fails with the last probe error when the deadline passes.
 */
export async function waitUntilReady(check: ReadinessCheck): Promise<void> {
  let last: unknown;
  while (Date.now() < check.deadline) {
    if (!isRunning(readPidFile(check.pidFile))) {
      throw new ServiceError(check.name, 'the process exited during start-up', {
        code: 'SERVICE_EXITED',
        logFile: check.logFile,
        hint: `see ${check.logFile}; its last lines:\n${tail(check.logFile, 12)}`,
      });
    }
    try {
      if ((await check.probe()) !== false) return;
    } catch (error) {
      last = error;
    }
    await sleep(check.intervalMs ?? 250);
  }
  throw new ServiceError(check.name, `not ready within ${check.timeoutSeconds}s`, {
    code: 'SERVICE_TIMEOUT',
    logFile: check.logFile,
    cause: last,
    hint: `see ${check.logFile}; raise CHATSTREAM_STACK_START_TIMEOUT on a slow machine`,
  });
}
