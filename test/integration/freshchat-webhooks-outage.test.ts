/**
 * The webhook receiver while Kafka is down, on a throw-away stack: deliveries are refused with
 * 503 + Retry-After (never a 2xx for something Kafka does not hold), the receiver stays up and
 * says so on /healthz, and once Kafka is back the redelivered webhooks are in Kafka.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { loadConfig } from '../../cli/settings.ts';
import { PROJECT_ROOT } from '../../core/settings.ts';
import { FreshchatSimulator, signBody } from '../../producers/freshchat/simulator/index.ts';
import { runCli } from '../helpers/cli.ts';
import { recordsOf } from '../helpers/freshchat.ts';
import { freePort, isolatedStackEnv, uniqueName } from '../helpers/names.ts';

let home: string;
let env: NodeJS.ProcessEnv;
let sim: FreshchatSimulator;

before(async () => {
  home = mkdtempSync(join(tmpdir(), 'chatstream-outage-'));
  const stack = await isolatedStackEnv(home, loadConfig().stack.cacheDir);
  sim = await FreshchatSimulator.start({ seed: 4, initial: { users: 2 } });
  const prefix = uniqueName('wo');
  env = {
    ...stack,
    CHATSTREAM_KAFKA_TOPIC_PREFIX: `${prefix}.`,
    CHATSTREAM_KAFKA_PARTITIONS: '1',
    CHATSTREAM_PRODUCER_METRICS_PORT: '0',
    CHATSTREAM_PRODUCER_RETRY_MAX_MS: '1000',
    FRESHCHAT_WEBHOOK_PORT: String(await freePort()),
    FRESHCHAT_WEBHOOK_PUBLIC_KEY: sim.publicKeyPem,
  };
  const up = await runCli(['stack', 'up', 'kafka', 'registry'], env);
  assert.equal(up.code, 0, up.stderr);
});

after(async () => {
  await runCli(['stack', 'down'], env);
  await sim.stop();
  rmSync(home, { recursive: true, force: true });
});

function payload(id: string) {
  const message = sim.snapshot().messages[0] as unknown as Record<string, unknown>;
  return {
    actor: { actor_type: 'user', actor_id: message.actor_id },
    action: 'message_create',
    action_time: new Date().toISOString(),
    data: { message: { ...message, id } },
  };
}

/** A signed delivery, as Freshchat sends it, waiting as long as the receiver takes. */
async function deliver(url: string, body: object, retryCount = 0): Promise<{ status: number; body: string }> {
  const text = JSON.stringify(body);
  const response = await request(url, {
    method: 'POST',
    body: text,
    headersTimeout: 60_000,
    headers: {
      'content-type': 'application/json',
      'x-freshchat-signature': signBody(text, sim.privateKeyPem),
      'x-retry-count': String(retryCount),
    },
  });
  return { status: response.statusCode, body: await response.body.text() };
}

test('Kafka down: 503 with Retry-After, /healthz says so; back up: redeliveries land', {
  timeout: 240_000,
}, async () => {
  const url = `http://127.0.0.1:${env.FRESHCHAT_WEBHOOK_PORT}/freshchat/webhooks`;
  const receiver = spawn(process.execPath, [join(PROJECT_ROOT, 'cli', 'main.ts'), 'freshchat', 'webhooks'], {
    env,
    detached: true,
  });
  let stderr = '';
  receiver.stderr.on('data', (d) => {
    stderr += d;
  });
  receiver.stdout.resume();
  try {
    for (let i = 0; ; i++) {
      const health = await request(url.replace('/freshchat/webhooks', '/healthz')).then(
        async (r) => {
          await r.body.text();
          return r.statusCode;
        },
        () => 0,
      );
      if (health === 200) break;
      assert.ok(i < 120, `receiver did not start: ${stderr}`);
      await sleep(500);
    }
    assert.equal((await deliver(url, payload('before-outage'))).status, 200);

    const down = await runCli(['stack', 'down', 'kafka'], env);
    assert.equal(down.code, 0, down.stderr);
    const started = Date.now();
    const first = await deliver(url, payload('during-1'));
    assert.equal(first.status, 503, first.body);
    assert.ok(Date.now() - started < 30_000, 'the answer came within the write timeout');
    const second = await deliver(url, payload('during-2'));
    assert.equal(second.status, 503, second.body);
    assert.equal(JSON.parse(second.body).error.code, 'KAFKA_UNAVAILABLE');
    const health = await request(url.replace('/freshchat/webhooks', '/healthz'));
    assert.equal(health.statusCode, 503);
    await health.body.text();

    const up = await runCli(['stack', 'up', 'kafka'], env);
    assert.equal(up.code, 0, up.stderr);
    // Freshchat redelivers until it gets a 2xx.
    for (const id of ['during-1', 'during-2']) {
      const deadline = Date.now() + 120_000;
      for (let retry = 1; ; retry++) {
        const again = await deliver(url, payload(id), retry);
        if (again.status === 200) break;
        assert.equal(again.status, 503, again.body);
        assert.ok(Date.now() < deadline, `no 2xx after Kafka returned: ${stderr.slice(-2000)}`);
        await sleep(1000);
      }
    }
    const keys = new Set((await recordsOf(env, 'freshchat.messages')).map((r) => r.key));
    for (const id of ['before-outage', 'during-1', 'during-2'])
      assert.ok(keys.has(id), `${id} is not in Kafka`);
    assert.equal(receiver.exitCode, null, 'the receiver stayed up');
  } finally {
    if (receiver.exitCode === null) process.kill(-(receiver.pid as number), 'SIGTERM');
    await new Promise((resolve) =>
      receiver.exitCode === null ? receiver.once('close', resolve) : resolve(null),
    );
  }
});
