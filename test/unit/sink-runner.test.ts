/**
 * The sink runner's decisions, driven through `SinkRunner.handle` with a fake consumer, a fake
 * dead-letter producer, a fake decoder and a fake sink (pure logic: no Kafka, no database).
 * The real stack is in test/integration/sink-runner*.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Batch, WriteResult } from '../../consumers/sink.ts';
import { EXIT, FatalError, PoisonError, RetriableError } from '../../core/errors.ts';
import { assertLettersFirst, fatalReported, harness, messages } from '../helpers/sink-runner-harness.ts';

test('dead letters are acknowledged before the write that stores an offset covering them, and before the commit', async () => {
  const h = harness({ batchMaxRows: 4 });
  await h.handle(messages(12, (i) => i === 2 || i === 9));
  assert.deepEqual(
    h.dlq.sent.map((l) => l.headers['dlq.offset']),
    ['2', '9'],
  );
  assert.equal(h.sink.rows.length, 10);
  assert.deepEqual(h.consumer.commits.at(-1), 12);
  assertLettersFirst(h.log);
});

test('a sink can hand its rejected rows to the runner before it stores their offset (batch.deadLetter)', async () => {
  const h = harness();
  h.sink.onWrite = async (batch) => {
    const rejected = batch.records
      .filter((r) => r.offset % 3n === 0n)
      .map((record) => ({ record, reason: 'bad' }));
    // As a sink does it: rejected rows acknowledged, then rows and offset stored.
    await (batch as Batch & { deadLetter: (r: WriteResult['rejected']) => Promise<void> }).deadLetter(
      rejected,
    );
    return { rejected };
  };
  await h.handle(messages(10));
  assert.deepEqual(
    h.dlq.sent.map((l) => l.headers['dlq.offset']),
    ['0', '3', '6', '9'],
    'each rejected row once',
  );
  assert.ok(h.dlq.sent.every((l) => l.kind === 'bad_data' && l.value !== null));
  assertLettersFirst(h.log);
});

test('a burst of poison goes out in bounded sends (count and bytes), each acknowledged before the commit', async () => {
  const h = harness();
  const list = messages(3000, () => true).map((m) => ({
    ...m,
    value: Buffer.from('{"poison":true}'),
    key: Buffer.from('k'.repeat(1000)),
  }));
  await h.handle(list);
  assert.equal(h.dlq.sent.length, 3000);
  assert.ok(h.dlq.sends.length > 1, 'more than one send');
  for (const send of h.dlq.sends) {
    const bytes = send.reduce(
      (sum, l) =>
        sum +
        (l.key?.length ?? 0) +
        (l.value?.length ?? 0) +
        l.reason.length +
        Object.entries(l.headers).reduce((s, [k, v]) => s + k.length + v.length, 0),
      0,
    );
    assert.ok(send.length <= 1000, `${send.length} letters in one send`);
    assert.ok(bytes <= 512 * 1024, `${bytes} bytes in one send`);
  }
  assert.deepEqual(h.consumer.commits, [3000]);
  assertLettersFirst(h.log);
});

test('a failed dead-letter send is retried and nothing is committed before it succeeds', async () => {
  const h = harness();
  h.dlq.failuresLeft = 3;
  await h.handle(messages(5, (i) => i === 1));
  assert.deepEqual(
    h.dlq.sent.map((l) => l.headers['dlq.offset']),
    ['1'],
  );
  assertLettersFirst(h.log);
  assert.deepEqual(h.consumer.commits, [5]);
});

// --- Defect 2: no pause without a way out; health and lag tell the truth -------------------

test('a retry that ends with nothing to write leaves no partition paused', async () => {
  const h = harness();
  h.sink.stored = 9n; // everything in the batch is stored already
  h.sink.storedOffsetFailures = 2;
  await h.handle(messages(10));
  assert.equal(h.sink.writes, 0);
  assert.deepEqual(h.consumer.paused(), [], 'nothing stays paused');
  assert.deepEqual(h.consumer.commits, [10]);
});

test('a retry that ends with only poison to dead-letter leaves no partition paused', async () => {
  const h = harness();
  h.dlq.failuresLeft = 2;
  await h.handle(messages(4, () => true));
  assert.equal(h.dlq.sent.length, 4);
  assert.deepEqual(h.consumer.paused(), [], 'nothing stays paused');
});

test('a rebalance during an outage ends the batch (kafkajs rejoins) without leaving anything paused or committed', async () => {
  const h = harness();
  h.sink.onWrite = async () => {
    throw new RetriableError('injected: destination unavailable');
  };
  const rebalance = Object.assign(new Error('The group is rebalancing, so a rejoin is needed'), {
    name: 'KafkaJSProtocolError',
    type: 'REBALANCE_IN_PROGRESS',
    retriable: false,
  });
  let beats = 0;
  await assert.rejects(
    h.handle(messages(10), {
      heartbeat: async () => {
        beats += 1;
        if (beats >= 2) throw rebalance;
      },
    }),
    (error: Error) => (error as { type?: string }).type === 'REBALANCE_IN_PROGRESS',
  );
  assert.deepEqual(h.consumer.paused(), [], 'nothing stays paused after the rebalance');
  assert.deepEqual(h.consumer.commits, []);
  assert.equal(h.fatal.length, 0);
});

test('the lag gauge is set when a batch arrives, not only on commit; /health reports a stalled partition', async () => {
  const h = harness();
  let release: () => void = () => {};
  let failing = true;
  h.sink.onWrite = async () => {
    if (failing) throw new RetriableError('injected: destination unavailable');
    await new Promise<void>((resolve) => {
      release = resolve;
    });
    return undefined;
  };
  const running = h.handle(messages(50), { highWatermark: '80' });
  await sleep(300);
  const text = await h.runner.metrics.metrics();
  assert.match(text, /chatstream_sink_lag\{topic="t",partition="0"\} 80/);
  const health = h.runner.health();
  assert.equal(health.ok, false, 'a partition waiting longer than the stall limit is not healthy');
  assert.equal((health.waiting as unknown[]).length, 1);
  failing = false;
  await sleep(100);
  release();
  await running;
  assert.match(await h.runner.metrics.metrics(), /chatstream_sink_lag\{topic="t",partition="0"\} 30/);
  const after = h.runner.health();
  assert.deepEqual(after.waiting, []);
});

// --- Defect 3: errors decided once ---------------------------------------------------------

test('a PoisonError thrown from a write isolates the bad rows as dead letters; the good ones are written', async () => {
  const h = harness();
  const bad = new Set([3n, 4n, 17n]);
  h.sink.onWrite = async (batch) => {
    if (batch.records.some((r) => bad.has(r.offset)))
      throw new PoisonError('bad_data', 'injected: ClickHouse CANNOT_PARSE_DATETIME (41)');
    return undefined;
  };
  await h.handle(messages(20));
  assert.deepEqual(
    h.dlq.sent.map((l) => [l.headers['dlq.offset'], l.kind]),
    [
      ['3', 'bad_data'],
      ['4', 'bad_data'],
      ['17', 'bad_data'],
    ],
  );
  assert.equal(h.sink.rows.length, 17);
  assert.deepEqual(h.consumer.commits.at(-1), 20);
  assertLettersFirst(h.log);
  assert.equal(h.fatal.length, 0);
});

test('an authentication failure from the sink stops the runner with exit 3, commits nothing and is not retried', async () => {
  const h = harness();
  h.sink.onWrite = async () => {
    throw new FatalError('ClickHouse AUTHENTICATION_FAILED (516): bad password', {
      code: 'CLICKHOUSE_AUTH',
      exitCode: EXIT.config,
      hint: 'check CHATSTREAM_CLICKHOUSE_USER and CHATSTREAM_CLICKHOUSE_PASSWORD',
    });
  };
  await h.handle(messages(10));
  await fatalReported(h);
  assert.equal(h.fatal.length, 1);
  assert.equal(h.fatal[0]?.exitCode, 3);
  assert.match(h.fatal[0]?.message ?? '', /AUTHENTICATION_FAILED/);
  assert.deepEqual(h.consumer.commits, []);
  assert.equal(h.sink.writes, 0);
  assert.ok(h.consumer.disconnected, 'the consumer is stopped');
  const health = h.runner.health();
  assert.equal(health.ok, false);
});

test('an unexpected error (a bug) stops the runner with exit 1 and the cause, instead of escaping into kafkajs', async () => {
  const h = harness();
  h.sink.onWrite = async () => {
    throw new TypeError("Cannot read properties of undefined (reading 'x')");
  };
  await h.handle(messages(3));
  await fatalReported(h);
  assert.equal(h.fatal[0]?.exitCode, 1);
  assert.match(String((h.fatal[0]?.cause as Error)?.message), /reading 'x'/);
  assert.deepEqual(h.consumer.commits, []);
});

// --- Defect 9: long writes heartbeat; no quadratic bookkeeping -----------------------------

test('a long write keeps heartbeating so the session outlives it', async () => {
  const h = harness();
  let during: number[] = [];
  h.sink.onWrite = async () => {
    const started = Date.now();
    await sleep(2600);
    during = h.heartbeats.filter((t) => t >= started);
    return undefined;
  };
  await h.handle(messages(5));
  assert.ok(during.length >= 2, `${during.length} heartbeats during a 2.6 s write`);
});

test('rejecting 30k rows of one write costs linear time (no per-row search of the batch)', {
  timeout: 60_000,
}, async () => {
  const h = harness({ batchMaxRows: 100_000 });
  h.sink.onWrite = async (batch) => ({
    rejected: batch.records.map((record) => ({ record, reason: 'bad' })),
  });
  const started = Date.now();
  await h.handle(messages(30_000));
  const ms = Date.now() - started;
  assert.equal(h.dlq.sent.length, 30_000);
  assert.ok(ms < 5000, `took ${ms} ms`);
});
