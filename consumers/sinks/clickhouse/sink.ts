/**
 * The ClickHouse sink: a table per topic created from the Avro schema, columns added (and
 * widened) as the schema evolves, inserts in large RowBinary batches (request.ts; JSONEachRow
 * for a table with a column type the writer does not know), and per-partition
 * offsets stored in ClickHouse with each batch. Redelivery is harmless: rows already covered by
 * the stored offset are skipped by the runner, and the `<table>_dedup` view (FINAL over a
 * ReplacingMergeTree keyed by topic, partition and offset) shows each record once even when a
 * crash fell between a row insert and its offset write. Tables and views are kept in
 * tables.ts; an insert refused for an unknown column reads the columns again.
 */

import { PoisonError } from '../../../core/errors.ts';
import type { Logger } from '../../../core/log.ts';
import type { CoreConfig } from '../../../core/settings.ts';
import { RECORD_KINDS } from '../../../schemas/catalog.ts';
import {
  type AvroRecordSchema,
  type Batch,
  isTombstone,
  type Rejected,
  type Sink,
  type SinkRecord,
  type WriteResult,
} from '../../sink.ts';
import { encodeRows, type Plan, PlanCache, WriterPool } from './request.ts';
import {
  type Capabilities,
  type Column,
  columnsOf,
  createOffsetsTableSql,
  DELETED_COLUMN,
  type DedupPolicy,
  formatDateTime,
  OFFSETS_TABLE,
  quoteIdent,
  quoteString,
  recordTime,
  tableName,
} from './schema.ts';
import {
  ClickHouseService,
  refusedBody,
  SCHEMA_CHANGED_CODES,
  SchemaChangedError,
  serverCode,
  unknownDatabase,
} from './service.ts';
import { Tables } from './tables.ts';
import { WriterTypes } from './transcode.ts';

export function detectCapabilities(version: string): Capabilities {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const atLeast = (m: number, n: number) => major > m || (major === m && minor >= n);
  // Ranges: 18.16's measured here; 21.4's widened ones from ClickHouse's documentation.
  const extended = atLeast(21, 4);
  return {
    version,
    dateTime64: atLeast(20, 1),
    dateDays: [0, extended ? 65_535 : 49_672],
    timeMs: extended
      ? [Date.UTC(1925, 0, 1), Date.UTC(2283, 10, 11, 23, 59, 59, 999)]
      : [0, Date.UTC(2105, 11, 31, 23, 59, 59, 999)],
  };
}

/** Column names of the Kafka metadata every table carries; no Avro field may take them. */
const RESERVED_COLUMNS = new Set([
  '_topic',
  '_partition',
  '_offset',
  '_timestamp',
  '_key',
  DELETED_COLUMN.name,
]);

type Item = { record: SinkRecord; row: Record<string, unknown> };

export class ClickHouseSink implements Sink {
  readonly name = 'clickhouse';
  /**
   * This sink takes tombstones (records whose Kafka value is null, handed over with a null
   * `value`): on an entity topic they delete the key in the `_dedup` view; elsewhere they are
   * refused (dead letters).
   */
  readonly tombstones = true;
  /** Records keep their Avro bytes: rows are transcoded from them (transcode.ts), not decoded. */
  readonly lazyValues = true;
  private readonly service: ClickHouseService;
  private readonly database: string;
  private readonly topicPrefix: string;
  private readonly log: Logger;
  private caps?: Capabilities;
  /** Columns per schema id; tables whose columns are known to hold a schema id. */
  private readonly columnsById = new Map<number, Column[]>();
  private readonly types = new WriterTypes();
  private readonly tables: Tables;
  private baseReady = false;
  private readonly plans = new PlanCache();
  private readonly writers = new WriterPool();

  constructor(config: CoreConfig, log: Logger) {
    this.service = new ClickHouseService(config);
    this.database = config.clickhouse.database;
    this.topicPrefix = config.kafka.topicPrefix;
    this.log = log;
    this.tables = new Tables(this.service, this.database, log, () => this.capabilities);
  }

  get capabilities(): Capabilities {
    if (!this.caps) throw new Error('ClickHouse sink is not connected');
    return this.caps;
  }

  async connect(): Promise<void> {
    const [row] = await this.service.rows<{ v: string }>('SELECT version() AS v');
    this.caps = detectCapabilities(row?.v ?? '0');
    await this.ensureBase();
    this.log.info('connected to ClickHouse', {
      version: this.caps.version,
      dateTime64: this.caps.dateTime64,
      database: this.database,
    });
  }

