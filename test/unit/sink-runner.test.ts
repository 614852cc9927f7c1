/**
 * The sink runner's decisions, driven through `SinkRunner.handle` with a fake consumer, a fake
 * dead-letter producer, a fake decoder and a fake sink (pure logic: no Kafka, no database).
 * The real stack is in test/integration/sink-runner*.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EachBatchPayload } from 'kafkajs';
import { loadConfig } from '../../cli/settings.ts';
import { SinkRunner } from '../../consumers/runner.ts';
import type { Batch, Sink, SinkRecord, WriteResult } from '../../consumers/sink.ts';
import { type ChatstreamError, EXIT, FatalError, PoisonError, RetriableError } from '../../core/errors.ts';
import { createLogger } from '../../core/log.ts';
import type { DeadLetter } from '../../kafka/dead-letters.ts';

const TOPIC = 't';
const SCHEMA = { type: 'record' as const, name: 'R', fields: [{ name: 'id', type: 'string' }] };

/** Everything the fakes saw, in order: `letters:<offsets>`, `write:<first>-<last>`, `commit:<next>`, … */
type Events = string[];

class FakeConsumer {
  readonly events = { CRASH: 'consumer.crash', GROUP_JOIN: 'consumer.group_join' };
  private readonly pausedTopics = new Set<string>();
  commits: number[] = [];
  disconnected = false;
  private readonly log: Events;
  constructor(log: Events) {
    this.log = log;
  }
  pause(topics: { topic: string; partitions?: number[] }[]) {
    for (const { topic, partitions } of topics)
      for (const p of partitions ?? [0, 1, 2]) this.pausedTopics.add(`${topic}:${p}`);
  }
  resume(topics: { topic: string; partitions?: number[] }[]) {
    for (const { topic, partitions } of topics)
      for (const p of partitions ?? [0, 1, 2]) this.pausedTopics.delete(`${topic}:${p}`);
  }
  paused() {
    return [...this.pausedTopics].map((tp) => ({
      topic: tp.split(':')[0],
      partitions: [Number(tp.split(':')[1])],
    }));
  }
  isPaused() {
    return this.pausedTopics.size > 0;
  }
  async commitOffsets(offsets: { topic: string; partition: number; offset: string }[]) {
    for (const o of offsets) {
      this.commits.push(Number(o.offset));
      this.log.push(`commit:${o.offset}`);
    }
  }
  on() {
    return () => {};
  }
  async disconnect() {
    this.disconnected = true;
  }
}

class FakeDlq {
  readonly topic = 'dlq';
  sends: DeadLetter[][] = [];
  failuresLeft = 0;
  private readonly log: Events;
  constructor(log: Events) {
    this.log = log;
  }
  async send(letters: DeadLetter[]) {
    if (letters.length === 0) return;
    if (this.failuresLeft > 0) {
      this.failuresLeft -= 1;
      throw new RetriableError('injected: Kafka unavailable');
    }
    this.sends.push(letters);
    this.log.push(`letters:${letters.map((l) => l.headers['dlq.offset']).join(',')}`);
  }
  get sent(): DeadLetter[] {
    return this.sends.flat();
  }
  async connect() {}
  async close() {}
}

/** Values are JSON; `{"poison":true}` does not decode. */
class FakeDecoder {
  decodeKnown(bytes: Buffer | null) {
    const value = JSON.parse(String(bytes)) as Record<string, unknown>;
    if (value.poison) throw new PoisonError('undecodable', 'injected: not Avro');
    return { schema: { id: 1, schema: SCHEMA, type: undefined }, value };
  }
  async decode(bytes: Buffer | null) {
    return this.decodeKnown(bytes);
  }
}

/** A sink that stores in memory, with hooks to make writes fail or wait. */
class FakeSink implements Sink {
  readonly name = 'fake';
  stored: bigint | undefined;
  rows: SinkRecord[] = [];
  writes = 0;
  storedOffsetFailures = 0;
  /** Called for each write before it is stored; may throw or wait. */
  onWrite: (batch: Batch) => Promise<WriteResult | undefined> = async () => undefined;
  private readonly log: Events;
  constructor(log: Events) {
    this.log = log;
  }
  async connect() {}
  async storedOffset(): Promise<bigint | undefined> {
    if (this.storedOffsetFailures > 0) {
      this.storedOffsetFailures -= 1;
      throw new RetriableError('injected: destination unavailable');
    }
    return this.stored;
  }
  async writeBatch(batch: Batch): Promise<WriteResult> {
    const result = (await this.onWrite(batch)) ?? { rejected: [] };
    this.writes += 1;
    const bad = new Set(result.rejected.map((r) => r.record.offset));
    this.rows.push(...batch.records.filter((r) => !bad.has(r.offset)));
    this.stored = (batch.records.at(-1) as SinkRecord).offset;
    this.log.push(`write:${batch.records[0]?.offset}-${this.stored}`);
    return result;
  }
  async close() {}
}

