/**
 * The sink runner's reliability on the real local stack (Kafka, the registry, ClickHouse): dead
 * letters survive a crash, a registry at a wrong path is not "unknown schema", kafkajs giving
 * up stops the sink with a message, long writes keep the session, /health and the lag gauge tell
 * the truth, fatal errors end the process with the documented exit codes, a burst of poison
 * fits the broker's message size. Sinks here are the real ClickHouse sink, at most wrapped to
 * slow it down or make it fail.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { Batch, Sink, WriteResult } from '../../consumers/sink.ts';
import { clickhouseSink } from '../../consumers/sinks/clickhouse/index.ts';
import { type ChatstreamError, RetriableError } from '../../core/errors.ts';
import { serveMetrics } from '../../core/metrics.ts';
import { runCli } from '../helpers/cli.ts';
import { freePort, uniqueName } from '../helpers/names.ts';
import { createTopic, produceAvro, produceRaw } from '../helpers/produce.ts';
import {
  base,
  committed,
  configFor,
  items,
  lettersOf,
  log,
  SCHEMA,
  start,
  stop,
  stopRunners,
  until,
  visible,
} from '../helpers/sink-runner-stack.ts';

after(stopRunners);

/** A ClickHouse sink that "dies" after its first write: that write lands, then every call fails as a crashed process would. */
class DiesAfterFirstWrite implements Sink {
  readonly name: string;
  dead = false;
  private readonly inner: Sink;
  constructor(inner: Sink) {
    this.inner = inner;
    this.name = inner.name;
  }
  connect() {
    return this.inner.connect();
  }
  storedOffset(group: string, topic: string, partition: number) {
    return this.inner.storedOffset(group, topic, partition);
  }
  async writeBatch(batch: Batch): Promise<WriteResult> {
    if (this.dead) throw new Error('injected: the process is gone');
    await this.inner.writeBatch(batch);
    this.dead = true;
    throw new Error('injected: crash after the write, before anything else');
  }
  close() {
    return this.inner.close();
  }
}

/** The real sink, each write delayed or failing while `failing` is set. */
class Slow implements Sink {
  readonly name: string;
  delayMs = 0;
  failing = false;
  writes = 0;
  private readonly inner: Sink;
  constructor(inner: Sink) {
    this.inner = inner;
    this.name = inner.name;
  }
  connect() {
    return this.inner.connect();
  }
  storedOffset(group: string, topic: string, partition: number) {
    return this.inner.storedOffset(group, topic, partition);
  }
  async writeBatch(batch: Batch) {
    if (this.failing) throw new RetriableError('injected: destination unavailable');
    await sleep(this.delayMs);
    this.writes += 1;
    return this.inner.writeBatch(batch);
  }
  close() {
    return this.inner.close();
  }
}

test('defect 1: a crash after the write, before the dead letters were sent, loses no dead letter', async () => {
  const config = configFor();
  const topic = uniqueName('run_dlq_crash');
  const group = uniqueName('g');
  await createTopic(config, topic, 1);
  await produceAvro(config, topic, SCHEMA, items(0, 50), (v) => String(v.id));
  await produceRaw(config, topic, [
    { key: 'bad-1', value: Buffer.from('not avro at all') },
    { key: 'bad-2', value: Buffer.from([0, 0, 0]) },
  ]);
  await produceAvro(config, topic, SCHEMA, items(50, 50), (v) => String(v.id));
  const dying = new DiesAfterFirstWrite(clickhouseSink.create({ config, log }));
  const first = await start(config, topic, group, dying);
  await until('the crash', () => dying.dead, 30_000);
  await sleep(500);
  await stop(first.runner);
  const second = await start(config, topic, group);
  await until('100 visible records', async () => (await visible(topic)) === 100);
  await until('committed to the end', async () => (await committed(config, group, topic)) === 102);
  const keys = new Set((await lettersOf(config, topic)).map((l) => l.key));
  assert.ok(keys.has('bad-1') && keys.has('bad-2'), `dead letters: ${[...keys].join(', ')}`);
  await stop(second.runner);
});

test('defect 1: a burst of large poison records fits the broker message size: every one is dead-lettered', async () => {
  // A dead-letter topic of one partition: every letter of the burst goes to the same partition.
  const config = configFor({}, { kafka: { ...base.kafka, partitions: 1 } });
  const topic = uniqueName('run_dlq_burst');
  const group = uniqueName('g');
  await createTopic(config, topic, 1);
  // 3000 × ~900 bytes = ~2.7 MB of poison: more than the broker's 1 MB message limit in one send.
  for (let i = 0; i < 3; i++)
    await produceRaw(
      config,
      topic,
      Array.from({ length: 1000 }, (_, j) => ({ key: `p-${i * 1000 + j}`, value: Buffer.alloc(900, 0x41) })),
    );
  await produceAvro(config, topic, SCHEMA, items(0, 10), (v) => String(v.id));
  const { runner, fatal } = await start(config, topic, group);
  await until('committed to the end', async () => (await committed(config, group, topic)) === 3010, 60_000);
  assert.equal((await lettersOf(config, topic)).length, 3000);
  assert.equal(await visible(topic), 10);
  assert.deepEqual(fatal, []);
  await stop(runner);
});