  /** The database and the offsets table: made on connect, and again after either was dropped. */
  private async ensureBase(): Promise<void> {
    if (this.baseReady) return;
    await this.service
      .command(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(this.database)}`)
      .catch((error) => {
        throw unknownDatabase(error, this.database) ?? error;
      });
    await this.service.command(createOffsetsTableSql(this.database));
    this.baseReady = true;
  }

  /** After a "table/database unknown" answer: check everything again before the next write. */
  private forgetOnSchemaChange(error: unknown): void {
    const code = serverCode((error as { cause?: unknown }).cause ?? error);
    if (error instanceof SchemaChangedError || (code !== undefined && SCHEMA_CHANGED_CODES.has(code))) {
      this.tables.forgetAll();
      this.baseReady = false;
    }
  }

  async storedOffset(group: string, topic: string, partition: number): Promise<bigint | undefined> {
    try {
      await this.ensureBase();
      return await this.readStoredOffset(group, topic, partition);
    } catch (error) {
      this.forgetOnSchemaChange(error);
      throw error;
    }
  }

  private async readStoredOffset(
    group: string,
    topic: string,
    partition: number,
  ): Promise<bigint | undefined> {
    const [row] = await this.service.rows<{ c: string; o: string }>(
      `SELECT count() AS c, max(offset) AS o FROM ${quoteIdent(this.database)}.${OFFSETS_TABLE} WHERE \`group\` = ${quoteString(group)} AND topic = ${quoteString(topic)} AND partition = ${Number(partition)}`,
    );
    return row && Number(row.c) > 0 ? BigInt(row.o) : undefined;
  }

  /**
   * The record kind's dedup policy: latest per key for entities (tombstones delete), latest per
   * key for events keyed by their own id, each id once for other events.
   */
  private dedupPolicy(topic: string): DedupPolicy {
    const kind = RECORD_KINDS.find((k) => `${this.topicPrefix}${k.topic}` === topic);
    if (!kind) return { kind: 'offset' };
    if (kind.retention === 'compact') return { kind: 'latest', tombstones: true };
    return kind.identity === kind.key ? { kind: 'latest' } : { kind: 'identity', field: kind.identity };
  }

  private columnsFor(schemaId: number, schema: AvroRecordSchema): Column[] {
    let columns = this.columnsById.get(schemaId);
    if (!columns) {
      columns = columnsOf(schema, this.capabilities);
      // A field named like a metadata column would make every CREATE/ALTER fail: its records
      // cannot be written here (dead letters), the other schemas' can.
      const taken = columns.find((c) => RESERVED_COLUMNS.has(c.name));
      if (taken)
        throw new PoisonError(
          'bad_data',
          `schema id ${schemaId} has a field named "${taken.name}", which the ClickHouse sink keeps for Kafka metadata (${[...RESERVED_COLUMNS].join(', ')})`,
        );
      this.columnsById.set(schemaId, columns);
    }
    return columns;
  }

  private metadata(record: SinkRecord): Record<string, unknown> {
    return {
      _topic: record.topic,
      _partition: record.partition,
      _offset: record.offset.toString(),
      _timestamp: formatDateTime(recordTime(record.timestamp), this.capabilities),
      _key: record.key ?? '',
    };
  }

  /** The row for a record; a value its column cannot hold is a PoisonError naming the field. */
  private row(
    record: SinkRecord,
    values: Record<string, unknown>,
    columns: Column[],
  ): Record<string, unknown> {
    const row: Record<string, unknown> = {};
    for (const column of columns) {
      // Own fields only: not Object.prototype's `toString` for a field of that name, nor a
      // `__proto__` field (avsc gives it no value, and setting it would change `row`'s prototype).
      if (!Object.hasOwn(values, column.name)) continue;
      const value = values[column.name];
      if (value === undefined) continue;
      try {
        row[column.name] = column.convert(value);
      } catch (error) {
        throw new PoisonError('bad_data', `field "${column.name}": ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    return Object.assign(row, this.metadata(record));
  }

  /** Inserts JSONEachRow rows; on bad data, halves them until the bad rows are isolated and rejected. */
  private async insertJson(table: string, items: Item[], rejected: Rejected[]): Promise<void> {
    try {
      await this.service.insert(
        this.qualified(table),
        items.map((i) => i.row),
      );
    } catch (error) {
      if (!(error instanceof PoisonError)) throw error;
      if (items.length === 1) {
        rejected.push({ record: (items[0] as Item).record, reason: error.message });
        return;
      }
      const half = Math.ceil(items.length / 2);
      await this.insertJson(table, items.slice(0, half), rejected);
      await this.insertJson(table, items.slice(half), rejected);
    }
  }

  private qualified(table: string): string {
    return `${quoteIdent(this.database)}.${quoteIdent(table)}`;
  }

  /**
   * Writes the records' rows: RowBinary for the table's column types (read under the insert
   * lock, so no ALTER of this sink runs between reading them and the insert), JSONEachRow when
   * a type has no writer. A RowBinary body the server refuses (bad data, or rows it could not
   * read to the end: 33) is first taken for columns changed by another process (read again,
   * written again). Refused again on the columns just read, the body itself is wrong (a value
   * RowBinary cannot hold, or bytes misframed by the writer): the chunk goes as JSONEachRow,
   * self-describing, whose halving dead-letters only the rows the server refuses there. Retrying
   * the same bytes could only be refused again, forever.
   */
  private async insertRows(
    table: string,
    records: SinkRecord[],
    schemas: Map<number, Column[]>,
    refused: Rejected[],
    attempt: number,
  ): Promise<void> {
    await this.tables.insert(table, async () => {
      const described = this.tables.columns(table);
      if (!described) throw new SchemaChangedError(`the columns of ${table} are to be read again`);
      const plans = this.plans.plansFor(table, described, schemas, this.types.of(records, schemas));
      if (!plans) {
        await this.insertJson(table, this.jsonItems(records, schemas, refused), refused);
        return;
      }
      const writer = this.writers.take();
      try {
        const body = encodeRows(
          writer,
          records,
          (r) => plans.get(isTombstone(r) ? 0 : r.schemaId) as Plan,
          refused,
        );
        if (body.records.length === 0) return;
        try {
          const all = body.writer.buf.subarray(0, body.starts.at(-1));
          await this.service.insertRowBinary(this.qualified(table), body.columns, all);
        } catch (error) {
          // Read the columns again before the next try, whatever the failure.
          this.tables.forget(table);
          if (!refusedBody(error)) throw error;
          if (attempt === 1)
            throw new SchemaChangedError(`RowBinary insert refused: ${(error as Error).message}`, {
              cause: error,
            });
          this.log.warn(
            'ClickHouse refused the RowBinary body again on the columns just read; writing this chunk as JSONEachRow',
            { table, rows: body.records.length, error: (error as Error).message },
          );
          await this.insertJson(table, this.jsonItems(body.records, schemas, refused), refused);
        }
      } finally {
        this.writers.give(writer);
      }
    });
  }

  /** The JSONEachRow rows of the records (a value no column holds rejects its row). */
  private jsonItems(records: SinkRecord[], schemas: Map<number, Column[]>, refused: Rejected[]): Item[] {
    const items: Item[] = [];
    for (const record of records) {
      if (isTombstone(record)) {
        items.push({ record, row: { ...this.metadata(record), [DELETED_COLUMN.name]: 1 } });
        continue;
      }
      try {
        const value = record.value as Record<string, unknown>;
        items.push({ record, row: this.row(record, value, schemas.get(record.schemaId) ?? []) });
      } catch (error) {
        if (!(error instanceof PoisonError)) throw error;
        refused.push({ record, reason: error.message, kind: error.kind });
      }
    }
    return items;
  }

  async writeBatch(batch: Batch): Promise<WriteResult> {
    const table = tableName(batch.topic);
    const policy = this.dedupPolicy(batch.topic);
    const rejected: Rejected[] = [];
    const records: SinkRecord[] = [];
    const schemas = new Map<number, Column[]>();
    let tombstones = 0;
    for (const record of batch.records) {
      if (isTombstone(record)) {
        if (policy.kind === 'latest' && policy.tombstones && record.key !== null) {
          records.push(record);
          tombstones += 1;
        } else {
          rejected.push({
            record,
            reason:
              record.key === null
                ? 'a tombstone (null value) without a key deletes nothing'
                : `a tombstone (null value) on ${batch.topic}, which is not an entity topic: there is nothing it could delete`,
          });
        }
        continue;
      }
      try {
        if (!schemas.has(record.schemaId))
          schemas.set(record.schemaId, this.columnsFor(record.schemaId, record.schema));
        records.push(record);
      } catch (error) {
        if (!(error instanceof PoisonError)) throw error;
        rejected.push({ record, reason: error.message });
      }
    }
    try {
      await this.ensureBase();
      for (let attempt = 1; records.length > 0; attempt++) {
        const refused: Rejected[] = [];
        try {
          for (const [id, columns] of [...schemas].sort((a, b) => a[0] - b[0]))
            await this.tables.ensure(batch.group, batch.topic, table, `${table}#${id}`, columns, policy, id);
          if (tombstones > 0 && schemas.size === 0)
            await this.tables.ensure(batch.group, batch.topic, table, `${table}#tombstones`, [], policy);
          await this.insertRows(table, records, schemas, refused, attempt);
          rejected.push(...refused);
          break;
        } catch (error) {
          // The table changed under us (another member created it from older columns, or it
          // was dropped and created again): read its columns again and write once more.
          if (!(error instanceof SchemaChangedError) || attempt >= 2) throw error;
          this.log.info('the table differs from the columns known; reading its columns again', {
            table,
            error: error.message,
          });
          this.tables.forget(table);
        }
      }
      // The offset about to be stored covers the rejected rows: their dead letters go first.
      if (rejected.length > 0) await batch.deadLetter?.(rejected);
      const last = batch.records.at(-1) as SinkRecord;
      await this.service.insert(`${quoteIdent(this.database)}.${OFFSETS_TABLE}`, [
        {
          group: batch.group,
          topic: batch.topic,
          partition: batch.partition,
          offset: last.offset.toString(),
          updated: formatDateTime(Date.now(), { ...this.capabilities, dateTime64: false }),
        },
      ]);
    } catch (error) {
      this.forgetOnSchemaChange(error);
      throw error;
    }
    return { rejected };
  }

  async close(): Promise<void> {
    await this.service.close();
  }
}
