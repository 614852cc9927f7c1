/**
 * One place for chatstream's error types.
 *
 * Every error a user can cause or meet carries:
 *  - `code`: a stable UPPER_SNAKE identifier (logs, JSON bodies, tests match on it);
 *  - `exitCode`: what the CLI exits with (see EXIT below, documented in the README);
 *  - `retriable`: whether waiting and trying again can help (decided here, never by string checks);
 *  - `hint`: what to do about it, shown under the message.
 * Anything that is not a ChatstreamError is a bug: the CLI prints its stack and exits 1.
 */

/** Exit codes that scripts may rely on. */
export const EXIT = {
  ok: 0,
  /** An unexpected failure: a bug. The stack trace is printed. */
  internal: 1,
  /** The command line is wrong: unknown command, flag or argument. */
  usage: 2,
  /** A setting (environment variable or config file key) is invalid. */
  config: 3,
  /** Something the command needs is not installed (Java, Maven, ClickHouse). */
  missing: 4,
  /** A service did not start, is not healthy, or a port it needs is taken. */
  service: 5,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export interface ErrorDetails {
  code: string;
  exitCode?: ExitCode;
  retriable?: boolean;
  hint?: string;
  cause?: unknown;
}

export class ChatstreamError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;
  readonly retriable: boolean;
  readonly hint: string | undefined;

  constructor(message: string, details: ErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = details.code;
    this.exitCode = details.exitCode ?? EXIT.internal;
    this.retriable = details.retriable ?? false;
    this.hint = details.hint;
  }
}

/** The command line is wrong. */
export class UsageError extends ChatstreamError {
  constructor(message: string, hint?: string) {
    super(message, { code: 'USAGE', exitCode: EXIT.usage, hint });
  }
}

/** A setting is invalid; `setting` names it as the user wrote it (env var or file key). */
export class ConfigError extends ChatstreamError {
  readonly setting: string;
  constructor(setting: string, message: string, hint?: string) {
    super(`${setting}: ${message}`, { code: 'CONFIG_INVALID', exitCode: EXIT.config, hint });
    this.setting = setting;
  }
}

/** A program chatstream needs is not on this machine. */
export class MissingDependencyError extends ChatstreamError {
  readonly dependency: string;
  constructor(dependency: string, message: string, hint: string) {
    super(message, { code: 'DEPENDENCY_MISSING', exitCode: EXIT.missing, hint });
    this.dependency = dependency;
  }
}

/** A local-stack service failed: did not start, died, timed out, or its port is taken. */
export class ServiceError extends ChatstreamError {
  readonly service: string;
  readonly logFile: string | undefined;
  constructor(
    service: string,
    message: string,
    details: { code: string; hint?: string; logFile?: string; retriable?: boolean; cause?: unknown },
  ) {
    super(`${service}: ${message}`, { exitCode: EXIT.service, ...details });
    this.service = service;
    this.logFile = details.logFile;
  }
}

export function isChatstreamError(error: unknown): error is ChatstreamError {
  return error instanceof ChatstreamError;
}

/** Text for a human: message, hint, and the cause chain (without stacks). */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const lines = [error.message];
  if (isChatstreamError(error) && error.hint) lines.push(`hint: ${error.hint}`);
  let cause = error.cause;
  while (cause instanceof Error) {
    lines.push(`caused by: ${cause.message}`);
    cause = cause.cause;
  }
  return lines.join('\n');
}
