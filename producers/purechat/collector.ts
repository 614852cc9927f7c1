/**
 * The collector's event endpoint as routes for producers/http (protocol v1, docs/PURECHAT.md):
 *
 *   POST /v1/events → origin (403) → rate (429) → content type (415) → JSON (400)
 *                   → events (400 / 403 / 413, naming each problem) → enrich → write,
 *                     resolved once Kafka acknowledged → 200 {"accepted", "duplicates"}
 *   OPTIONS /v1/events → the CORS pre-flight
 *
 * A request is all or nothing. A refused body (from the content type on) goes to the bad-rows
 * topic with the reason; Kafka not acknowledging answers 503 with Retry-After.
 */
import type { Logger } from '../../core/log.ts';
import { HttpError } from '../http/errors.ts';
import { parseJsonBody } from '../http/json.ts';
import { RecentKeys } from '../http/recent-keys.ts';
import type { HttpRequest, HttpResponse, Route } from '../http/router.ts';
import type { RefusedInput, SourceRecord } from '../source.ts';
import { type CollectedEvent, collectEvents, type EventRules } from './events.ts';
import type { PiiPolicy } from './pii.ts';
import { ClientRateLimit } from './rate-limit.ts';
import { eventRecords, truncateIp } from './records.ts';

export const EVENTS_PATH = '/v1/events';
export const RETRY_AFTER_SECONDS = 5;
/** Largest bad row kept (bytes); the rest of a larger body is cut. */
const BAD_ROW_MAX_BYTES = 512 * 1024;

export interface CollectorCounters {
  request(status: number): void;
  events(outcome: 'accepted' | 'duplicate', n: number): void;
  badRow(stored: boolean): void;
}

export interface CollectorOptions {
  rules: EventRules;
  pii: PiiPolicy;
  /** Allowed origins; `*` allows any; empty: the collector's own origin only. */
  allowedOrigins: readonly string[];
  rateLimitPerMinute: number;
  /** Take the client address from X-Forwarded-For. */
  trustProxy: boolean;
  badRowsTopic: string;
  /** Resolves once Kafka acknowledged; an error with `retriable: true` means "try later". */
  write: (page: { records: SourceRecord[]; refused?: RefusedInput[] }) => Promise<void>;
  counters: CollectorCounters;
  log: Logger;
}

