/**
 * The registry's REST API: Confluent Schema Registry's paths, bodies, status codes and
 * error codes, so Confluent's clients, @kafkajs/confluent-schema-registry and tools work
 * against it unchanged.
 */

import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Logger } from '../core/log.ts';
import { registryErrors as E, RegistryError } from './errors.ts';
import type { SchemaBody, SchemaRegistry } from './registry.ts';

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
const MAX_BODY = 16 * 1024 * 1024;

interface Request {
  params: string[];
  query: URLSearchParams;
  body: unknown;
}

type Handler = (r: SchemaRegistry, req: Request) => unknown;

const flag = (q: URLSearchParams, name: string) => q.get(name) === 'true';
const id = (text: string) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw E.schemaNotFound();
  return n;
};

/** [method, path pattern, handler]; `{}` in a pattern matches one URL-decoded segment. */
const ROUTES: [string, string, Handler][] = [
  ['GET', '/', () => ({})],
  ['GET', '/schemas/types', () => ['AVRO']],
  ['GET', '/schemas/ids/{}', (r, { params }) => r.schemaById(id(params[0] as string))],
  [
    'GET',
    '/schemas/ids/{}/schema',
    (r, { params }) => JSON.parse(r.schemaById(id(params[0] as string)).schema),
  ],
  [
    'GET',
    '/schemas/ids/{}/versions',
    (r, { params, query }) => r.idVersions(id(params[0] as string), flag(query, 'deleted')),
  ],
  [
    'GET',
    '/schemas/ids/{}/subjects',
    (r, { params, query }) => r.idSubjects(id(params[0] as string), flag(query, 'deleted')),
  ],
  [
    'GET',
    '/subjects',
    (r, { query }) => r.subjects(flag(query, 'deleted'), query.get('subjectPrefix') ?? ''),
  ],
  [
    'GET',
    '/subjects/{}/versions',
    (r, { params, query }) => r.versions(params[0] as string, flag(query, 'deleted')),
  ],
  [
    'POST',
    '/subjects/{}/versions',
    (r, { params, body }) => r.register(params[0] as string, body as SchemaBody),
  ],
  [
    'POST',
    '/subjects/{}',
    (r, { params, body, query }) => r.lookup(params[0] as string, body as SchemaBody, flag(query, 'deleted')),
  ],
  [
    'DELETE',
    '/subjects/{}',
    (r, { params, query }) => r.deleteSubject(params[0] as string, flag(query, 'permanent')),
  ],
  [
    'GET',
    '/subjects/{}/versions/{}',
    (r, { params, query }) => r.getVersion(params[0] as string, params[1] as string, flag(query, 'deleted')),
  ],
  [
    'GET',
    '/subjects/{}/versions/{}/schema',
    (r, { params, query }) =>
      JSON.parse(r.getVersion(params[0] as string, params[1] as string, flag(query, 'deleted')).schema),
  ],
  [
    'DELETE',
    '/subjects/{}/versions/{}',
    (r, { params, query }) =>
      r.deleteVersion(params[0] as string, params[1] as string, flag(query, 'permanent')),
  ],
  [
    'POST',
    '/compatibility/subjects/{}/versions/{}',
    (r, { params, body, query }) =>
      r.testCompatibility(params[0] as string, params[1], body as SchemaBody, flag(query, 'verbose')),
  ],
  [
    'POST',
    '/compatibility/subjects/{}/versions',
    (r, { params, body, query }) =>
      r.testCompatibility(params[0] as string, undefined, body as SchemaBody, flag(query, 'verbose')),
  ],
  ['GET', '/config', (r) => r.getConfig(null, true)],
  ['PUT', '/config', (r, { body }) => r.setConfig(null, body)],
  ['DELETE', '/config', (r) => r.deleteConfig(null)],
  [
    'GET',
    '/config/{}',
    (r, { params, query }) => r.getConfig(params[0] as string, flag(query, 'defaultToGlobal')),
  ],
  ['PUT', '/config/{}', (r, { params, body }) => r.setConfig(params[0] as string, body)],
  ['DELETE', '/config/{}', (r, { params }) => r.deleteConfig(params[0] as string)],
  ['GET', '/mode', (r) => r.getMode(null, true)],
  ['PUT', '/mode', (r, { body, query }) => r.setMode(null, body, flag(query, 'force'))],
  [
    'GET',
    '/mode/{}',
    (r, { params, query }) => r.getMode(params[0] as string, flag(query, 'defaultToGlobal')),
  ],
  [
    'PUT',
    '/mode/{}',
    (r, { params, body, query }) => r.setMode(params[0] as string, body, flag(query, 'force')),
  ],
  ['DELETE', '/mode/{}', (r, { params }) => r.deleteMode(params[0] as string)],
];

const COMPILED = ROUTES.map(([method, pattern, handler]) => ({
  method,
  regex: new RegExp(`^${pattern.replace(/\{\}/g, '([^/]+)')}/?$`),
  handler,
}));

function route(method: string, path: string): { handler: Handler; params: string[] } {
  const matches = COMPILED.filter((r) => r.regex.test(path));
  if (matches.length === 0) throw E.notFound(path);
  const match = matches.find((r) => r.method === method);
  if (!match) throw E.methodNotAllowed(method, path);
  const params = (path.match(match.regex) ?? []).slice(1).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      throw E.badRequest(`Malformed URL: "${p}" is not valid percent-encoding`);
    }
  });
  return { handler: match.handler, params };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Past the limit the rest is read and dropped, so the client can finish sending and read the 413.
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= MAX_BODY) chunks.push(chunk as Buffer);
  }
  if (size > MAX_BODY)
    throw new RegistryError(413, 413, `Request body of ${size} bytes is larger than ${MAX_BODY} bytes`);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    throw E.badRequest(`Unrecognized request body: not JSON (${(error as Error).message})`);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export interface HttpOptions {
  /** Basic auth; when set, every request must carry it. */
  auth?: { user: string; password: string };
  /** PEM certificate chain and key: serve HTTPS instead of HTTP. */
  tls?: { cert: string; key: string };
  log: Logger;
}

function authorized(req: IncomingMessage, auth: HttpOptions['auth']): boolean {
  if (!auth) return true;
  const header = req.headers.authorization ?? '';
  if (!header.startsWith('Basic ')) return false;
  const given = Buffer.from(header.slice(6), 'base64');
  const expected = Buffer.from(`${auth.user}:${auth.password}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function createRegistryServer(registry: SchemaRegistry, options: HttpOptions): Server {
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'http://registry');
    const method = req.method ?? 'GET';
    let status = 200;
    try {
      if (!authorized(req, options.auth)) throw E.unauthorized();
      const { handler, params } = route(method, url.pathname);
      const body = method === 'POST' || method === 'PUT' ? await readBody(req) : undefined;
      send(res, 200, await handler(registry, { params, query: url.searchParams, body }));
    } catch (error) {
      const failure = error instanceof RegistryError ? error : E.internal((error as Error).message);
      status = failure.status;
      if (!(error instanceof RegistryError))
        options.log.error('request failed', { error, method, path: url.pathname });
      if (status === 401) res.setHeader('WWW-Authenticate', 'Basic realm="chatstream-registry"');
      send(res, status, { error_code: failure.errorCode, message: failure.message });
    } finally {
      options.log.debug('request', { method, path: url.pathname, status, ms: Date.now() - started });
    }
  };
  return options.tls ? createHttpsServer(options.tls, handle) : createServer(handle);
}
