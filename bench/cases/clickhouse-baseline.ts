/** Raw @clickhouse/client insert throughput on the local server: the ceiling on the ClickHouse side. */
import { createClickHouseClient } from '../../consumers/sinks/clickhouse/connection.ts';
import { type BenchCase, timed } from '../types.ts';

const ROWS = 500_000;
const BATCH = 100_000;

export const clickhouseBaseline: BenchCase = {
  name: 'clickhouse-baseline',
  async run(config) {
    const client = createClickHouseClient(config);
    const table = `bench_raw_${Date.now().toString(36)}`;
    await client.command({
      query: `CREATE TABLE ${table} (id String, conversation_id String, n UInt32, body String) ENGINE = MergeTree ORDER BY id`,
    });
    try {
      const insert = await timed(async () => {
        for (let i = 0; i < ROWS; i += BATCH) {
          const values = Array.from({ length: BATCH }, (_, j) => ({
            id: `m${i + j}`,
            conversation_id: `c${(i + j) % 1000}`,
            n: j,
            body: 'hello world',
          }));
          await client.insert({ table, values, format: 'JSONEachRow' });
        }
      });
      const counted = await client.query({
        query: `SELECT count() AS c FROM ${table}`,
        format: 'JSONEachRow',
      });
      const [{ c }] = (await counted.json()) as [{ c: string }];
      if (Number(c) !== ROWS) throw new Error(`inserted ${ROWS} rows but counted ${c}`);
      return [
        {
          benchmark: '@clickhouse/client insert JSONEachRow',
          records: ROWS,
          seconds: insert.seconds,
          note: `batches of ${BATCH}, 4 columns`,
        },
      ];
    } finally {
      await client.command({ query: `DROP TABLE IF EXISTS ${table}` });
      await client.close();
    }
  },
};
