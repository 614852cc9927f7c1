/**
 * Defect 12: grouping rows by shape (the PostgreSQL sink) and unknown values by field (schema
 * evolution) must be linear. No timing here: the work is counted as array-iteration steps
 * (`[...list, item]` per row walks the whole list again, so a quadratic grouping shows up as
 * ~16× the steps for 4× the rows), and the results are checked for order and completeness.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type pg from 'pg';
import { loadConfig } from '../../cli/settings.ts';
import type { AvroRecordSchema, SinkRecord } from '../../consumers/sink.ts';
import { PostgresSink } from '../../consumers/sinks/postgres/sink.ts';
import { configureLogging, createLogger } from '../../core/log.ts';
import { evolveSchema } from '../../schemas/evolution.ts';

configureLogging({ level: 'error' });

/** Array-iterator steps (for…of, spread, destructuring over arrays) taken while `fn` runs. */
async function arraySteps(fn: () => Promise<unknown> | unknown): Promise<number> {
  const proto = Object.getPrototypeOf([][Symbol.iterator]()) as { next: (...a: unknown[]) => unknown };
  const original = proto.next;
  let steps = 0;
  proto.next = function next(this: unknown, ...args: unknown[]) {
    steps++;
    return original.apply(this, args);
  };
  try {
    await fn();
  } finally {
    proto.next = original;
  }
  return steps;
}

interface Query {
  sql: string;
  params: unknown[];
}

/** A pg.Pool stand-in that records every statement and answers with no rows. */
function fakePool(): { pool: pg.Pool; queries: Query[] } {
  const queries: Query[] = [];
  const query = async (sql: string, params: unknown[] = []) => {
    queries.push({ sql, params });
    return { rows: [] };
  };
  const client = { query, release: () => {} };
  const pool = { query, connect: async () => client, end: async () => {}, on: () => pool };
  return { pool: pool as unknown as pg.Pool, queries };
}

const v1: AvroRecordSchema = {
  type: 'record',
  name: 'T',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'n', type: 'long' },
  ],
};
const v2: AvroRecordSchema = {
  ...v1,
  fields: [...v1.fields, { name: 'extra', type: ['null', 'string'], default: null }],
};

function record(offset: number, schemaId: number): SinkRecord {
  return {
    topic: 'pg.rows',
    partition: 3,
    offset: BigInt(offset),
    timestamp: 1_700_000_000_000 + offset,
    key: `k${offset}`,
    value: { id: `r${offset}`, n: offset, extra: schemaId === 2 ? `x${offset}` : undefined },
    schemaId,
    schema: schemaId === 2 ? v2 : v1,
    bytes: 10,
  };
}

async function connectedSink() {
  const fake = fakePool();
  const sink = new PostgresSink(loadConfig(), createLogger('test'), () => fake.pool);
  await sink.connect();
  fake.queries.length = 0;
  return { sink, queries: fake.queries };
}

const inserts = (queries: Query[]) => queries.filter((q) => /^INSERT INTO "public"\."pg_rows"/.test(q.sql));

test('rows of two schema versions: one INSERT per shape, each in offset order, every row once', async () => {
  const { sink, queries } = await connectedSink();
  const records = Array.from({ length: 10 }, (_, i) => record(100 + i, i % 3 === 1 ? 2 : 1));
  const result = await sink.writeBatch({ group: 'g', topic: 'pg.rows', partition: 3, records });
  assert.deepEqual(result.rejected, []);
  const [first, second] = inserts(queries);
  assert.equal(inserts(queries).length, 2);
  // Shape of schema 1 first (the first record's), 7 columns per row; then schema 2 with 8.
  assert.match(first?.sql ?? '', /\("id", "n", "_topic", "_partition", "_offset", "_timestamp", "_key"\)/);
  assert.deepEqual(
    (first?.params ?? []).filter((_, i) => i % 7 === 4),
    ['100', '102', '103', '105', '106', '108', '109'],
  );
  assert.match(second?.sql ?? '', /\("id", "n", "extra", "_topic"/);
  assert.deepEqual(
    (second?.params ?? []).filter((_, i) => i % 8 === 5),
    ['101', '104', '107'],
  );
  assert.deepEqual(second?.params.slice(0, 8), [
    'r101',
    '101',
    'x101',
    'pg.rows',
    3,
    '101',
    new Date(1_700_000_000_101),
    'k101',
  ]);
  const offsets = queries.find((q) => q.sql.includes('_chatstream_offsets'));
  assert.deepEqual(offsets?.params, ['g', 'pg.rows', 3, '109']);
  assert.deepEqual(
    queries.map((q) => q.sql.split(' ')[0]),
    ['CREATE', 'ALTER', 'CREATE', 'ALTER', 'BEGIN', 'INSERT', 'INSERT', 'INSERT', 'COMMIT'],
  );
});

test('a large batch is cut into statements under the bind-parameter limit, rows in order, each once', async () => {
  const { sink, queries } = await connectedSink();
  const records = Array.from({ length: 20_000 }, (_, i) => record(i, 1));
  await sink.writeBatch({ group: 'g', topic: 'pg.rows', partition: 3, records });
  const statements = inserts(queries);
  assert.equal(statements.length, Math.ceil(20_000 / Math.floor(65_000 / 7)));
  for (const s of statements) assert.ok(s.params.length <= 65_535);
  const offsets = statements.flatMap((s) => s.params.filter((_, i) => i % 7 === 4));
  assert.deepEqual(
    offsets,
    records.map((r) => r.offset.toString()),
  );
});

test('grouping the rows of a batch takes work linear in the rows (counted, not timed)', async () => {
  const steps = async (n: number) => {
    const { sink } = await connectedSink();
    const records = Array.from({ length: n }, (_, i) => record(i, i % 2 ? 1 : 2));
    return arraySteps(() => sink.writeBatch({ group: 'g', topic: 'pg.rows', partition: 3, records }));
  };
  const small = await steps(2_000);
  const large = await steps(8_000);
  assert.ok(
    large / small < 6,
    `4× the rows took ${(large / small).toFixed(1)}× the steps (${small} → ${large})`,
  );
  assert.ok(large < 20 * 8_000, `${large} iteration steps for 8000 rows`);
});

test('schema evolution groups unknown values by field in linear work, keeping every value', async () => {
  const base = { type: 'record', name: 'T', fields: [{ name: 'id', type: 'string' }] };
  const unknowns = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      path: i % 2 ? 'count' : 'label',
      // The last count is a fraction: the field is a double only if no value was lost.
      value: i % 2 ? (i === n - 1 ? 0.5 : i) : `v${i}`,
    }));
  let evolved: ReturnType<typeof evolveSchema> | undefined;
  const small = await arraySteps(() => evolveSchema(base, unknowns(2_000)));
  const large = await arraySteps(() => {
    evolved = evolveSchema(base, unknowns(8_000));
  });
  assert.ok(
    large / small < 6,
    `4× the values took ${(large / small).toFixed(1)}× the steps (${small} → ${large})`,
  );
  assert.ok(large < 20 * 8_000, `${large} iteration steps for 8000 values`);
  assert.deepEqual(evolved?.added, ['T.label', 'T.count']);
  const fields = (evolved?.schema.fields ?? []) as { name: string; type: unknown }[];
  assert.deepEqual(
    fields.map((f) => [f.name, f.type]),
    [
      ['id', 'string'],
      ['label', ['null', 'string']],
      ['count', ['null', 'double']],
    ],
  );
});
