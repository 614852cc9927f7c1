import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../core/log.ts';
import { type ErrorBody, HttpError } from '../../producers/http/errors.ts';
import { parseJsonBody } from '../../producers/http/json.ts';
import type { HttpRequest, Route } from '../../producers/http/router.ts';
import { startHttpServer } from '../../producers/http/server.ts';

const MAX = 1024;
const logged: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
const log: Logger = {
  debug: () => {},
  info: (msg, fields) => logged.push({ level: 'info', msg, fields }),
  warn: (msg, fields) => logged.push({ level: 'warn', msg, fields }),
  error: (msg, fields) => logged.push({ level: 'error', msg, fields }),
  child: () => log,
};

let calls = 0;
let release: () => void = () => {};
let slowStarted: () => void = () => {};

const routes: Route[] = [
  {
    method: 'POST',
    path: '/echo',
    handler: async (req) => {
      calls += 1;
      return { status: 200, body: echo(req) };
    },
  },
  { method: 'GET', path: '/healthz', handler: async () => ({ status: 200, body: 'ok' }) },
  {
    method: 'GET',
    path: /\/items\/(?<id>[^/]+)/,
    handler: async (req) => ({ status: 200, body: { params: req.params, q: req.query.get('q') } }),
  },
  {
    method: 'POST',
    path: '/teapot',
    handler: async () => {
      throw new HttpError(418, 'I_AM_A_TEAPOT', 'short and stout', { spout: true }, { 'X-Tea': 'yes' });
    },
  },
  {
    method: 'POST',
    path: '/boom',
    handler: async () => {
      throw new Error('secret internals at /srv/app.ts:42');
    },
  },
  {
    method: 'POST',
    path: '/slow',
    handler: async () => {
      slowStarted();
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return { status: 202, body: { done: true } };
    },
  },
];

function echo(req: HttpRequest) {
  return {
    method: req.method,
    path: req.path,
    bytes: req.rawBody.toString('hex'),
    remote: req.remoteAddress,
  };
}

/** A response body, typed for the test's reading (an error body unless told). */
const json = async <T = ErrorBody>(res: Response) => (await res.json()) as T;

const start = () => startHttpServer({ host: '127.0.0.1', port: 0, routes, maxBodyBytes: MAX, log });
const service = await start();
after(() => service.close(100));

/** A raw request that reads the answer even while the body is still being sent. */
function rawPost(
  url: string,
  chunks: Buffer[],
  headers: Record<string, string | number> = {},
  endAfter = true,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers }, (res) => {
      let body = '';
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body });
        req.destroy();
      });
    });
    req.on('error', (error) =>
      (error as { code?: string }).code === 'ECONNRESET' ? undefined : reject(error),
    );
    for (const chunk of chunks) req.write(chunk);
    if (endAfter) req.end();
  });
}

test('a route gets the exact body bytes, the path, params and query', async () => {
  const bytes = Buffer.from([0xe2, 0x82, 0xac, 0x00, 0xff]);
  const res = await fetch(`${service.url}/echo`, { method: 'POST', body: bytes });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  const body = await json<ReturnType<typeof echo>>(res);
  assert.equal(body.bytes, bytes.toString('hex'));
  assert.equal(body.path, '/echo');
  assert.equal(body.remote, '127.0.0.1');

  const item = await fetch(`${service.url}/items/a%20b?q=1`).then((r) => r.json());
  assert.deepEqual(item, { params: { '1': 'a b', id: 'a b' }, q: '1' });
  assert.equal(await fetch(`${service.url}/healthz`).then((r) => r.text()), 'ok');
});

test('unknown path → 404, known path with the wrong method → 405 with Allow', async () => {
  const missing = await fetch(`${service.url}/nope`);
  assert.equal(missing.status, 404);
  assert.equal((await json(missing)).error.code, 'NOT_FOUND');
  assert.equal((await fetch(`${service.url}/items/x/y`)).status, 404, 'a RegExp matches the whole path only');

  const wrong = await fetch(`${service.url}/echo`);
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get('allow'), 'POST');
  assert.equal((await json(wrong)).error.code, 'METHOD_NOT_ALLOWED');
  assert.equal((await fetch(`${service.url}/healthz`, { method: 'HEAD' })).status, 405, 'no implicit HEAD');
});

test('a body over the limit is refused with 413: declared up front', async () => {
  calls = 0;
  const res = await rawPost(`${service.url}/echo`, [Buffer.alloc(MAX * 64, 1)], {
    'Content-Length': MAX * 64,
  });
  assert.equal(res.status, 413);
  assert.equal(JSON.parse(res.body).error.code, 'PAYLOAD_TOO_LARGE');
  assert.equal(calls, 0);
});

test('a body over the limit is refused with 413: chunked, answered before the body ends', async () => {
  calls = 0;
  // The request is never ended: the answer must come as soon as the limit is passed.
  const res = await rawPost(
    `${service.url}/echo`,
    [Buffer.alloc(MAX / 2), Buffer.alloc(MAX / 2 + 1)],
    {},
    false,
  );
  assert.equal(res.status, 413);
  assert.equal(JSON.parse(res.body).error.code, 'PAYLOAD_TOO_LARGE');
  assert.equal(calls, 0);
  const exact = await fetch(`${service.url}/echo`, { method: 'POST', body: Buffer.alloc(MAX) });
  assert.equal(exact.status, 200, 'exactly the limit is fine');
});

