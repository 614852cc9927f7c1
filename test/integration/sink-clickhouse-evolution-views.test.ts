/**
 * The ClickHouse sink's schema handling (issue 9, defects 5–7) on the real local ClickHouse:
 * widening columns, a view left stale by a crash, and entity topics read as the latest state
 * per key with tombstones as deletes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Config } from '../../cli/settings.ts';
import type { AvroRecordSchema } from '../../consumers/sink.ts';
import { quoteIdent, tableName } from '../../consumers/sinks/clickhouse/schema.ts';
import { EXIT, FatalError } from '../../core/errors.ts';
import {
  client,
  columnsOf,
  config,
  connectedSink,
  database,
  db,
  items,
  newTopic,
  query,
  record,
  T0,
  V1,
  V2,
  view,
  write,
} from '../helpers/clickhouse-sink-harness.ts';
import { uniqueName } from '../helpers/names.ts';

// ---- defect 5: widening columns ------------------------------------------------------------

const NARROW: AvroRecordSchema = {
  type: 'record',
  name: 'Measure',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'n', type: 'int' },
    { name: 'ratio', type: 'float' },
    { name: 'note', type: 'string' },
    { name: 'counts', type: { type: 'array', items: 'int' } },
    { name: 'label', type: 'string' },
  ],
};
const WIDE: AvroRecordSchema = {
  ...NARROW,
  fields: [
    { name: 'id', type: 'string' },
    { name: 'n', type: 'long' },
    { name: 'ratio', type: 'double' },
    { name: 'note', type: ['null', 'string'], default: null },
    { name: 'counts', type: { type: 'array', items: 'long' } },
    // The registry lets a string become a union with more branches: a string stays itself.
    { name: 'label', type: ['null', 'string', 'long'], default: null },
  ],
};

test('evolution widens the columns the registry allows (int→long, float→double, T→["null",T]) with MODIFY COLUMN', async () => {
  const topic = newTopic('chr_widen');
  const table = tableName(topic);
  const sink = await connectedSink();
  const narrow = (id: string, offset: number) =>
    record(topic, offset, NARROW, { id, n: 7, ratio: 0.5, note: 'x', counts: [1], label: 'plain' });
  assert.deepEqual((await write(sink, topic, [narrow('old', 0)])).rejected, []);
  const wide = await write(sink, topic, [
    record(topic, 1, WIDE, {
      id: 'big',
      n: 5_000_000_000,
      ratio: 0.1,
      note: null,
      counts: [5_000_000_000],
      label: 'widened',
    }),
    record(topic, 2, WIDE, { id: 'num', n: -5_000_000_000, ratio: 1e300, note: 'y', counts: [], label: 42 }),
  ]);
  assert.deepEqual(wide.rejected, []);
  const columns = await columnsOf(table);
  assert.equal(columns.n, 'Int64');
  assert.equal(columns.ratio, 'Float64');
  assert.equal(columns.note, 'Nullable(String)');
  assert.equal(columns.counts, 'Array(Int64)');
  assert.equal(columns.label, 'Nullable(String)');
  // An older record arriving after the widening fits the wider column as it is.
  assert.deepEqual((await write(sink, topic, [narrow('late', 3)])).rejected, []);
  assert.deepEqual(await columnsOf(table), columns, 'nothing narrowed back');
  const rows = await query<Record<string, string | null>>(
    `SELECT id, toString(n) AS n, toString(ratio) AS ratio, note, toString(counts) AS counts, label FROM ${view(topic)} ORDER BY id`,
  );
  assert.deepEqual(rows, [
    { id: 'big', n: '5000000000', ratio: '0.1', note: null, counts: '[5000000000]', label: 'widened' },
    { id: 'late', n: '7', ratio: '0.5', note: 'x', counts: '[1]', label: 'plain' },
    { id: 'num', n: '-5000000000', ratio: '1e300', note: 'y', counts: '[]', label: '42' },
    { id: 'old', n: '7', ratio: '0.5', note: 'x', counts: '[1]', label: 'plain' },
  ]);
  const viewColumns = await columnsOf(`${table}_dedup`);
  assert.deepEqual(viewColumns, columns, 'the view shows the widened columns');
});

test('a type change that cannot be widened safely stops the sink: FatalError, exit 3, naming the table and the column', async () => {
  const topic = newTopic('chr_narrow');
  const table = tableName(topic);
  const sink = await connectedSink();
  assert.deepEqual(
    (
      await write(sink, topic, [
        record(topic, 0, NARROW, { id: 'a', n: 1, ratio: 1, note: 'x', counts: [], label: 'l' }),
      ])
    ).rejected,
    [],
  );
  const toText: AvroRecordSchema = {
    ...NARROW,
    fields: NARROW.fields.map((f) => (f.name === 'n' ? { name: 'n', type: 'string' } : f)),
  };
  const toFloat: AvroRecordSchema = {
    ...NARROW,
    fields: NARROW.fields.map((f) => (f.name === 'n' ? { name: 'n', type: 'float' } : f)),
  };
  for (const [schema, to] of [
    [toText, 'String'],
    [toFloat, 'Float32'],
  ] as const) {
    await assert.rejects(
      write(sink, topic, [
        record(topic, 1, schema, {
          id: 'b',
          n: schema === toText ? 'text' : 1.5,
          ratio: 1,
          note: 'x',
          counts: [],
          label: 'l',
        }),
      ]),
      (error: unknown) => {
        assert.ok(error instanceof FatalError, String(error));
        assert.equal(error.exitCode, EXIT.config);
        assert.ok(error.message.includes(`${database}.${table}`), error.message);
        assert.match(error.message, /column `?n`? /);
        assert.ok(error.message.includes('Int32') && error.message.includes(to), error.message);
        return true;
      },
    );
  }
  assert.equal((await columnsOf(table)).n, 'Int32', 'the column is left as it was');
  const [count] = await query<{ c: string }>(`SELECT count() AS c FROM ${db}.${quoteIdent(table)}`);
  assert.equal(count?.c, '1', 'nothing of the refused batch was written');
});

// ---- defect 6: a stale view after a crash between ALTER and the view swap -------------------

test('a view left stale by a crash between ALTER and the view swap is recreated when the sink starts', async () => {
  const topic = newTopic('chr_stale');
  const table = tableName(topic);
  const before = await connectedSink();
  assert.deepEqual(
    (
      await write(
        before,
        topic,
        items(0, 5).map((v, i) => record(topic, i, V1, v)),
      )
    ).rejected,
    [],
  );
  // The sink's ALTER for v2 went through, then it was killed before dropping the view.
  await client.command({
    query: `ALTER TABLE ${db}.${quoteIdent(table)} ADD COLUMN score Nullable(Float64)`,
  });
  assert.equal((await columnsOf(`${table}_dedup`)).score, undefined, 'the view is stale');
  const restarted = await connectedSink();
  assert.deepEqual(
    (
      await write(
        restarted,
        topic,
        items(5, 5, { score: 3 }).map((v, i) => record(topic, 5 + i, V2, v)),
      )
    ).rejected,
    [],
  );
  assert.deepEqual(await columnsOf(`${table}_dedup`), await columnsOf(table));
  const [sum] = await query<{ c: string; s: string }>(
    `SELECT count() AS c, toString(sum(ifNull(score, 0))) AS s FROM ${view(topic)}`,
  );
  assert.deepEqual(sum, { c: '10', s: '15' });
});

// ---- defect 7: entity topics, latest per key, tombstones ------------------------------------

const AGENT: AvroRecordSchema = {
  type: 'record',
  name: 'Agent',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'name', type: 'string' },
  ],
};

test('an entity topic: the _dedup view shows the latest row per key by (_timestamp, _offset), and a tombstone deletes its key', async () => {
  const prefix = `${uniqueName('chr_ent')}.`;
  const entityConfig: Config = { ...config, kafka: { ...config.kafka, topicPrefix: prefix } };
  const topic = newTopic('', `${prefix}freshchat.agents`);
  const sink = await connectedSink(entityConfig);
  const agent = (offset: number, id: string, name: string, seconds: number) =>
    record(topic, offset, AGENT, { id, name }, { timestamp: T0 + seconds * 1000 });
  const tombstone = (offset: number, key: string, seconds: number) =>
    record(topic, offset, AGENT, null, { key, timestamp: T0 + seconds * 1000 });
  const first = await write(sink, topic, [
    agent(0, 'a1', 'first', 10),
    agent(1, 'a1', 'newest', 30),
    agent(2, 'a1', 'older, arrived late', 20),
    agent(3, 'a2', 'deleted later', 10),
    agent(4, 'a3', 'same second, lower offset', 10),
    agent(5, 'a3', 'same second, higher offset', 10),
  ]);
  assert.deepEqual(first.rejected, []);
  const second = await write(sink, topic, [tombstone(6, 'a2', 40), tombstone(7, 'a9', 40)]);
  assert.deepEqual(second.rejected, [], 'tombstones are deletes, not dead letters');
  const latest = async () =>
    query<{ _key: string; name: string }>(`SELECT _key, name FROM ${view(topic)} ORDER BY _key`);
  assert.deepEqual(await latest(), [
    { _key: 'a1', name: 'newest' },
    { _key: 'a3', name: 'same second, higher offset' },
  ]);
  // The key comes back with a later version.
  assert.deepEqual((await write(sink, topic, [agent(8, 'a2', 'back again', 50)])).rejected, []);
  assert.deepEqual(
    (await latest()).map((r) => `${r._key}=${r.name}`),
    ['a1=newest', 'a2=back again', 'a3=same second, higher offset'],
  );

  // A new entity topic whose first record is a tombstone: its table starts with the metadata.
  const groups = newTopic('', `${prefix}freshchat.groups`);
  const early = await write(sink, groups, [record(groups, 0, AGENT, null, { key: 'g1' })]);
  assert.deepEqual(early.rejected, []);
  assert.deepEqual(
    (
      await write(sink, groups, [
        record(groups, 1, AGENT, { id: 'g2', name: 'support' }),
        record(groups, 2, AGENT, null, { key: 'g2' }),
        record(groups, 3, AGENT, { id: 'g3', name: 'sales' }),
      ])
    ).rejected,
    [],
  );
  assert.deepEqual(await query(`SELECT _key, name FROM ${view(groups)}`), [{ _key: 'g3', name: 'sales' }]);
});

test('a tombstone on a topic that is not an entity topic is a dead letter with the reason', async () => {
  const topic = newTopic('chr_events');
  const sink = await connectedSink();
  const result = await write(sink, topic, [
    record(topic, 0, V1, { id: 'e1', n: 1 }),
    record(topic, 1, V1, null, { key: 'e1' }),
    record(topic, 2, V1, { id: 'e2', n: 2 }),
  ]);
  assert.equal(result.rejected.length, 1);
  assert.equal(result.rejected[0]?.record.offset, 1n);
  assert.match(result.rejected[0]?.reason ?? '', /tombstone/);
  const [count] = await query<{ c: string }>(`SELECT count() AS c FROM ${view(topic)}`);
  assert.equal(count?.c, '2');
});