function header(req: HttpRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Whether a browser page at `origin` may send; requests without Origin are not from a page. */
export function originAllowed(
  origin: string | undefined,
  allowed: readonly string[],
  host?: string,
): boolean {
  if (origin === undefined) return true;
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  if (allowed.length > 0 || !host) return false;
  return origin === `http://${host}` || origin === `https://${host}`;
}

/** Lets the page read the answer, error bodies and Retry-After included. */
function corsHeaders(origin: string | undefined): Record<string, string> {
  return origin
    ? {
        'Access-Control-Allow-Origin': origin,
        'Access-Control-Expose-Headers': 'Retry-After',
        Vary: 'Origin',
      }
    : {};
}

function withHeaders(error: HttpError, headers: Record<string, string>): HttpError {
  return new HttpError(error.status, error.code, error.message, error.details, {
    ...error.headers,
    ...headers,
  });
}

function checkContentType(req: HttpRequest): void {
  const type = (header(req, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (!type || type === 'application/json' || type === 'text/plain') return;
  throw new HttpError(
    415,
    'UNSUPPORTED_MEDIA_TYPE',
    `Content-Type ${type} is not accepted; send application/json or text/plain`,
    {
      accepted: ['application/json', 'text/plain'],
    },
  );
}

export function clientAddress(req: HttpRequest, trustProxy: boolean): string {
  const forwarded = trustProxy ? header(req, 'x-forwarded-for')?.split(',')[0]?.trim() : undefined;
  return forwarded || req.remoteAddress;
}

export function createCollectorRoutes(options: CollectorOptions): Route[] {
  const { rules, pii, log, counters } = options;
  const limit = new ClientRateLimit(options.rateLimitPerMinute);
  const recent = new RecentKeys(50_000);

  const badRow = async (req: HttpRequest, error: HttpError, client: string): Promise<void> => {
    const refused: RefusedInput = {
      topic: options.badRowsTopic,
      key: null,
      value: req.rawBody.subarray(0, BAD_ROW_MAX_BYTES),
      kind: error.code,
      reason: `${error.status} ${error.code}: ${error.message}${error.details === undefined ? '' : ` ${JSON.stringify(error.details)}`}`,
      headers: {
        'dlq.client': truncateIp(client) ?? '',
        'dlq.user_agent': (header(req, 'user-agent') ?? '').slice(0, 512),
        ...(req.rawBody.length > BAD_ROW_MAX_BYTES
          ? { 'dlq.truncated_from': String(req.rawBody.length) }
          : {}),
      },
    };
    try {
      await options.write({ records: [], refused: [refused] });
      counters.badRow(true);
    } catch (writeError) {
      // The answer stays the 4xx; the bad row itself could not be kept (Kafka down).
      counters.badRow(false);
      log.warn('bad row not stored', { reason: error.code, error: (writeError as Error).message });
    }
  };

  const store = async (events: CollectedEvent[], req: HttpRequest, client: string) => {
    const fresh = events.filter((e) => !recent.has(e.id));
    if (fresh.length > 0) {
      const enrichment = {
        receivedMs: Date.now(),
        userAgent: header(req, 'user-agent') ?? null,
        clientIp: truncateIp(client),
      };
      try {
        await options.write({ records: eventRecords(fresh, enrichment, pii) });
      } catch (error) {
        if ((error as { retriable?: unknown })?.retriable === true)
          throw new HttpError(
            503,
            'KAFKA_UNAVAILABLE',
            'Kafka is unavailable; send the same events again later',
            undefined,
            {
              'Retry-After': String(RETRY_AFTER_SECONDS),
            },
          );
        log.error('events not stored', { error });
        throw new HttpError(500, 'WRITE_FAILED', 'The events could not be stored');
      }
      for (const e of fresh) recent.add(e.id);
    }
    counters.events('accepted', fresh.length);
    counters.events('duplicate', events.length - fresh.length);
    return { accepted: fresh.length, duplicates: events.length - fresh.length };
  };

  const post = async (req: HttpRequest): Promise<HttpResponse> => {
    const origin = header(req, 'origin');
    const cors = corsHeaders(origin);
    const client = clientAddress(req, options.trustProxy);
    try {
      if (!originAllowed(origin, options.allowedOrigins, header(req, 'host')))
        throw new HttpError(
          403,
          'ORIGIN_NOT_ALLOWED',
          `Origin ${origin} may not send events (PURECHAT_ALLOWED_ORIGINS)`,
          {
            origin,
          },
        );
      const rate = limit.take(client);
      if (!rate.allowed)
        throw new HttpError(429, 'RATE_LIMITED', 'Too many requests from this client', undefined, {
          'Retry-After': String(rate.retryAfterSeconds),
        });
      let events: CollectedEvent[];
      try {
        checkContentType(req);
        events = collectEvents(parseJsonBody(req.rawBody), req.rawBody.length, rules);
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        await badRow(req, error, client);
        throw error;
      }
      const result = await store(events, req, client);
      counters.request(200);
      return { status: 200, body: result, headers: cors };
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      counters.request(error.status);
      if (error.status !== 503)
        log.warn('events refused', {
          status: error.status,
          reason: error.code,
          details: error.details,
          client: truncateIp(client),
          origin,
        });
      // The browser may read the answer only with the CORS header, errors included — a
      // refused origin too, so its snippet sees a 403 and drops the events instead of
      // retrying what looks like a network error forever. The body holds nothing else.
      throw withHeaders(error, cors);
    }
  };

  const preflight = async (req: HttpRequest): Promise<HttpResponse> => {
    const origin = header(req, 'origin');
    if (!originAllowed(origin, options.allowedOrigins, header(req, 'host')))
      throw new HttpError(
        403,
        'ORIGIN_NOT_ALLOWED',
        `Origin ${origin} may not send events (PURECHAT_ALLOWED_ORIGINS)`,
      );
    return {
      status: 204,
      headers: {
        ...corsHeaders(origin),
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': 'Content-Type',
        'Access-Control-Max-Age': '600',
      },
    };
  };

  return [
    { method: 'POST', path: EVENTS_PATH, handler: post },
    { method: 'OPTIONS', path: EVENTS_PATH, handler: preflight },
  ];
}
