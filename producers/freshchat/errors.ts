/**
 * What a Freshchat answer means, as a table (STYLE: codes map to decisions in one place):
 *   2xx → data; 404 → "not there" (the caller decides: skip one id, or the account lacks the
 *   endpoint); 429 → wait Retry-After and try again (does not count as a retry); 5xx, timeouts
 *   and connection errors → bounded retries with back-off; 401/403 → stop (exit 3);
 *   other 4xx → a bug in our request or an unconfirmed API detail: stop with the body.
 * Two answers are read with their body: a 400 `WRONG_PAGE` ("the page does not exist in the
 * search result") is the end of a list, like 404; and a 2xx whose body is not JSON data (null,
 * empty, an HTML page, text) or a 202 to a GET ("still being processed") is retried like a 5xx.
 */
import { EXIT, FatalError, RetriableError } from '../../core/errors.ts';
import { backoffMs } from '../../core/retry.ts';

export type Decision = 'ok' | 'not_found' | 'rate_limited' | 'retry' | 'auth' | 'bad_request';

export function decide(status: number, body?: unknown, method = 'GET'): Decision {
  if (status >= 200 && status < 300) {
    if (method === 'GET' && status === 202) return 'retry';
    // null, empty, an HTML page or text: a proxy or the API misbehaving, not data. (A JSON array
    // passes: its shape is the caller's to judge, e.g. on endpoints whose shape is unconfirmed.)
    return body !== null && typeof body === 'object' ? 'ok' : 'retry';
  }
  if (status === 404) return 'not_found';
  if (status === 400 && isJsonObject(body) && body.status === 'WRONG_PAGE') return 'not_found';
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 403) return 'auth';
  if (status === 408 || status >= 500) return 'retry';
  return 'bad_request';
}

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The longest wait a Retry-After may ask for; a longer one is cut to this (and logged). */
export const RETRY_AFTER_CAP_MS = 10 * 60_000;

/** Retry-After in milliseconds (seconds or an HTTP date), else undefined. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * How long to wait after a 429: its Retry-After, cut to RETRY_AFTER_CAP_MS (`askedMs` is then
 * what was asked, for the log), else back-off with jitter by the attempt.
 */
export function rateLimitWait(
  header: string | string[] | undefined,
  attempt: number,
  now = Date.now(),
): { waitMs: number; askedMs?: number } {
  const asked = retryAfterMs(header, now);
  if (asked === undefined)
    return { waitMs: backoffMs(Math.min(attempt, 6), { initialMs: 1000, maxMs: 60_000 }) };
  return asked > RETRY_AFTER_CAP_MS ? { waitMs: RETRY_AFTER_CAP_MS, askedMs: asked } : { waitMs: asked };
}

/** A short description of a Freshchat error body ({code, status, message}). */
export function describeBody(body: unknown): string {
  if (body && typeof body === 'object') {
    const { status, message } = body as { status?: unknown; message?: unknown };
    const parts = [status, message].filter((p) => typeof p === 'string' && p !== '');
    if (parts.length > 0) return parts.join(': ');
  }
  return typeof body === 'string' ? body.slice(0, 200) : '';
}

export function authError(status: number, endpoint: string, body: unknown): FatalError {
  return new FatalError(`Freshchat refused ${endpoint} with ${status} ${describeBody(body)}`.trim(), {
    code: 'FRESHCHAT_AUTH',
    exitCode: EXIT.config,
    hint:
      status === 401
        ? 'check FRESHCHAT_API_KEY (Admin > API Tokens) and that FRESHCHAT_BASE_URL / FRESHCHAT_ACCOUNT is your account'
        : 'the API token lacks access to this endpoint: check its role, or leave the resource out with FRESHCHAT_RESOURCES',
  });
}

/** A 4xx other than 401/403/404/429: fatal on a list; a request for one entity skips that entity. */
export class FreshchatBadRequestError extends FatalError {}

export function badRequestError(status: number, endpoint: string, body: unknown): FreshchatBadRequestError {
  return new FreshchatBadRequestError(`Freshchat answered ${status} to ${endpoint}: ${describeBody(body)}`, {
    code: 'FRESHCHAT_BAD_REQUEST',
    exitCode: EXIT.config,
    hint: 'a page size or path setting may not fit this account: see FRESHCHAT_PAGE_SIZE, FRESHCHAT_MESSAGES_PAGE_SIZE and the *_PATH settings',
  });
}

export class FreshchatUnavailableError extends RetriableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FreshchatUnavailableError';
  }
}
