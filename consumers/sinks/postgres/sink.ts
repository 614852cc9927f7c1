/**
 * The PostgreSQL sink: a table per topic from the Avro schema (columns added as it evolves),
 * and each batch written in one transaction with its offset. Redelivered records hit the
 * primary key (_topic, _partition, _offset) and are skipped, so every record is stored once.
 */
import type pg from 'pg';
import { PoisonError, RetriableError } from '../../../core/errors.ts';
import type { Logger } from '../../../core/log.ts';
import type { SinkConfig } from '../../config.ts';
import type { AvroRecordSchema, Batch, Sink, SinkRecord, WriteResult } from '../../sink.ts';
import {
  ident,
  type PgColumn,
  pgAddColumnsSql,
  pgColumnsOf,
  pgCreateTableSql,
  pgOffsetsTableSql,
  pgTableName,
} from './schema.ts';
import { classifyPg, createPool, SCHEMA_CHANGED } from './service.ts';

/** PostgreSQL allows at most 65535 bind parameters per statement. */
const MAX_PARAMS = 65_000;

/** A column's value; one it cannot hold (a date out of range) is a PoisonError naming the field. */
function convert(column: PgColumn, value: unknown): unknown {
  try {
    return column.convert(value);
  } catch (error) {
    throw new PoisonError('bad_data', `field "${column.name}": ${(error as Error).message}`, {
      cause: error,
    });
  }
}

export class PostgresSink implements Sink {
  readonly name = 'postgres';
  private readonly config: SinkConfig;
  private readonly log: Logger;
  private readonly schema: string;
  private pool?: pg.Pool;
  private readonly columnsById = new Map<number, PgColumn[]>();
  private readonly ready = new Set<string>();
  private locks = Promise.resolve() as Promise<unknown>;
  private readonly newPool: (config: SinkConfig) => pg.Pool;

  /** `newPool` makes the connection pool on connect (tests pass a fake). */
  constructor(config: SinkConfig, log: Logger, newPool: (config: SinkConfig) => pg.Pool = createPool) {
    this.config = config;
    this.log = log;
    this.schema = config.postgres.schema;
    this.newPool = newPool;
  }

  private get db(): pg.Pool {
    if (!this.pool) throw new Error('PostgreSQL sink is not connected');
    return this.pool;
  }

