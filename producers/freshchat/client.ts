/**
 * The Freshchat REST v2 client: one undici keep-alive pool, Bearer auth, pacing (RateLimiter),
 * and the answer table of errors.ts — 429 waits Retry-After (at most 10 minutes; else back-off
 * with jitter), 5xx / timeouts / connection errors get bounded retries and so do a 2xx whose
 * body is not JSON data and a 202 to a GET, 401/403 stop, 404 and 400 WRONG_PAGE come back
 * as undefined. Requests are built from a path and query; hrefs in `links` are never followed.
 */
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Counter, Histogram, type Registry } from 'prom-client';
import { Agent, type Dispatcher, interceptors, Pool, request } from 'undici';
import { isNetworkError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import { backoffMs } from '../../core/retry.ts';
import {
  authError,
  badRequestError,
  decide,
  describeBody,
  FreshchatUnavailableError,
  rateLimitWait,
} from './errors.ts';
import { RateLimiter } from './rate-limit.ts';

export interface ClientOptions {
  baseUrl: string;
  apiKey: string;
  requestsPerMinute: number;
  concurrency: number;
  timeoutMs: number;
  maxRetries: number;
  log: Logger;
  metrics?: Registry;
  signal?: AbortSignal;
}

export type Query = Record<string, string | number | boolean | undefined>;

interface ClientMetrics {
  requests: Counter<'endpoint' | 'status'>;
  seconds: Histogram<'endpoint'>;
}

function clientMetrics(registry: Registry | undefined): ClientMetrics | undefined {
  if (!registry) return undefined;
  const registers = [registry];
  return {
    requests:
      (registry.getSingleMetric('chatstream_freshchat_requests_total') as ClientMetrics['requests']) ??
      new Counter({
        name: 'chatstream_freshchat_requests_total',
        help: 'Freshchat API requests by endpoint and HTTP status (0 = no answer).',
        labelNames: ['endpoint', 'status'],
        registers,
      }),
    seconds:
      (registry.getSingleMetric('chatstream_freshchat_request_seconds') as ClientMetrics['seconds']) ??
      new Histogram({
        name: 'chatstream_freshchat_request_seconds',
        help: 'Freshchat API request latency.',
        labelNames: ['endpoint'],
        buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers,
      }),
  };
}

export class FreshchatClient {
  private readonly options: ClientOptions;
  private readonly pool: Pool;
  /** Report files: signed URLs on other hosts, which may redirect (at most 3 hops). */
  private readonly downloads: Dispatcher;
  private readonly basePath: string;
  /** The API's origin and base path, e.g. https://acme.freshchat.com/v2. */
  readonly origin: string;
  private readonly limiter: RateLimiter;
  private readonly metrics?: ClientMetrics;

  constructor(options: ClientOptions) {
    this.options = options;
    const url = new URL(options.baseUrl);
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.origin = `${url.origin}${this.basePath}`;
    this.pool = new Pool(url.origin, {
      connections: options.concurrency,
      keepAliveTimeout: 30_000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
    this.downloads = new Agent({
      keepAliveTimeout: 30_000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    }).compose(interceptors.redirect({ maxRedirections: 3 }));
    this.limiter = new RateLimiter({
      perMinute: options.requestsPerMinute,
      concurrency: options.concurrency,
    });
    this.metrics = clientMetrics(options.metrics);
  }

  /** GET a JSON object; undefined on 404 (or 400 WRONG_PAGE). `endpoint` names it in logs and metrics (e.g. "users"). */
  get<T>(endpoint: string, path: string, query: Query = {}): Promise<T | undefined> {
    return this.send<T>('GET', endpoint, path, query);
  }

  post<T>(endpoint: string, path: string, body: unknown): Promise<T | undefined> {
    return this.send<T>('POST', endpoint, path, {}, body);
  }

  private async send<T>(
    method: string,
    endpoint: string,
    path: string,
    query: Query,
    body?: unknown,
  ): Promise<T | undefined> {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) search.set(k, String(v));
    const fullPath = `${this.basePath}${path}${search.size ? `?${search}` : ''}`;
    const what = `${method} ${path}`;
    let limited = 0;
    for (let attempt = 0; ; ) {
      const started = process.hrtime.bigint();
      let status = 0;
      let parsed: unknown;
      let retryAfter: string | string[] | undefined;
      try {
        ({ status, parsed, retryAfter } = await this.limiter.run(async () => {
          const response = await this.pool.request({
            method,
            path: fullPath,
            headers: {
              authorization: `Bearer ${this.options.apiKey}`,
              accept: 'application/json',
              ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            },
            body: body === undefined ? undefined : JSON.stringify(body),
            signal: this.options.signal,
          });
          const text = await response.body.text();
          let json: unknown = text;
          try {
            json = text === '' ? undefined : JSON.parse(text);
          } catch {
            // a non-JSON answer (a proxy's error page): kept as text for the message
          }
          return { status: response.statusCode, parsed: json, retryAfter: response.headers['retry-after'] };
        }, this.options.signal));
      } catch (error) {
        if (this.options.signal?.aborted) throw error;
        this.count(endpoint, 0, started);
        if (!isNetworkError(error) && !isTimeout(error)) throw error;
        attempt = await this.backoff(attempt, what, (error as Error).message);
        continue;
      }
      this.count(endpoint, status, started);
      switch (decide(status, parsed, method)) {
        case 'ok':
          return parsed as T;
        case 'not_found':
          return undefined;
        case 'auth':
          throw authError(status, what, parsed);
        case 'bad_request':
          throw badRequestError(status, what, parsed);
        case 'rate_limited': {
          // Without Retry-After the waits grow with each 429 in a row (they do not use up retries).
          const { waitMs, askedMs } = rateLimitWait(retryAfter, limited++);
          this.options.log.warn('rate limited by Freshchat; waiting', {
            endpoint: what,
            waitMs,
            ...(askedMs === undefined ? {} : { retryAfterMs: askedMs, capped: true }),
          });
          this.limiter.coolDown(Date.now() + waitMs);
          continue; // waiting is not a failure: no attempt used
        }
        case 'retry':
          limited = 0;
          attempt = await this.backoff(attempt, what, retryReason(status, parsed));
          continue;
      }
    }
  }

  /** Waits before the next attempt, or throws when the retries are used up. */
  private async backoff(attempt: number, what: string, reason: string): Promise<number> {
    if (attempt >= this.options.maxRetries)
      throw new FreshchatUnavailableError(
        `Freshchat ${what} failed ${attempt + 1} times, last: ${reason} (FRESHCHAT_MAX_RETRIES=${this.options.maxRetries})`,
      );
    const waitMs = backoffMs(attempt, { initialMs: 500, maxMs: 30_000 });
    this.options.log.warn('Freshchat request failed; retrying', {
      endpoint: what,
      attempt: attempt + 1,
      waitMs,
      reason,
    });
    await sleep(waitMs, undefined, { signal: this.options.signal });
    return attempt + 1;
  }

  private count(endpoint: string, status: number, started: bigint): void {
    if (!this.metrics) return;
    this.metrics.requests.inc({ endpoint, status: String(status) });
    this.metrics.seconds.observe({ endpoint }, Number(process.hrtime.bigint() - started) / 1e9);
  }

  /**
   * Streams a file from an absolute URL (Extract API downloads are signed URLs on another host:
   * no Authorization header goes there), following up to 3 redirects. Retries like the API until
   * the answer's headers are in; a 4xx (an expired link) is FreshchatUnavailableError. The body
   * can still fail or stall later (bodyTimeout): the reader must consume it with `pipeline`.
   */
  async download(url: string): Promise<Readable> {
    for (let attempt = 0; ; ) {
      try {
        const response = await request(url, {
          dispatcher: this.downloads,
          headersTimeout: this.options.timeoutMs,
          bodyTimeout: this.options.timeoutMs,
          signal: this.options.signal,
        });
        if (response.statusCode >= 200 && response.statusCode < 300) return response.body;
        const text = await response.body.text();
        // A 4xx is an expired or wrong link: the report is requested again on the next pass.
        if (response.statusCode < 500)
          throw new FreshchatUnavailableError(
            `download of a report file failed with ${response.statusCode}: ${text.slice(0, 200)}`,
          );
        attempt = await this.backoff(attempt, 'GET <report file>', String(response.statusCode));
      } catch (error) {
        if (error instanceof FreshchatUnavailableError) throw error;
        if (this.options.signal?.aborted || (!isNetworkError(error) && !isTimeout(error))) throw error;
        attempt = await this.backoff(attempt, 'GET <report file>', (error as Error).message);
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.close(), this.downloads.close()]);
  }
}

function retryReason(status: number, body: unknown): string {
  if (status === 202) return `202 (still being processed) ${describeBody(body)}`.trim();
  if (status >= 200 && status < 300 && (body === null || typeof body !== 'object'))
    return `${status} with a body that is not JSON data: ${
      body === undefined
        ? '(empty)'
        : typeof body === 'string'
          ? body.slice(0, 120)
          : JSON.stringify(body).slice(0, 120)
    }`;
  return `${status} ${describeBody(body)}`.trim();
}

function isTimeout(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return (
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT' ||
    code === 'UND_ERR_CONNECT_TIMEOUT'
  );
}