test('an HttpError from a handler gives its status, code, details and headers', async () => {
  const res = await fetch(`${service.url}/teapot`, { method: 'POST' });
  assert.equal(res.status, 418);
  assert.equal(res.headers.get('x-tea'), 'yes');
  assert.deepEqual(await res.json(), {
    error: { code: 'I_AM_A_TEAPOT', message: 'short and stout', details: { spout: true } },
  });
});

test('any other error → 500 with a generic body, logged, no stack or message leaked', async () => {
  logged.length = 0;
  const res = await fetch(`${service.url}/boom`, { method: 'POST' });
  assert.equal(res.status, 500);
  const text = await res.text();
  assert.deepEqual(JSON.parse(text), { error: { code: 'INTERNAL', message: 'Internal server error' } });
  assert.doesNotMatch(text, /secret|app\.ts|stack/);
  assert.ok(logged.some((l) => l.level === 'error' && l.msg === 'request failed'));
});

test('a client that aborts mid-body does not crash the server', async () => {
  calls = 0;
  await new Promise<void>((resolve, reject) => {
    const socket = connect(service.port, '127.0.0.1', () => {
      socket.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{"half":');
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 50);
    });
    socket.on('error', reject);
  });
  await sleep(50);
  assert.equal(calls, 0);
  assert.equal((await fetch(`${service.url}/healthz`)).status, 200);
});

test('close lets a slow request in flight finish, then stops accepting', async () => {
  const own = await start();
  const started = new Promise<void>((resolve) => {
    slowStarted = resolve;
  });
  const pending = fetch(`${own.url}/slow`, { method: 'POST', body: '{}' });
  await started;
  const closed = own.close(5_000);
  await sleep(100);
  release();
  const res = await pending;
  assert.equal(res.status, 202);
  assert.deepEqual(await res.json(), { done: true });
  await closed;
  await assert.rejects(fetch(`${own.url}/healthz`));
});

test('close cuts what is still running once the grace time is over', async () => {
  const own = await start();
  const started = new Promise<void>((resolve) => {
    slowStarted = resolve;
  });
  const pending = fetch(`${own.url}/slow`, { method: 'POST', body: '{}' });
  await started;
  const began = Date.now();
  await own.close(100);
  assert.ok(Date.now() - began < 2_000);
  await assert.rejects(pending);
  release();
});

const jsonError = (raw: Buffer | string, code: string, options?: { maxDepth?: number }) =>
  assert.throws(
    () => parseJsonBody(Buffer.isBuffer(raw) ? raw : Buffer.from(raw), options),
    (error: unknown) => error instanceof HttpError && error.status === 400 && error.code === code,
  );

test('parseJsonBody parses JSON, keeping non-ASCII text exact', () => {
  assert.deepEqual(parseJsonBody(Buffer.from('{"a":[1,{"b":"안녕 👋"}]}')), { a: [1, { b: '안녕 👋' }] });
  assert.deepEqual(parseJsonBody(Buffer.from('{"s":"[[[[{{{{\\"]]"}'), { maxDepth: 1 }), {
    s: '[[[[{{{{"]]',
  });
});

test('parseJsonBody refuses invalid UTF-8, empty and malformed bodies', () => {
  jsonError(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), 'INVALID_UTF8');
  jsonError(Buffer.from([0xed, 0xa0, 0x80]), 'INVALID_UTF8'); // an encoded lone surrogate
  jsonError('', 'EMPTY_BODY');
  jsonError(' \n\t ', 'EMPTY_BODY');
  jsonError('{"a": 1,}', 'MALFORMED_JSON');
  assert.throws(
    () => parseJsonBody(Buffer.from('{"a" 1}')),
    (error: HttpError) =>
      error.code === 'MALFORMED_JSON' &&
      /position 5/.test(error.message) &&
      JSON.stringify(error.details) === JSON.stringify({ position: 5, line: 1, column: 6 }),
  );
});

test('parseJsonBody refuses deep nesting without blowing the stack', () => {
  jsonError(`${'['.repeat(10_000)}${']'.repeat(10_000)}`, 'TOO_DEEP');
  jsonError(`${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`, 'TOO_DEEP');
  jsonError(`${'['.repeat(65)}${']'.repeat(65)}`, 'TOO_DEEP');
  assert.ok(parseJsonBody(Buffer.from(`${'['.repeat(64)}${']'.repeat(64)}`)));
  jsonError('[[[]]]', 'TOO_DEEP', { maxDepth: 2 });
  // More brackets than the limit, but shallow: scanned, and accepted.
  assert.equal((parseJsonBody(Buffer.from(`[${'[{}],'.repeat(100)}[]]`)) as unknown[]).length, 101);
  // Brackets inside strings count for the quick check, never for the depth.
  assert.ok(parseJsonBody(Buffer.from(`{"s":"${'['.repeat(100)}"}`), { maxDepth: 1 }));
});

test('parseJsonBody refuses __proto__, constructor and prototype keys anywhere', () => {
  jsonError('{"__proto__": {"polluted": true}}', 'FORBIDDEN_KEY');
  jsonError('{"a": [{"b": {"constructor": {"prototype": 1}}}]}', 'FORBIDDEN_KEY');
  jsonError('{"x": {"prototype": 1}}', 'FORBIDDEN_KEY');
  jsonError('{"\\u005f_proto__": 1}', 'FORBIDDEN_KEY');
  assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  assert.deepEqual(parseJsonBody(Buffer.from('{"text": "__proto__ constructor"}')), {
    text: '__proto__ constructor',
  });
});
