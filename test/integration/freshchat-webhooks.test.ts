/**
 * The webhook receiver as a real process on the real stack, fed by the simulator's signed
 * deliveries: valid signatures accepted once Kafka has the records; tampered bodies, wrong
 * keys and missing headers refused with 401; emoji and Korean text verify; a redelivery adds
 * nothing.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { PROJECT_ROOT } from '../../core/settings.ts';
import { FreshchatSimulator } from '../../producers/freshchat/simulator/index.ts';
import { freshchatEnv, recordsOf } from '../helpers/freshchat.ts';
import { freePort } from '../helpers/names.ts';
import { duplicateKeys } from '../helpers/topic-records.ts';

let sim: FreshchatSimulator;
let receiver: ChildProcess;
let url: string;
let env: NodeJS.ProcessEnv;

before(async () => {
  sim = await FreshchatSimulator.start({ seed: 3, initial: { users: 5 } });
  const port = await freePort();
  env = {
    ...freshchatEnv(sim),
    FRESHCHAT_WEBHOOK_PORT: String(port),
    FRESHCHAT_WEBHOOK_PUBLIC_KEY: sim.publicKeyPem.replace(/\n/g, '\\n'),
  };
  url = `http://127.0.0.1:${port}/freshchat/webhooks`;
  receiver = spawn(process.execPath, [join(PROJECT_ROOT, 'cli', 'main.ts'), 'freshchat', 'webhooks'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  receiver.stderr?.on('data', (d) => {
    stderr += d;
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await request(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.statusCode === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline || receiver.exitCode !== null)
      throw new Error(`receiver did not start: ${stderr}`);
    await sleep(200);
  }
});

after(async () => {
  receiver.kill('SIGTERM');
  await new Promise((resolve) => receiver.once('close', resolve));
  await sim.stop();
});

function messageCreate(text: string) {
  const message = sim.snapshot().messages[0] as unknown as Record<string, unknown>;
  const id = `wh-${Math.random().toString(16).slice(2)}`;
  return {
    id,
    payload: {
      actor: { actor_type: 'user', actor_id: message.actor_id },
      action: 'message_create',
      action_time: new Date().toISOString(),
      data: { message: { ...message, id, message_parts: [{ text: { content: text } }] } },
    },
  };
}

test('a validly signed message_create is accepted once Kafka has it; emoji and Korean verify', async () => {
  const { id, payload } = messageCreate('안녕하세요 👋 — ça va? 🎉');
  const result = await sim.sendWebhook(payload, { url });
  assert.equal(result.status, 200, result.body);
  assert.deepEqual(JSON.parse(result.body), { accepted: 1 });
  const records = await recordsOf(env, 'freshchat.messages');
  const written = records.find((r) => r.key === id);
  assert.ok(written, 'the message is in Kafka when the answer comes');
  assert.match(String(written.value?.message_parts), /안녕하세요 👋/);
});

test('tampered body, wrong key, missing or malformed signature → 401 with a JSON body, nothing written', async () => {
  const before = (await recordsOf(env, 'freshchat.messages')).length;
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
  const cases: [string, Parameters<FreshchatSimulator['sendWebhook']>[1], string][] = [
    ['tampered', { url, tamper: true }, 'SIGNATURE_INVALID'],
    ['wrong key', { url, signWith: other }, 'SIGNATURE_INVALID'],
    ['missing', { url, omitSignature: true }, 'SIGNATURE_MISSING'],
  ];
  for (const [name, options, code] of cases) {
    const result = await sim.sendWebhook(messageCreate('x').payload, options);
    assert.equal(result.status, 401, `${name}: ${result.body}`);
    assert.equal(JSON.parse(result.body).error.code, code, name);
  }
  const malformed = await request(url, {
    method: 'POST',
    body: '{}',
    headers: { 'x-freshchat-signature': '%%%not base64%%%' },
  });
  assert.equal(malformed.statusCode, 401);
  await malformed.body.text();
  assert.equal((await recordsOf(env, 'freshchat.messages')).length, before);
});

test('bad JSON → 400 naming the problem; a too large body → 413; the receiver stays up', async () => {
  const badJson = await sim.sendWebhook('{"action": "message_create", ', { url });
  assert.equal(badJson.status, 400, badJson.body);
  assert.equal(JSON.parse(badJson.body).error.code, 'MALFORMED_JSON');
  const noMessage = await sim.sendWebhook(
    { action: 'message_create', action_time: new Date().toISOString(), data: {} },
    { url },
  );
  assert.equal(noMessage.status, 400, noMessage.body);
  assert.match(noMessage.body, /data\.message/);
  const big = await sim.sendWebhook(JSON.stringify({ action: 'x', pad: 'a'.repeat(2 * 1024 * 1024) }), {
    url,
  });
  assert.equal(big.status, 413);
  const health = await request(url.replace('/freshchat/webhooks', '/healthz'));
  assert.equal(health.statusCode, 200);
  await health.body.text();
});

test('conversation events (resolution, reopen, assignment, unknown) land in conversation_events; a redelivery adds nothing', async () => {
  const conversation = sim.snapshot().conversations[0] as unknown as Record<string, unknown>;
  const time = new Date().toISOString();
  const resolve = {
    actor: { actor_type: 'agent', actor_id: 'a1' },
    action: 'conversation_resolution',
    action_time: time,
    data: {
      resolve: {
        resolver: 'agent',
        resolver_id: 'a1',
        conversation: {
          conversation_id: conversation.conversation_id,
          status: 'resolved',
          app_id: conversation.app_id,
        },
      },
    },
  };
  const unknown = {
    actor: { actor_type: 'system', actor_id: 's' },
    action: 'conversation_label_added',
    action_time: time,
    data: { label: { conversation_id: conversation.conversation_id, name: 'vip' } },
  };
  for (const payload of [resolve, unknown]) {
    const result = await sim.sendWebhook(payload, { url });
    assert.equal(result.status, 200, result.body);
  }
  const again = await sim.sendWebhook(resolve, { url, retryCount: 1 });
  assert.equal(again.status, 200);
  const events = await recordsOf(env, 'freshchat.conversation_events');
  assert.deepEqual(events.map((e) => e.value?.action).sort(), [
    'conversation_label_added',
    'conversation_resolution',
  ]);
  assert.deepEqual(duplicateKeys(events.map((e) => ({ key: String(e.value?.event_id) }))), []);
  const kept = events.find((e) => e.value?.action === 'conversation_label_added');
  assert.match(String(kept?.value?.raw), /"vip"/, 'an unknown action is kept as raw JSON');
});