test('defect 8: a registry URL with a wrong path is found at start (exit 5 naming the setting), not taken for "unknown schema"', async () => {
  const config = configFor(
    {},
    { schemaRegistry: { ...base.schemaRegistry, url: `${base.schemaRegistry.url}/nope` } },
  );
  const topic = uniqueName('run_wrong_registry');
  const group = uniqueName('g');
  await createTopic(config, topic, 1);
  await produceAvro(base, topic, SCHEMA, items(0, 20), (v) => String(v.id));
  await assert.rejects(
    start(config, topic, group, undefined, { startTimeoutMs: 3000 }),
    (error: ChatstreamError) => {
      assert.equal(error.exitCode, 5, error.message);
      assert.match(error.message, /schema registry.*answered 404/);
      assert.match(`${error.message} ${error.hint}`, /CHATSTREAM_SCHEMA_REGISTRY_URL/);
      return true;
    },
  );
  assert.equal((await lettersOf(config, topic)).length, 0, 'no dead letters');
  assert.equal(await committed(config, group, topic), 0, 'nothing committed');
});

test('defect 3: kafkajs giving up (the broker refuses the session timeout) stops the sink with exit 3 and a message', async () => {
  // Below the broker's group.min.session.timeout.ms (6 s): the join fails for good, and kafkajs
  // reports it only through its CRASH event (consumer.run() itself resolves).
  const config = configFor({ sessionTimeoutMs: 5000 });
  const topic = uniqueName('run_crash');
  await createTopic(config, topic, 1);
  let failure: ChatstreamError | undefined;
  try {
    const { runner, fatal } = await start(config, topic, uniqueName('g'));
    await until('the fatal error', () => fatal.length > 0, 30_000);
    failure = fatal[0];
    assert.equal(runner.health().ok, false);
    await stop(runner);
  } catch (error) {
    if ((error as Error).name === 'AssertionError') throw error;
    failure = error as ChatstreamError; // start() itself rejects when the first join fails
  }
  assert.equal(failure?.exitCode, 3, String(failure));
  assert.match(failure?.message ?? '', /session timeout/i);
  assert.match(`${failure?.message} ${failure?.hint}`, /CHATSTREAM_SINK_SESSION_TIMEOUT_MS/);
});

test('defect 9: a write longer than the session keeps the group: one write, committed, no rebalance loop', async () => {
  const config = configFor({ sessionTimeoutMs: 6000 });
  const topic = uniqueName('run_long_write');
  const group = uniqueName('g');
  await createTopic(config, topic, 1);
  await produceAvro(config, topic, SCHEMA, items(0, 100), (v) => String(v.id));
  const slow = new Slow(clickhouseSink.create({ config, log }));
  slow.delayMs = 10_000;
  const { runner, fatal } = await start(config, topic, group, slow);
  await until('committed to the end', async () => (await committed(config, group, topic)) === 100, 40_000);
  assert.equal(slow.writes, 1, 'written once: the member kept its partition through the write');
  assert.deepEqual(fatal, []);
  await stop(runner);
});

test('defect 2: /health and the lag gauge tell the truth while the destination is down, and after', async () => {
  const config = configFor();
  const topic = uniqueName('run_health');
  const group = uniqueName('g');
  await createTopic(config, topic, 1);
  await produceAvro(config, topic, SCHEMA, items(0, 40), (v) => String(v.id));
  const slow = new Slow(clickhouseSink.create({ config, log }));
  slow.failing = true;
  const { runner } = await start(config, topic, group, slow, { stallMs: 1500 });
  const server = await serveMetrics(runner.metrics, {
    port: await freePort(),
    host: '127.0.0.1',
    setting: 'test',
    health: () => runner.health(),
  });
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  try {
    const get = async (path: string) => {
      const response = await request(`${url}${path}`);
      return { status: response.statusCode, body: await response.body.text() };
    };
    await until('an unhealthy /health', async () => (await get('/health')).status === 503, 20_000);
    const body = JSON.parse((await get('/health')).body);
    assert.equal(body.waiting.length, 1);
    assert.match(body.waiting[0].error, /destination unavailable/);
    assert.match(
      (await get('/metrics')).body,
      new RegExp(`chatstream_sink_lag\\{topic="${topic}",partition="0"\\} 40`),
    );
    slow.failing = false;
    await until('committed', async () => (await committed(config, group, topic)) === 40);
    await until('a healthy /health', async () => (await get('/health')).status === 200, 10_000);
    assert.match(
      (await get('/metrics')).body,
      new RegExp(`chatstream_sink_lag\\{topic="${topic}",partition="0"\\} 0`),
    );
  } finally {
    server.close();
  }
  await stop(runner);
});