  private async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code && SCHEMA_CHANGED.has(code)) this.ready.clear();
      throw classifyPg(error);
    }
  }

  async connect(): Promise<void> {
    this.pool = this.newPool(this.config);
    await this.run(async () => {
      await this.db.query(`CREATE SCHEMA IF NOT EXISTS ${ident(this.schema)}`);
      await this.db.query(pgOffsetsTableSql(this.schema));
    });
    this.log.info('connected to PostgreSQL', { schema: this.schema });
  }

  storedOffset(group: string, topic: string, partition: number): Promise<bigint | undefined> {
    return this.run(async () => {
      const result = await this.db.query(
        `SELECT "offset" FROM ${ident(this.schema)}._chatstream_offsets WHERE "group" = $1 AND topic = $2 AND partition = $3`,
        [group, topic, partition],
      );
      const row = result.rows[0] as { offset: string } | undefined;
      return row ? BigInt(row.offset) : undefined;
    });
  }

  private async ensureTable(table: string, id: number, avro: AvroRecordSchema): Promise<PgColumn[]> {
    const columns = this.columnsById.get(id) ?? pgColumnsOf(avro);
    this.columnsById.set(id, columns);
    const key = `${table}#${id}`;
    if (this.ready.has(key)) return columns;
    // DDL one at a time: concurrent partitions of a topic would race on CREATE and ALTER.
    const job = this.locks.then(async () => {
      if (this.ready.has(key)) return;
      try {
        await this.db.query(pgCreateTableSql(this.schema, table, columns));
        await this.db.query(pgAddColumnsSql(this.schema, table, columns));
      } catch (error) {
        // Another process ran the same IF NOT EXISTS DDL at the same moment: not bad data.
        const code = (error as { code?: string }).code;
        if (code === '23505' || code === '42P07' || code === '42701')
          throw new RetriableError(`PostgreSQL ${code} while creating ${table} (a concurrent create)`, {
            cause: error,
          });
        throw error;
      }
      this.ready.add(key);
    });
    this.locks = job.catch(() => {});
    await job;
    return columns;
  }

  private async insertRows(
    client: pg.PoolClient,
    table: string,
    records: SinkRecord[],
    columnsOf: (r: SinkRecord) => PgColumn[],
  ): Promise<void> {
    // Linear: push onto the shape's list (a copy per row, `[...list, record]`, was quadratic).
    const byShape = new Map<PgColumn[], SinkRecord[]>();
    for (const record of records) {
      const columns = columnsOf(record);
      const group = byShape.get(columns);
      if (group) group.push(record);
      else byShape.set(columns, [record]);
    }
    for (const [columns, group] of byShape) {
      const names = [...columns.map((c) => c.name), '_topic', '_partition', '_offset', '_timestamp', '_key'];
      const perRow = names.length;
      const rowsPerStatement = Math.max(1, Math.floor(MAX_PARAMS / perRow));
      for (let i = 0; i < group.length; i += rowsPerStatement) {
        const slice = group.slice(i, i + rowsPerStatement);
        const params: unknown[] = [];
        const tuples = slice.map((record) => {
          // This sink declares no `tombstones`: the runner dead-letters records without a value.
          const value = record.value ?? {};
          for (const column of columns) params.push(convert(column, value[column.name]));
          params.push(
            record.topic,
            record.partition,
            record.offset.toString(),
            new Date(record.timestamp),
            record.key,
          );
          const base = params.length - perRow;
          return `(${names.map((_, j) => `$${base + j + 1}`).join(', ')})`;
        });
        await client.query(
          `INSERT INTO ${ident(this.schema)}.${ident(table)} (${names.map(ident).join(', ')}) VALUES ${tuples.join(', ')} ON CONFLICT (_topic, _partition, _offset) DO NOTHING`,
          params,
        );
      }
    }
  }

  /** One transaction: the rows and the offset. Bad data is isolated by halving the batch. */
  private async write(
    batch: Batch,
    records: SinkRecord[],
    columnsOf: (r: SinkRecord) => PgColumn[],
    rejected: WriteResult['rejected'],
  ): Promise<void> {
    const table = pgTableName(batch.topic);
    // This transaction stores an offset past the rows rejected so far: their dead letters go first.
    if (rejected.length > 0) await batch.deadLetter?.(rejected);
    const client = await this.run(() => this.db.connect());
    let failure: unknown;
    try {
      await this.run(async () => {
        await client.query('BEGIN');
        try {
          await this.insertRows(client, table, records, columnsOf);
          const last = records.at(-1) as SinkRecord;
          await client.query(
            `INSERT INTO ${ident(this.schema)}._chatstream_offsets ("group", topic, partition, "offset", updated) VALUES ($1, $2, $3, $4, now())
             ON CONFLICT ("group", topic, partition) DO UPDATE SET "offset" = GREATEST(_chatstream_offsets."offset", EXCLUDED."offset"), updated = now()`,
            [batch.group, batch.topic, batch.partition, last.offset.toString()],
          );
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(() => {});
          throw error;
        }
      });
    } catch (error) {
      failure = error;
    } finally {
      client.release();
    }
    if (failure === undefined) return;
    if (!(failure instanceof PoisonError)) throw failure;
    if (records.length === 1) {
      rejected.push({ record: records[0] as SinkRecord, reason: failure.message });
      return;
    }
    const half = Math.ceil(records.length / 2);
    await this.write(batch, records.slice(0, half), columnsOf, rejected);
    await this.write(batch, records.slice(half), columnsOf, rejected);
  }

  async writeBatch(batch: Batch): Promise<WriteResult> {
    const table = pgTableName(batch.topic);
    const rejected: WriteResult['rejected'] = [];
    const schemas = new Map<number, AvroRecordSchema>();
    for (const record of batch.records) schemas.set(record.schemaId, record.schema);
    for (const [id, avro] of [...schemas].sort((a, b) => a[0] - b[0]))
      await this.run(() => this.ensureTable(table, id, avro));
    await this.write(batch, batch.records, (r) => this.columnsById.get(r.schemaId) as PgColumn[], rejected);
    return { rejected };
  }

  async close(): Promise<void> {
    await this.pool?.end();
  }
}
