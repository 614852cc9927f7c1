/**
 * Webhooks from the Freshchat simulator, received by a local server: RSA-SHA256 signatures
 * over the exact body bytes, the envelopes, retries with X-Retry-Count, and tampering.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, verify } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, test } from 'node:test';
import type { Logger } from '../../core/log.ts';
import {
  FreshchatSimulator,
  signBody,
  type WebhookPayload,
} from '../../producers/freshchat/simulator/index.ts';
import { quiet } from '../helpers/simulator.ts';

interface Received {
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A receiver that records raw bodies and answers `failures` 500s before answering 200s. */
let received: Received[] = [];
let failures = 0;
let receiver: Server;
let url: string;
let sim: FreshchatSimulator;

before(async () => {
  receiver = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    received.push({ headers: req.headers, body: Buffer.concat(chunks) });
    res.statusCode = failures-- > 0 ? 500 : 200;
    res.end(res.statusCode === 200 ? 'ok' : 'fail');
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  sim = await FreshchatSimulator.start({
    seed: 13,
    log: quiet,
    webhookUrl: url,
    webhooks: { retryDelayMs: 5 },
  });
});
after(async () => {
  await sim.stop();
  await new Promise((resolve) => receiver.close(resolve));
});
beforeEach(() => {
  received = [];
  failures = 0;
});

const verifies = (r: Received, key = sim.publicKeyPem): boolean =>
  verify('sha256', r.body, key, Buffer.from(String(r.headers['x-freshchat-signature']), 'base64'));

test('sendWebhook signs the exact bytes; the signature verifies with the public key (Korean, emoji)', async () => {
  const text =
    '{"actor":{"actor_type":"user","actor_id":"u1"},"action":"message_create","action_time":"2025-07-01T12:00:00.000Z","data":{"message":{"message_parts":[{"text":{"content":"안녕하세요 👋🏽 café"}}]}}}';
  const answer = await sim.sendWebhook(text);
  assert.deepEqual(answer, { status: 200, body: 'ok' });
  const [r] = received;
  assert.ok(r);
  assert.equal(r.body.toString('utf8'), text, 'the body is sent exactly as given');
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.headers['x-freshchat-payload-version'], '1');
  assert.equal(r.headers['x-retry-count'], '0');
  assert.ok(verifies(r));
  assert.equal(signBody(text, sim.privateKeyPem), r.headers['x-freshchat-signature']);
  // Decoding and re-encoding differently breaks the check: verify on raw bytes.
  assert.ok(
    !verify(
      'sha256',
      Buffer.from(r.body.toString('latin1'), 'utf8'),
      sim.publicKeyPem,
      Buffer.from(String(r.headers['x-freshchat-signature']), 'base64'),
    ),
  );
});

test('tamper, another key and a missing signature all fail verification', async () => {
  const payload = { action: 'message_create', data: { message: { id: 'm1' } } };
  await sim.sendWebhook(payload, { tamper: true });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  });
  await sim.sendWebhook(payload, { signWith: String(other) });
  await sim.sendWebhook(payload, { omitSignature: true, retryCount: 4 });
  const [tampered, foreign, unsigned] = received;
  assert.ok(tampered && foreign && unsigned);
  assert.doesNotThrow(() => JSON.parse(tampered.body.toString()), 'still JSON');
  assert.ok(!verifies(tampered));
  assert.ok(!verifies(foreign));
  assert.equal(unsigned.headers['x-freshchat-signature'], undefined);
  assert.equal(unsigned.headers['x-retry-count'], '4');
});

test('growth events are delivered signed, in order, shaped per SOURCES.md part 2', async () => {
  const events: WebhookPayload[] = [];
  for (let i = 0; i < 8; i++) events.push(...(await sim.tick()).events);
  assert.equal(received.length, events.length);
  const bodies = received.map((r) => JSON.parse(r.body.toString('utf8')) as WebhookPayload);
  assert.deepEqual(bodies, events);
  assert.ok(received.every((r) => verifies(r)));
  for (const e of bodies) {
    assert.deepEqual(Object.keys(e), ['actor', 'action', 'action_time', 'data']);
    assert.match(e.action_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  }
  const message = bodies.find((e) => e.action === 'message_create')!;
  const m = message.data.message as { id: string; actor_id: string; created_time: string };
  assert.equal(message.actor.actor_id, m.actor_id);
  assert.ok(m.created_time <= message.action_time);
  assert.deepEqual(
    sim.snapshot().messages.find((x) => x.id === m.id),
    m,
  );
  const status = bodies.find((e) => e.action !== 'message_create');
  assert.ok(status, 'some status change in 8 ticks');
  const key = {
    conversation_resolution: 'resolve',
    conversation_reopen: 'reopen',
    conversation_assignment: 'assignment',
  }[status.action as 'conversation_resolution'];
  const inner = status.data[key] as Record<string, unknown>;
  assert.ok(inner.conversation && inner.interaction_id);
  if (status.action === 'conversation_assignment')
    for (const k of [
      'assignor',
      'assignor_id',
      'to_agent_id',
      'to_group_id',
      'from_agent_id',
      'from_group_id',
    ])
      assert.ok(k in inner, k);
});

test('a failed delivery is retried with X-Retry-Count counting up', async () => {
  failures = 2;
  const [message] = await sim.addMessages(1);
  assert.ok(message);
  assert.deepEqual(
    received.map((r) => r.headers['x-retry-count']),
    ['0', '1', '2'],
  );
  assert.ok(received.every((r) => verifies(r)));
  assert.equal(new Set(received.map((r) => r.body.toString())).size, 1, 'the same body each time');
});

test('an unreachable receiver is retried a bounded number of times, logged, never thrown', async () => {
  const errors: string[] = [];
  const log: Logger = { ...quiet, error: (msg) => errors.push(msg), child: () => log };
  const dead = await FreshchatSimulator.start({
    seed: 13,
    log,
    webhookUrl: 'http://127.0.0.1:9/hook',
    webhooks: { retries: 2, retryDelayMs: 1 },
  });
  try {
    const started = Date.now();
    const messages = await dead.addMessages(2);
    assert.equal(messages.length, 2);
    assert.ok(Date.now() - started < 2000);
    const stats = dead.stats();
    const dropped = stats['webhooks.dropped'] ?? 0;
    assert.ok(dropped >= 2, 'each event given up on');
    assert.equal(stats['webhooks.retries'], 2 * dropped);
    assert.equal(errors.length, dropped);
  } finally {
    await dead.stop();
  }
});
