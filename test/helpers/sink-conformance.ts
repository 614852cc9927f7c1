/**
 * The conformance suite every sink runs (STYLE.md: one shared compliance check), on real
 * Kafka, the real registry and the sink's real destination: open/close, batches, offsets
 * committed only after the write, crash and redelivery, dead letters (refused rows handed over
 * before their offset is stored), evolution, metrics.
 *
 * A sink supplies a read-back port: how to count what landed (each record once, however often
 * delivered) and how to read one field back.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Config, loadConfig } from '../../cli/settings.ts';
import { SinkRunner } from '../../consumers/runner.ts';
import type { AvroRecordSchema, Batch, Sink, SinkDefinition, SinkRecord } from '../../consumers/sink.ts';
import { RetriableError } from '../../core/errors.ts';
import { createLogger } from '../../core/log.ts';
import { createKafka, withAdmin } from '../../kafka/client.ts';
import { uniqueName } from './names.ts';
import { createTopic, produceAvro, produceRaw } from './produce.ts';

export interface ReadBack {
  /** Records of the topic as queries see them (each (partition, offset) once). */
  visible(topic: string): Promise<number>;
  /** Distinct (partition, offset) pairs stored, and all stored rows (duplicates included). */
  stored(topic: string): Promise<{ distinct: number; rows: number }>;
  /** A field's values by record id (the `id` field), as strings or null. */
  field(topic: string, field: string): Promise<Map<string, string | null>>;
  close(): Promise<void>;
}

const V1 = {
  type: 'record',
  name: 'Item',
  namespace: 'conformance',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'n', type: 'long' },
    { name: 'note', type: ['null', 'string'], default: null },
    { name: 'created_time', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
};
const V2 = { ...V1, fields: [...V1.fields, { name: 'score', type: ['null', 'double'], default: null }] };

const items = (from: number, count: number, extra: Record<string, unknown> = {}) =>
  Array.from({ length: count }, (_, i) => ({
    id: `i-${from + i}`,
    n: from + i,
    note: (from + i) % 2 ? `note ${from + i}` : null,
    created_time: 1_763_800_000_000 + (from + i) * 1000,
    ...extra,
  }));

/** A sink decorator that injects failures; the real sink does the writing. */
class FaultySink implements Sink {
  readonly name: string;
  failuresLeft = 0;
  crashAfterWriteOnce = false;
  /** Slows every write down (to keep a load in progress). */
  delayMs = 0;
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
    if (this.delayMs > 0) await sleep(this.delayMs);
    if (this.failuresLeft > 0) {
      this.failuresLeft -= 1;
      throw new RetriableError('injected: destination unavailable');
    }
    const result = await this.inner.writeBatch(batch);
    this.writes += 1;
    if (this.crashAfterWriteOnce) {
      this.crashAfterWriteOnce = false;
      throw new Error('injected: crash after the write, before the commit');
    }
    return result;
  }
  close() {
    return this.inner.close();
  }
}