interface Message {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: string;
}

function messages(count: number, poison: (i: number) => boolean = () => false, from = 0): Message[] {
  return Array.from({ length: count }, (_, i) => ({
    offset: String(from + i),
    key: Buffer.from(`k${from + i}`),
    value: Buffer.from(JSON.stringify(poison(from + i) ? { poison: true } : { id: `r${from + i}` })),
    timestamp: String(1_763_800_000_000 + i),
  }));
}

interface Harness {
  runner: SinkRunner;
  sink: FakeSink;
  consumer: FakeConsumer;
  dlq: FakeDlq;
  log: Events;
  heartbeats: number[];
  /** What onFatal received. */
  fatal: ChatstreamError[];
  handle(
    list: Message[],
    options?: { heartbeat?: () => Promise<void>; highWatermark?: string; partition?: number },
  ): Promise<void>;
}

function harness(sinkOverrides: Partial<ReturnType<typeof loadConfig>['sink']> = {}): Harness {
  const base = loadConfig({ env: {} });
  const config = {
    ...base,
    sink: { ...base.sink, retryInitialMs: 5, retryMaxMs: 20, batchMaxRows: 1000, ...sinkOverrides },
  };
  const log: Events = [];
  const sink = new FakeSink(log);
  const fatal: ChatstreamError[] = [];
  const runner = new SinkRunner({
    config,
    sink,
    log: createLogger('test.sink-runner'),
    topics: [TOPIC],
    group: 'g',
    onFatal: (error: ChatstreamError) => fatal.push(error),
    stallMs: 200,
  });
  const consumer = new FakeConsumer(log);
  const dlq = new FakeDlq(log);
  const internals = runner as unknown as Record<string, unknown>;
  internals.consumer = consumer;
  internals.dlq = dlq;
  internals.decoder = new FakeDecoder();
  const heartbeats: number[] = [];
  return {
    runner,
    sink,
    consumer,
    dlq,
    log,
    heartbeats,
    fatal,
    handle: (list, options = {}) => {
      const partition = options.partition ?? 0;
      const payload = {
        batch: {
          topic: TOPIC,
          partition,
          highWatermark: options.highWatermark ?? String(Number(list.at(-1)?.offset ?? -1) + 1),
          messages: list,
        },
        resolveOffset: () => {},
        heartbeat: async () => {
          heartbeats.push(Date.now());
          await options.heartbeat?.();
        },
        isStale: () => false,
        isRunning: () => true,
        pause: () => () => {},
        commitOffsetsIfNecessary: async () => {},
        uncommittedOffsets: () => ({ topics: [] }),
      } as unknown as EachBatchPayload;
      return (internals.handle as (p: EachBatchPayload) => Promise<void>).call(runner, payload);
    },
  };
}

const index = (log: Events, predicate: (event: string) => boolean) => log.findIndex(predicate);

/** Offsets a `write:a-b` event stores (b) and the offset a `commit:n` covers (n - 1). */
function covers(event: string): bigint | undefined {
  const write = /^write:\d+-(\d+)$/.exec(event);
  if (write) return BigInt(write[1] as string);
  const commit = /^commit:(\d+)$/.exec(event);
  return commit ? BigInt(commit[1] as string) - 1n : undefined;
}

/** Every dead letter is acknowledged before any stored or committed offset covers it. */
function assertLettersFirst(log: Events): void {
  for (const [at, event] of log.entries()) {
    if (!event.startsWith('letters:')) continue;
    for (const offset of event.slice('letters:'.length).split(',').map(BigInt)) {
      const first = index(log, (e) => (covers(e) ?? -1n) >= offset);
      assert.ok(first === -1 || first > at, `letter ${offset} sent after ${log[first]}: ${log.join(' ')}`);
    }
  }
}

// --- Defect 1: dead letters ---------------------------------------------------------------

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
  for (let i = 0; i < 50 && h.fatal.length === 0; i++) await sleep(20);
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
  for (let i = 0; i < 50 && h.fatal.length === 0; i++) await sleep(20);
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
