import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { after, beforeEach, test } from 'node:test';
import type { Logger } from '../../core/log.ts';
import type { WebhookRecord } from '../../producers/freshchat/webhooks/mapping.ts';
import { createWebhookRoutes } from '../../producers/freshchat/webhooks/receiver.ts';
import { normalizePublicKey } from '../../producers/freshchat/webhooks/signature.ts';
import { startHttpServer } from '../../producers/http/server.ts';

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PATH = '/freshchat/webhooks';

const warnings: Record<string, unknown>[] = [];
const log: Logger = {
  debug: () => {},
  info: () => {},
  warn: (_msg, fields = {}) => warnings.push(fields),
  error: () => {},
  child: () => log,
};

let written: WebhookRecord[][] = [];
let failWith: Error | undefined;
const write = async (records: WebhookRecord[]) => {
  if (failWith) throw failWith;
  written.push(records);
};

const routes = createWebhookRoutes({
  publicKey: normalizePublicKey(
    publicKey.export({ type: 'spki', format: 'pem' }).toString().replace(/\n/g, '\\n'),
  ),
  write,
  log,
  dedupe: { size: 100 },
});
const service = await startHttpServer({ host: '127.0.0.1', port: 0, routes, maxBodyBytes: 64 * 1024, log });
after(() => service.close(100));

beforeEach(() => {
  written = [];
  failWith = undefined;
  warnings.length = 0;
});

let counter = 0;
const message = (text = 'hello') => ({
  actor: { actor_type: 'user', actor_id: 'u1' },
  action: 'message_create',
  action_time: '2022-11-22T10:55:23.126Z',
  data: {
    message: {
      id: `m-${++counter}`,
      conversation_id: 'c1',
      app_id: 'app',
      channel_id: 'ch',
      actor_type: 'user',
      actor_id: 'u1',
      message_type: 'normal',
      message_parts: [{ text: { content: text } }],
    },
  },
});

interface Answer {
  accepted?: number;
  duplicate?: boolean;
  error: { code: string; message: string; details?: unknown };
}

async function post(body: string | Buffer, signature?: string | null) {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const sig = signature === undefined ? sign('sha256', bytes, privateKey).toString('base64') : signature;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-retry-count': '0' };
  if (sig !== null) headers['x-freshchat-signature'] = sig;
  const res = await fetch(`${service.url}${PATH}`, { method: 'POST', body: bytes, headers });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Answer };
}

test('a signed message_create is written and answered 200 {accepted: 1}', async () => {
  const payload = message('안녕하세요 👋 — emoji and Korean');
  const res = await post(JSON.stringify(payload));
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { accepted: 1 });
  assert.equal(written.length, 1);
  assert.equal(written[0]?.[0]?.kind, 'freshchat.messages');
  assert.deepEqual(written[0]?.[0]?.value, payload.data.message);
});

test('signature problems → 401 with their own code, logged without the body', async () => {
  const body = JSON.stringify(message('do not log me'));
  const missing = await post(body, null);
  assert.equal(missing.status, 401);
  assert.equal(missing.body.error.code, 'SIGNATURE_MISSING');
  assert.equal((await post(body, '%%%')).body.error.code, 'SIGNATURE_MALFORMED');
  const wrong = await post(body, sign('sha256', Buffer.from(body), other.privateKey).toString('base64'));
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.error.code, 'SIGNATURE_INVALID');
  const tampered = await post(
    body.replace('do not', 'please'),
    sign('sha256', Buffer.from(body), privateKey).toString('base64'),
  );
  assert.equal(tampered.body.error.code, 'SIGNATURE_INVALID');
  assert.equal(written.length, 0);
  assert.deepEqual(
    warnings.map((w) => w.reason),
    ['SIGNATURE_MISSING', 'SIGNATURE_MALFORMED', 'SIGNATURE_INVALID', 'SIGNATURE_INVALID'],
  );
  assert.doesNotMatch(JSON.stringify(warnings), /do not log me|BEGIN/);
});

test('signed but not JSON, or not a webhook we can map → 400 naming the problem', async () => {
  const malformed = await post('{"action": ');
  assert.equal(malformed.status, 400);
  assert.equal(malformed.body.error.code, 'MALFORMED_JSON');
  assert.equal((await post(Buffer.from([0x7b, 0xff, 0x7d]))).body.error.code, 'INVALID_UTF8');
  assert.equal((await post('{"__proto__": {}}')).body.error.code, 'FORBIDDEN_KEY');
  const unmappable = await post(JSON.stringify({ action: 'message_create', data: { message: 'x' } }));
  assert.equal(unmappable.status, 400);
  assert.equal(unmappable.body.error.code, 'INVALID_PAYLOAD');
  assert.deepEqual(unmappable.body.error.details, { field: 'data.message' });
  assert.equal(written.length, 0);
  assert.deepEqual(warnings.at(-1)?.details, { field: 'data.message' });
});

test('a body over the limit → 413 before anything else', async () => {
  const res = await post(Buffer.alloc(65 * 1024, 0x20), 'irrelevant');
  assert.equal(res.status, 413);
  assert.equal(res.body.error.code, 'PAYLOAD_TOO_LARGE');
});

test('Kafka unavailable (retriable) → 503 with Retry-After; not remembered as accepted', async () => {
  const body = JSON.stringify(message());
  failWith = Object.assign(new Error('broker down'), { retriable: true });
  const res = await post(body);
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('retry-after'), '5');
  assert.equal(res.body.error.code, 'KAFKA_UNAVAILABLE');
  failWith = undefined;
  assert.deepEqual((await post(body)).body, { accepted: 1 }, 'the redelivery is written');
  assert.equal(written.length, 1);
});

test('any other write failure → 500 without its message', async () => {
  failWith = new Error('schema registry said no: secret detail');
  const res = await post(JSON.stringify(message()));
  assert.equal(res.status, 500);
  assert.equal(res.body.error.code, 'WRITE_FAILED');
  assert.doesNotMatch(JSON.stringify(res.body), /secret/);
});

test('a redelivery within the window is answered as a duplicate without writing', async () => {
  const body = JSON.stringify(message());
  assert.deepEqual((await post(body)).body, { accepted: 1 });
  assert.deepEqual((await post(body)).body, { accepted: 0, duplicate: true });
  const event = JSON.stringify({
    actor: { actor_type: 'agent', actor_id: 'a1' },
    action: 'conversation_resolution',
    action_time: '2022-11-22T11:00:00.000Z',
    data: { resolve: { resolver: 'agent', resolver_id: 'a1', conversation: { conversation_id: 'c1' } } },
  });
  assert.deepEqual((await post(event)).body, { accepted: 1 });
  // Same event, re-serialized differently (as a retry might be): same event_id, still a duplicate.
  const again = JSON.stringify(JSON.parse(event), null, 2);
  assert.deepEqual((await post(again)).body, { accepted: 0, duplicate: true });
  assert.equal(written.length, 2);
});

test('other methods on the webhook path → 405 from the router', async () => {
  const res = await fetch(`${service.url}${PATH}`);
  assert.equal(res.status, 405);
  assert.equal(res.headers.get('allow'), 'POST');
});