async function committed(config: Config, group: string, topic: string): Promise<number> {
  return withAdmin(config, async (admin) => {
    const [entry] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return (entry?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(200);
  }
  assert.fail(`timed out waiting for ${what}`);
}

export function sinkConformance(
  definition: SinkDefinition,
  makeReadBack: (config: Config) => ReadBack,
  configure: (c: Config) => Config = (c) => c,
): void {
  describe(`sink conformance: ${definition.name}`, () => {
    const base = configure(loadConfig());
    const config: Config = {
      ...base,
      sink: {
        ...base.sink,
        batchMaxWaitMs: 200,
        retryInitialMs: 50,
        retryMaxMs: 200,
        deadLetterTopic: uniqueName('dlq'),
      },
    };
    const log = createLogger(`conformance.${definition.name}`);
    const readBack = makeReadBack(config);
    const runners: SinkRunner[] = [];
    after(async () => {
      for (const r of runners) await r.stop().catch(() => {});
      await readBack.close();
    });

    const start = async (
      topic: string,
      group: string,
      sink: Sink = definition.create({ config, log }),
      overrides: Partial<Config['sink']> = {},
    ) => {
      const runner = new SinkRunner({
        config: { ...config, sink: { ...config.sink, ...overrides } },
        sink,
        log,
        topics: [topic],
        group,
      });
      runners.push(runner);
      await runner.start();
      return runner;
    };
    const stop = async (runner: SinkRunner) => {
      runners.splice(runners.indexOf(runner), 1);
      await runner.stop();
    };

    test('open and close: connect, close, and again', async () => {
      for (let i = 0; i < 2; i++) {
        const sink = definition.create({ config, log });
        await sink.connect();
        assert.equal(await sink.storedOffset(uniqueName('g'), uniqueName('t'), 0), undefined);
        await sink.close();
      }
    });

    test('batches: every record lands once, offsets committed to the end, metrics count them', async () => {
      const topic = uniqueName('conf_batches');
      const group = uniqueName('g');
      await createTopic(config, topic, 3);
      await produceAvro(config, topic, V1, items(0, 3000), (v) => String(v.id));
      const runner = await start(topic, group);
      await until('3000 visible records', async () => (await readBack.visible(topic)) === 3000);
      await until(
        'committed offsets at the end',
        async () => (await committed(config, group, topic)) === 3000,
      );
      const text = await runner.metrics.metrics();
      assert.match(text, new RegExp(`chatstream_sink_records_out_total\\{topic="${topic}"\\} 3000`));
      assert.match(text, new RegExp(`chatstream_sink_records_in_total\\{topic="${topic}"\\} 3000`));
      assert.match(text, /chatstream_sink_batches_total\{topic="[^"]+"\} [1-9]/);
      assert.match(text, /chatstream_sink_flush_seconds_count\{topic="[^"]+"\} [1-9]/);
      assert.match(text, new RegExp(`chatstream_sink_lag\\{topic="${topic}",partition="\\d"\\} 0`));
      assert.match(text, /process_resident_memory_bytes \d+/);
      const values = await readBack.field(topic, 'note');
      assert.equal(values.get('i-1'), 'note 1');
      assert.equal(values.get('i-2'), null);
      await stop(runner);
    });

    test('offsets are committed only after the write: failing writes hold them back, then catch up', async () => {
      const topic = uniqueName('conf_commit');
      const group = uniqueName('g');
      await createTopic(config, topic, 1);
      await produceAvro(config, topic, V1, items(0, 500), (v) => String(v.id));
      const sink = new FaultySink(definition.create({ config, log }));
      sink.failuresLeft = 20;
      const runner = await start(topic, group, sink);
      // While failures remain, no write has succeeded (they come first): look then.
      await until('some injected failures', async () => sink.failuresLeft <= 15, 30_000);
      assert.equal(await readBack.visible(topic), 0, 'nothing landed while the sink failed');
      assert.equal(await committed(config, group, topic), 0, 'no offset moved while the sink failed');
      assert.ok(sink.failuresLeft > 0, 'the check ran while the sink was still failing');
      await until('all 500 records', async () => (await readBack.visible(topic)) === 500);
      await until(
        'committed offsets at the end',
        async () => (await committed(config, group, topic)) === 500,
      );
      assert.ok(
        Number(
          /chatstream_sink_retries_total\{sink="[^"]+"\} (\d+)/.exec(await runner.metrics.metrics())?.[1],
        ) >= 20,
      );
      await stop(runner);
    });

    test('crash after the write and before the commit: redelivery leaves no visible duplicate', async () => {
      const topic = uniqueName('conf_crash');
      const group = uniqueName('g');
      await createTopic(config, topic, 2);
      await produceAvro(config, topic, V1, items(0, 1000), (v) => String(v.id));
      const sink = new FaultySink(definition.create({ config, log }));
      sink.crashAfterWriteOnce = true;
      const first = await start(topic, group, sink);
      await until('the crash', async () => sink.writes >= 1 && !sink.crashAfterWriteOnce, 30_000);
      await stop(first);
      const second = await start(topic, group);
      await until('1000 visible records', async () => (await readBack.visible(topic)) === 1000);
      await until(
        'committed offsets at the end',
        async () => (await committed(config, group, topic)) === 1000,
      );
      const { distinct } = await readBack.stored(topic);
      assert.equal(distinct, 1000);
      await sleep(500);
      assert.equal(await readBack.visible(topic), 1000, 'still once each');
      await stop(second);
    });

    test('rebalance: two members share the partitions, one leaves mid-load; nothing lost or doubled', async () => {
      const topic = uniqueName('conf_rebalance');
      const group = uniqueName('g');
      await createTopic(config, topic, 6);
      await produceAvro(config, topic, V1, items(0, 20_000), (v) => String(v.id));
      const slow = new FaultySink(definition.create({ config, log }));
      slow.delayMs = 300;
      const first = await start(topic, group, slow, { batchMaxRows: 200 });
      await until('the first member writing', async () => (await readBack.visible(topic)) > 0);
      const second = await start(topic, group);
      const written = async (runner: SinkRunner) =>
        Number(
          /chatstream_sink_records_out_total\{[^}]*\} (\d+)/.exec(await runner.metrics.metrics())?.[1] ?? 0,
        );
      await until('the second member writing its share', async () => (await written(second)) > 0, 30_000);
      const before = await readBack.visible(topic);
      await stop(first); // its partitions move to the second member
      assert.ok(
        before < 20_000,
        `the load was still in progress when the first member left (${before} visible)`,
      );
      await until('20000 visible records', async () => (await readBack.visible(topic)) === 20_000, 90_000);
      await until(
        'committed offsets at the end',
        async () => (await committed(config, group, topic)) === 20_000,
        90_000,
      );
      assert.equal((await readBack.stored(topic)).distinct, 20_000);
      await stop(second);
    });

    test('dead letters: poison records go to the dead-letter topic with the reason; every good record lands', async () => {
      const topic = uniqueName('conf_poison');
      const group = uniqueName('g');
      await createTopic(config, topic, 1);
      await produceAvro(config, topic, V1, items(0, 100), (v) => String(v.id));
      const unknownId = Buffer.concat([Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0]), Buffer.from('x')]);
      await produceRaw(config, topic, [
        { key: 'bad-1', value: Buffer.from('{"json":"not avro"}') },
        { key: 'bad-2', value: unknownId },
        { key: 'bad-3', value: Buffer.from([0, 0, 0]) },
      ]);
      await produceAvro(config, topic, V1, items(100, 100), (v) => String(v.id));
      const runner = await start(topic, group);
      await until('200 good records', async () => (await readBack.visible(topic)) === 200);
      await until(
        'committed offsets at the end',
        async () => (await committed(config, group, topic)) === 203,
      );

      const consumer = createKafka(config, { role: 'test' }).consumer({ groupId: uniqueName('dlq-reader') });
      await consumer.connect();
      await consumer.subscribe({ topic: config.sink.deadLetterTopic, fromBeginning: true });
      const letters: Record<string, string>[] = [];
      await new Promise<void>((resolve) => {
        consumer.run({
          eachMessage: async ({ message }) => {
            const headers = Object.fromEntries(
              Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]),
            );
            if (headers['dlq.topic'] === topic) letters.push({ ...headers, key: String(message.key) });
            if (letters.length === 3) resolve();
          },
        });
      });
      await consumer.disconnect();
      const byKey = Object.fromEntries(letters.map((l) => [l.key, l]));
      assert.equal(byKey['bad-1']?.['dlq.kind'], 'undecodable');
      assert.match(byKey['bad-1']?.['dlq.reason'] ?? '', /not the wire format's magic byte 0/);
      assert.equal(byKey['bad-1']?.['dlq.offset'], '100');
      assert.equal(byKey['bad-1']?.['dlq.partition'], '0');
      assert.equal(byKey['bad-2']?.['dlq.kind'], 'unknown_schema');
      assert.match(byKey['bad-2']?.['dlq.reason'] ?? '', /schema id 2147483632 is not in the registry/);
      assert.equal(byKey['bad-3']?.['dlq.kind'], 'undecodable');
      assert.equal(byKey['bad-3']?.['dlq.sink'], definition.name);
      assert.match(
        await runner.metrics.metrics(),
        new RegExp(`chatstream_sink_dead_letters_total\\{topic="${topic}",kind="undecodable"\\} 2`),
      );
      await stop(runner);
    });

    test('rows the destination refuses reach batch.deadLetter before any stored offset covers them', async () => {
      const topic = uniqueName('conf_refused');
      const group = uniqueName('g');
      const sink = definition.create({ config, log });
      await sink.connect();
      // created_time 1e16 ms is past year 300,000: no destination can hold it.
      const values = items(0, 8).map((v, i) => (i === 2 || i === 5 ? { ...v, created_time: 1e16 } : v));
      const records: SinkRecord[] = values.map((value, i) => ({
        topic,
        partition: 0,
        offset: BigInt(i),
        timestamp: 1_763_800_000_000 + i,
        key: String(value.id),
        value,
        schemaId: 1_000_000 + Math.floor(Math.random() * 1e6),
        schema: V1 as AvroRecordSchema,
        bytes: 40,
      }));
      // The stored offset when each refused row was first handed over (it may come again).
      const handed = new Map<bigint, bigint | undefined>();
      const result = await sink.writeBatch({
        group,
        topic,
        partition: 0,
        records,
        deadLetter: async (rejected) => {
          const storedThen = await sink.storedOffset(group, topic, 0);
          for (const { record } of rejected)
            if (!handed.has(record.offset)) handed.set(record.offset, storedThen);
        },
      });
      await sink.close();
      assert.deepEqual(
        result.rejected.map((r) => r.record.offset),
        [2n, 5n],
      );
      assert.deepEqual([...handed.keys()].sort(), [2n, 5n], 'every refused row was handed over');
      for (const [offset, storedThen] of handed)
        assert.ok(
          storedThen === undefined || storedThen < offset,
          `row ${offset} was handed over after offset ${storedThen} was stored`,
        );
      assert.equal(await readBack.visible(topic), 6);
    });

    test('evolution: v1 then v2 mid-stream adds the field; old records read null, new ones their values', async () => {
      const topic = uniqueName('conf_evolve');
      const group = uniqueName('g');
      await createTopic(config, topic, 1);
      await produceAvro(config, topic, V1, items(0, 50), (v) => String(v.id));
      const runner = await start(topic, group);
      await until('50 records', async () => (await readBack.visible(topic)) === 50);
      await produceAvro(config, topic, V2, items(50, 50, { score: 4.5 }), (v) => String(v.id));
      await until('100 records', async () => (await readBack.visible(topic)) === 100);
      const scores = await readBack.field(topic, 'score');
      assert.equal(scores.get('i-0'), null);
      assert.equal(scores.get('i-49'), null);
      assert.equal(Number(scores.get('i-50')), 4.5);
      assert.equal(Number(scores.get('i-99')), 4.5);
      await stop(runner);
    });
  });
}
