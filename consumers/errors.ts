/**
 * What can go wrong while sinking, as types the runner decides on (never string checks):
 *  - RetriableError: the destination is unavailable or overloaded → back off and try again;
 *  - PoisonError: this record can never be processed (undecodable, unknown schema, bad data)
 *    → dead letter with the reason, and go on;
 *  - anything else is a bug or a misconfiguration → stop, committing nothing more.
 */
export class RetriableError extends Error {
  readonly retriable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RetriableError';
  }
}

export class PoisonError extends Error {
  /** Short machine-readable kind for headers and metrics: undecodable, unknown_schema, bad_data. */
  readonly kind: string;
  constructor(kind: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PoisonError';
    this.kind = kind;
  }
}

export function isRetriable(error: unknown): error is RetriableError {
  return error instanceof RetriableError;
}

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

/** True for connection-level failures (the peer is down or unreachable). */
export function isNetworkError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    const message = (current as { message?: unknown }).message;
    if (
      typeof message === 'string' &&
      /socket hang up|ECONNREFUSED|ECONNRESET|other side closed|Timeout error/i.test(message)
    )
      return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
