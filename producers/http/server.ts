/**
 * The small JSON HTTP server producers use to receive data (the Freshchat webhook receiver, the
 * Pure Chat collector): a route table, bodies read as exact bytes under a size limit, one JSON
 * error shape, and a close that lets requests in flight finish.
 *
 *   const service = await startHttpServer({ host: '127.0.0.1', port: 0, routes, maxBodyBytes, log });
 *   await service.close(5_000);
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../core/log.ts';
import { ClientGoneError, dropRest, readBody } from './body.ts';
import { errorBody, HttpError, httpErrors } from './errors.ts';
import { type HttpResponse, matchRoute, type Route } from './router.ts';

export interface HttpServerOptions {
  host: string;
  port: number;
  routes: readonly Route[];
  maxBodyBytes: number;
  log: Logger;
  /** Time allowed to receive a whole request (headers and body); 408 after it. Default 30 s. */
  requestTimeoutMs?: number;
  /** Headers every error answer gets (e.g. CORS, so a page can read a 413 or 404). */
  errorHeaders?: (req: IncomingMessage) => Record<string, string>;
}

export interface HttpService {
  url: string;
  port: number;
  /** Stops accepting, lets requests in flight finish for up to graceMs (default 10 s), then cuts the rest. */
  close(graceMs?: number): Promise<void>;
}

/** How long the rest of a refused (413) body is read and dropped before the connection is cut. */
const LINGER_MS = 2_000;
const EMPTY: Buffer = Buffer.alloc(0);

interface Encoded {
  status: number;
  headers: Record<string, string>;
  /** Text goes out in one socket write with the headers (node:http joins them); a Buffer in two. */
  payload: Buffer | string;
}

function encode({ status, body, headers = {} }: HttpResponse): Encoded {
  let payload: Buffer | string = EMPTY;
  let type: string | undefined;
  if (Buffer.isBuffer(body)) [payload, type] = [body, 'application/octet-stream'];
  else if (typeof body === 'string') [payload, type] = [body, 'text/plain; charset=utf-8'];
  else if (body !== undefined)
    [payload, type] = [JSON.stringify(body) ?? 'null', 'application/json; charset=utf-8'];
  if (status === 204 || status === 304) payload = EMPTY;
  const base: Record<string, string> = type && payload.length > 0 ? { 'Content-Type': type } : {};
  return { status, headers: { ...base, ...headers }, payload };
}

function send(res: ServerResponse, { status, headers, payload }: Encoded): void {
  if (res.headersSent || res.destroyed) return;
  const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  res.writeHead(status, { ...headers, 'Content-Length': String(length) });
  res.end(payload);
}

function failure(error: HttpError, extra: Record<string, string> = {}): Encoded {
  const valid = Number.isInteger(error.status) && error.status >= 400 && error.status <= 599;
  return encode({
    status: valid ? error.status : 500,
    body: errorBody(error.code, error.message, error.details),
    headers: { ...extra, ...error.headers },
  });
}

function splitUrl(url: string): { path: string; query: URLSearchParams } {
  const q = url.indexOf('?');
  return q < 0
    ? { path: url, query: new URLSearchParams() }
    : { path: url.slice(0, q), query: new URLSearchParams(url.slice(q + 1)) };
}

function createHandler(options: HttpServerOptions, isClosing: () => boolean) {
  const { routes, maxBodyBytes, log } = options;
  const reply = (res: ServerResponse, response: Encoded) => {
    // While closing, every answer ends its connection so the drain can finish.
    if (isClosing() && !res.headersSent) res.setHeader('Connection', 'close');
    send(res, response);
  };
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = Date.now();
    const method = req.method ?? 'GET';
    const { path, query } = splitUrl(req.url ?? '/');
    const remoteAddress = req.socket.remoteAddress ?? '';
    let status = 0;
    let routed = false;
    try {
      const { route, params } = matchRoute(routes, method, path);
      const rawBody = await readBody(req, maxBodyBytes);
      routed = true;
      const response = encode(
        await route.handler({ method, path, query, headers: req.headers, rawBody, remoteAddress, params }),
      );
      status = response.status;
      reply(res, response);
    } catch (error) {
      if (error instanceof ClientGoneError) {
        log.debug('client went away', { method, path, remoteAddress });
        return;
      }
      const known = error instanceof HttpError ? error : httpErrors.internal();
      status = known.status;
      if (!(error instanceof HttpError))
        log.error('request failed', { method, path, error, stack: (error as Error)?.stack });
      else if (!routed)
        log.warn('request refused', { method, path, status, code: known.code, remoteAddress });
      reply(res, failure(known, options.errorHeaders?.(req)));
      if (status === 413) dropRest(req, LINGER_MS);
    } finally {
      log.debug('request', { method, path, status, ms: Date.now() - started });
    }
  };
}

export function startHttpServer(options: HttpServerOptions): Promise<HttpService> {
  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  let closing: Promise<void> | undefined;
  const handle = createHandler(options, () => closing !== undefined);
  const server = createServer(
    {
      requestTimeout,
      headersTimeout: requestTimeout > 0 ? Math.min(requestTimeout, 60_000) : 60_000,
      connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(requestTimeout / 4) || 30_000)),
    },
    (req, res) => {
      req.on('error', () => {});
      res.on('error', () => {});
      handle(req, res).catch((error) => options.log.error('request handler crashed', { error }));
    },
  );

  const close = (graceMs = 10_000): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      server.closeIdleConnections();
    });
    return closing;
  };

  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', onError);
      server.on('error', (error) => options.log.error('http server error', { error }));
      const { port, address, family } = server.address() as AddressInfo;
      const host = family === 'IPv6' ? `[${address}]` : address;
      resolve({ url: `http://${host}:${port}`, port, close });
    });
  });
}
