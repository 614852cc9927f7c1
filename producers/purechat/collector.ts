/**
 * The collector's event endpoint as routes for producers/http (protocol v1, docs/PURECHAT.md):
 *
 *   POST /v1/events → origin (403) → rate (429) → content type (415) → JSON (400)
 *                   → events (400 / 403 / 413, naming each problem) → enrich → write,
 *                     resolved once Kafka acknowledged → 200 {"accepted", "duplicates"}
 *   OPTIONS /v1/events → the CORS pre-flight
 *
 * A request is all or nothing. A refused body (from the content type on) goes to the bad-rows
 * topic with the reason (bad-rows.ts); Kafka not acknowledging answers 503 with Retry-After.
 */
import type { Logger } from '../../core/log.ts';
import { HttpError } from '../http/errors.ts';
import { parseJsonBody } from '../http/json.ts';
import { RecentKeys } from '../http/recent-keys.ts';
import type { HttpRequest, HttpResponse, Route } from '../http/router.ts';
import type { RefusedInput, SourceRecord } from '../source.ts';
import { clientAddress, rateKey, truncateIp } from './address.ts';
import { BadRows } from './bad-rows.ts';
import { type CollectedEvent, collectEvents, type EventRules } from './events.ts';
import { GroupWriter } from './group-writer.ts';
import type { PiiPolicy } from './pii.ts';
import { ClientRateLimit } from './rate-limit.ts';
import { eventRecords } from './records.ts';

export const EVENTS_PATH = '/v1/events';
const ALLOWED = { allowed: true, retryAfterSeconds: 0 } as const;
export const RETRY_AFTER_SECONDS = 5;

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
  /** The collector's public origin (PURECHAT_PUBLIC_URL), also its own. */
  publicOrigin?: string;
  rateLimitPerMinute: number;
  /** Take the client address from X-Forwarded-For. */
  trustProxy: boolean;
  badRowsTopic: string;
  /** Resolves once Kafka acknowledged; an error with `retriable: true` means "try later". */
  write: (page: { records: SourceRecord[]; refused?: RefusedInput[] }) => Promise<void>;
  counters: CollectorCounters;
  log: Logger;
}

function header(req: { headers: HttpRequest['headers'] }, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Whether a browser page at `origin` may send; requests without Origin are not from a page. */
export function originAllowed(
  origin: string | undefined,
  allowed: readonly string[],
  host?: string,
  publicOrigin?: string,
): boolean {
  if (origin === undefined) return true;
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  if (allowed.length > 0) return false;
  if (publicOrigin && origin === publicOrigin) return true;
  return !!host && (origin === `http://${host}` || origin === `https://${host}`);
}

/** Lets the page read the answer, error bodies and Retry-After included. */
export function corsHeaders(origin: string | undefined): Record<string, string> {
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
    `Content-Type ${type.slice(0, 100)} is not accepted; send application/json or text/plain`,
    { accepted: ['application/json', 'text/plain'] },
  );
}

/** The write failed: 503 when a later try can work (Kafka away, the collector stopping). */
function unavailable(error: unknown, log: Logger): HttpError {
  const retriable = (error as { retriable?: unknown })?.retriable === true;
  if (!retriable) log.error('events not stored', { error: (error as Error)?.message ?? String(error) });
  return new HttpError(
    503,
    retriable ? 'KAFKA_UNAVAILABLE' : 'COLLECTOR_UNAVAILABLE',
    retriable
      ? 'Kafka is unavailable; send the same events again later'
      : 'The collector cannot store events now; send the same events again later',
    undefined,
    { 'Retry-After': String(RETRY_AFTER_SECONDS) },
  );
}

export function createCollectorRoutes(options: CollectorOptions): Route[] {
  const { rules, pii, log, counters } = options;
  const limit = new ClientRateLimit(options.rateLimitPerMinute);
  const recent = new RecentKeys(50_000);
  const groups = new GroupWriter((records) => options.write({ records }));
  const badRows = new BadRows({
    topic: options.badRowsTopic,
    pii,
    write: options.write,
    counted: counters.badRow,
    log,
  });
  const allowed = (req: HttpRequest, origin: string | undefined) =>
    originAllowed(origin, options.allowedOrigins, header(req, 'host'), options.publicOrigin);

  const store = async (events: CollectedEvent[], req: HttpRequest, client: string) => {
    const fresh = events.filter((e) => !recent.has(e.id));
    if (fresh.length > 0) {
      const enrichment = {
        receivedMs: Date.now(),
        userAgent: header(req, 'user-agent') ?? null,
        clientIp: truncateIp(client),
      };
      try {
        await groups.add(eventRecords(fresh, enrichment, pii));
      } catch (error) {
        throw unavailable(error, log);
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
    const client = clientAddress(req.remoteAddress, header(req, 'x-forwarded-for'), options.trustProxy);
    try {
      if (!allowed(req, origin))
        throw new HttpError(
          403,
          'ORIGIN_NOT_ALLOWED',
          `Origin ${origin?.slice(0, 200)} may not send events (PURECHAT_ALLOWED_ORIGINS)`,
        );
      // The key parses the address: not worked out when the limit is off.
      const rate = limit.enabled ? limit.take(rateKey(client)) : ALLOWED;
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
        badRows.record(req.rawBody, error, {
          client: truncateIp(client),
          userAgent: header(req, 'user-agent'),
        });
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
      // refused origin too, so its snippet sees the 403 instead of what looks like a network
      // error. The body holds nothing else.
      throw withHeaders(error, cors);
    }
  };

  const preflight = async (req: HttpRequest): Promise<HttpResponse> => {
    const origin = header(req, 'origin');
    if (!allowed(req, origin))
      throw withHeaders(
        new HttpError(
          403,
          'ORIGIN_NOT_ALLOWED',
          'This origin may not send events (PURECHAT_ALLOWED_ORIGINS)',
        ),
        corsHeaders(origin),
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
