/**
 * One place for chatstream's error types.
 *
 * Every error a user can cause or meet carries:
 *  - `code`: a stable UPPER_SNAKE identifier (logs, JSON bodies, tests match on it);
 *  - `exitCode`: what the CLI exits with (see EXIT below, documented in the README);
 *  - `retriable`: whether waiting and trying again can help (decided here, never by string checks);
 *  - `hint`: what to do about it, shown under the message.
 * Anything that is not a ChatstreamError is a bug: the CLI prints its stack and exits 1.
 *
 * Every write path decides each failure one of three ways, from these types alone:
 *  - retry: `isRetriable(error)` — a RetriableError, any ChatstreamError with `retriable`, a
 *    kafkajs error whose own `retriable` flag is set, or a network failure → back off, try again;
 *  - dead letter: a PoisonError — this record can never be written; it goes to the dead-letter
 *    topic with its `kind` and the reason, and the stream goes on;
 *  - stop: a FatalError (exit non-zero with a message naming the setting or service), and
 *    anything else, which is a bug.
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
  /** Stopped by SIGINT/SIGTERM before the work was complete (e.g. a pass cut short); run it again. */
  interrupted: 130,
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

/** Waiting and trying again can help: the destination or a service is down or overloaded. */
export class RetriableError extends ChatstreamError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'RETRIABLE', exitCode: EXIT.service, retriable: true, cause: options.cause });
  }
}

/** This record can never be processed; it goes to the dead-letter topic, and the stream goes on. */
export class PoisonError extends ChatstreamError {
  /** Short machine-readable kind for headers and metrics: undecodable, unknown_schema, bad_data, … */
  readonly kind: string;
  constructor(kind: string, message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'POISON', cause: options.cause });
    this.kind = kind;
  }
}

/** Stop the process with a clear message (naming the setting or service to fix). */
export class FatalError extends ChatstreamError {
  constructor(
    message: string,
    details: { code: string; exitCode: ExitCode; hint?: string; cause?: unknown },
  ) {
    super(message, { ...details, retriable: false });
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

/** How far down `.cause` the predicates below look. */
const CAUSE_DEPTH = 5;

const causeOf = (error: unknown): unknown => (error as { cause?: unknown }).cause;

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function isNetworkFailure(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  const message = (error as { message?: unknown }).message;
  return (
    typeof message === 'string' &&
    /socket hang up|ECONNREFUSED|ECONNRESET|other side closed|Timeout error/i.test(message)
  );
}

/** True for connection-level failures (the peer is down or unreachable), here or in a cause. */
export function isNetworkError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current && depth < CAUSE_DEPTH; depth++) {
    if (isNetworkFailure(current)) return true;
    current = causeOf(current);
  }
  return false;
}

/** kafkajs marks each of its errors retriable or not (KafkaJSError#retriable). */
function isRetriableKafkaError(error: unknown): boolean {
  return (
    error instanceof Error &&
    error.name.startsWith('KafkaJS') &&
    (error as { retriable?: unknown }).retriable === true
  );
}

/**
 * Whether waiting and trying again can help. The first ChatstreamError in the cause chain
 * decides; otherwise a retriable kafkajs error or a network failure anywhere in it does.
 */
export function isRetriable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current && depth < CAUSE_DEPTH; depth++) {
    if (current instanceof ChatstreamError) return current.retriable;
    if (isRetriableKafkaError(current) || isNetworkFailure(current)) return true;
    current = causeOf(current);
  }
  return false;
}
