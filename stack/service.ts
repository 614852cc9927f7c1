/**
 * What every local-stack service provides. `stack.ts` drives the lifecycle; each service
 * file (kafka.ts, clickhouse.ts, …) knows only how to prepare, start and probe itself.
 */
import type { Logger } from '../core/log.ts';

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
