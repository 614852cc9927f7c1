/**
 * HTTP plumbing: every /v2 request passes the fault injector, the Bearer check and the rate
 * limiter before its route; the simulator's own paths (control under /_simulator/, the Extract
 * CSV files) pass none of them. Answers are JSON, errors Freshchat's `{code, status, message}`.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../../../core/log.ts';
import { ApiError, apiErrors } from './envelope.ts';
import { FILES_PATH } from './extract.ts';
import type { FaultInjector, RateLimiter } from './faults.ts';
import { type ApiContext, matchRoute } from './routes.ts';
import type { Counters } from './stats.ts';

/** The simulator's own paths: health, stats and the webhook public key, never faulted. */
export const CONTROL_PREFIX = '/_simulator/';
const MAX_BODY = 1024 * 1024;

/** Requests held by the timeout fault; `releaseAll` lets them answer at once (on stop). */
export class Holds {
  readonly #pending = new Set<() => void>();

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#pending.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#pending.add(done);
    });
  }

  releaseAll(): void {
    for (const done of [...this.#pending]) done();
  }
}

export interface ServerParts {
  ctx: ApiContext;
  apiKey: string;
  faults: FaultInjector;
  limiter: RateLimiter;
  holds: Holds;
  stats: Counters;
  log: Logger;
  /** Answers a control path, or undefined for an unknown one. */
  control: (path: string) => { type: string; body: string } | undefined;
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendText(res: ServerResponse, type: string, body: string): void {
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= MAX_BODY) chunks.push(chunk as Buffer);
  }
  if (size > MAX_BODY) throw apiErrors.badRequest(`Request body larger than ${MAX_BODY} bytes`);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw apiErrors.badRequest('Request body is not valid JSON');
  }
}

function authorized(req: IncomingMessage, apiKey: string): boolean {
  const given = Buffer.from(req.headers.authorization ?? '');
  const expected = Buffer.from(`Bearer ${apiKey}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Runs one /v2 request through faults, auth and the rate limit, then its route. */
async function api(p: ServerParts, req: IncomingMessage, url: URL, headers: Record<string, string>) {
  const method = req.method ?? 'GET';
  const route = matchRoute(method, url.pathname);
  p.stats.inc('requests');
  p.stats.inc(`route ${route?.name ?? 'unmatched'}`);
  const fate = p.faults.decide();
  if (fate.kind === 'unauthorized') {
    p.stats.inc('faults.unauthorized');
    throw apiErrors.unauthorized();
  }
  if (!authorized(req, p.apiKey)) throw apiErrors.unauthorized();
  const rate = p.limiter.check(Date.now());
  const limit = p.limiter.limit;
  if (limit !== false && limit.headers) {
    headers['X-RateLimit-Total'] = String(limit.requestsPerMinute);
    headers['X-RateLimit-Remaining'] = String(rate.allowed ? rate.remaining : 0);
    headers['X-RateLimit-Used-CurrentRequest'] = '1';
  }
  if (!rate.allowed) {
    p.stats.inc('rateLimited');
    headers['Retry-After'] = String(rate.retryAfterSeconds);
    throw apiErrors.tooManyRequests();
  }
  if (fate.kind === 'error') {
    p.stats.inc(`faults.serverError.${fate.code}`);
    throw fate.code === 500 ? apiErrors.internal('Simulated server error') : apiErrors.unavailable();
  }
  if (fate.kind === 'timeout') {
    p.stats.inc('faults.timeout');
    await p.holds.wait(fate.ms);
  }
  if (!route) throw apiErrors.notFound(url.pathname);
  const body = method === 'POST' || method === 'PUT' ? await readJson(req) : undefined;
  if (fate.extraFields) p.stats.inc('faults.extraFields');
  return route.handler(p.ctx, {
    params: route.params,
    query: url.searchParams,
    body,
    extra: fate.extraFields,
  });
}

export function createSimulatorServer(p: ServerParts): Server {
  return createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://simulator');
    const headers: Record<string, string> = {};
    let status = 200;
    let isApi = false;
    try {
      if (url.pathname.startsWith(CONTROL_PREFIX)) {
        const answer = p.control(url.pathname);
        if (!answer) throw apiErrors.notFound(url.pathname);
        return sendText(res, answer.type, answer.body);
      }
      if (url.pathname.startsWith(FILES_PATH)) {
        const csv = p.ctx.extract.file(url.pathname.slice(FILES_PATH.length).replace(/\.csv$/, ''));
        if (csv === undefined) throw apiErrors.notFound(url.pathname);
        p.stats.inc('extract.downloads');
        return sendText(res, 'text/csv; charset=utf-8', csv);
      }
      isApi = true;
      const reply = await api(p, req, url, headers);
      status = reply.status;
      send(res, reply.status, reply.body, headers);
    } catch (error) {
      const failure = error instanceof ApiError ? error : apiErrors.internal((error as Error).message);
      if (!(error instanceof ApiError)) p.log.error('request failed', { error, path: url.pathname });
      status = failure.code;
      send(res, status, failure.body, headers);
    } finally {
      if (isApi) p.stats.inc(`status.${status}`);
      p.log.debug('request', { method: req.method, path: url.pathname, status });
    }
  });
}