test('defect 3: a service unreachable at start is exit 5 naming it, after a bounded wait (ClickHouse, then Kafka)', async () => {
  const topic = uniqueName('run_unreachable');
  await createTopic(base, topic, 1);
  const noClickhouse = configFor(
    {},
    { clickhouse: { ...base.clickhouse, url: `http://127.0.0.1:${await freePort()}` } },
  );
  const t0 = Date.now();
  await assert.rejects(
    start(noClickhouse, topic, uniqueName('g'), undefined, { startTimeoutMs: 3000 }),
    (error: ChatstreamError) => {
      assert.equal(error.exitCode, 5, error.message);
      assert.match(error.message, /clickhouse/i);
      return true;
    },
  );
  assert.ok(Date.now() - t0 < 30_000);
  const noKafka = configFor({}, { kafka: { ...base.kafka, brokers: [`127.0.0.1:${await freePort()}`] } });
  await assert.rejects(
    start(noKafka, topic, uniqueName('g'), undefined, { startTimeoutMs: 3000 }),
    (error: ChatstreamError) => {
      assert.equal(error.exitCode, 5, error.message);
      assert.match(`${error.message} ${error.hint}`, /CHATSTREAM_KAFKA_BROKERS/);
      return true;
    },
  );
});

test('defect 3: `chatstream sink clickhouse` with a wrong ClickHouse password exits 3 naming the setting (and does exit)', {
  // The runner closes everything it opened when start() fails, and the command its metrics
  // server, so the process does end.
}, async () => {
  const topic = uniqueName('run_auth');
  await createTopic(base, topic, 1);
  const result = await runCli(
    ['sink', 'clickhouse', '--topics', topic, '--group', uniqueName('g'), '--metrics-port', '0'],
    {
      ...process.env,
      CHATSTREAM_LOG_LEVEL: 'warn',
      CHATSTREAM_CLICKHOUSE_PASSWORD: 'certainly-wrong',
      CHATSTREAM_SINK_DEAD_LETTER_TOPIC: uniqueName('dlq'),
    },
    60_000,
  );
  assert.equal(result.code, 3, result.stderr.slice(-2000));
  assert.match(result.stderr, /CHATSTREAM_CLICKHOUSE_PASSWORD/);
  assert.doesNotMatch(result.stderr, /internal error/);
});

test('defect 3: `chatstream sink clickhouse` with Kafka unreachable at start exits 5 naming the setting (and does exit)', async () => {
  // The catalogue's topics are created as a start step, so this is not "internal error (a bug)".
  const started = Date.now();
  const result = await runCli(
    ['sink', 'clickhouse', '--metrics-port', '0'],
    {
      ...process.env,
      CHATSTREAM_LOG_LEVEL: 'warn',
      CHATSTREAM_KAFKA_BROKERS: `127.0.0.1:${await freePort()}`,
      CHATSTREAM_SINK_START_TIMEOUT_MS: '2000',
    },
    60_000,
  );
  assert.equal(result.code, 5, result.stderr.slice(-2000));
  assert.match(result.stderr, /kafka.*cannot be reached at start/i);
  assert.match(result.stderr, /CHATSTREAM_KAFKA_BROKERS/);
  assert.doesNotMatch(result.stderr, /internal error/);
  assert.ok(Date.now() - started < 45_000, 'it exits soon after the start timeout');
});

test('Avro that does not decode reaches the ClickHouse sink as bytes (it transcodes them) and is dead-lettered as undecodable; the rows around it land', async () => {
  const config = configFor();
  const topic = uniqueName('run_lazy_poison');
  const group = uniqueName('g');
  await createTopic(config, topic, 1);
  const id = await produceAvro(config, topic, SCHEMA, items(0, 20), (v) => String(v.id));
  // The wire format's header with the registered schema id, then Avro that does not decode.
  const header = Buffer.from([0, 0, 0, 0, 0]);
  header.writeInt32BE(id, 1);
  const good = Buffer.from([8, 0x69, 0x2d, 0x39, 0x39, 2]); // {id: "i-99", n: 1}
  await produceRaw(config, topic, [
    { key: 'truncated', value: Buffer.concat([header, good.subarray(0, 3)]) },
    { key: 'trailing', value: Buffer.concat([header, good, Buffer.from([7])]) },
    { key: 'negative-length', value: Buffer.concat([header, Buffer.from([3, 0x69, 2])]) },
  ]);
  await produceAvro(config, topic, SCHEMA, items(20, 20), (v) => String(v.id));
  const { runner, fatal } = await start(config, topic, group);
  await until('40 visible records', async () => (await visible(topic)) === 40);
  await until('committed to the end', async () => (await committed(config, group, topic)) === 43);
  const letters = await lettersOf(config, topic);
  assert.deepEqual(letters.map((l) => [l.key, l.headers['dlq.kind']]).sort(), [
    ['negative-length', 'undecodable'],
    ['trailing', 'undecodable'],
    ['truncated', 'undecodable'],
  ]);
  assert.deepEqual(fatal, []);
  await stop(runner);
});
