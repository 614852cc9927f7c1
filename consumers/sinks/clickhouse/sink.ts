/**
 * The ClickHouse sink: a table per topic created from the Avro schema, columns added (and
 * widened) as the schema evolves, inserts in large JSONEachRow batches, and per-partition
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
import type { AvroRecordSchema, Batch, Sink, SinkRecord, WriteResult } from '../../sink.ts';
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
  tableName,
} from './schema.ts';
import {
  ClickHouseService,
  SCHEMA_CHANGED_CODES,
  SchemaChangedError,
  serverCode,
  unknownDatabase,
} from './service.ts';
import { Tables } from './tables.ts';

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
  private readonly service: ClickHouseService;
  private readonly database: string;
  private readonly topicPrefix: string;
  private readonly log: Logger;
  private caps?: Capabilities;
  /** Columns per schema id; tables whose columns are known to hold a schema id. */
  private readonly columnsById = new Map<number, Column[]>();
  private readonly tables: Tables;
  private baseReady = false;

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
      _timestamp: formatDateTime(record.timestamp, this.capabilities),
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

  /** Inserts rows; on bad data, halves the batch until the bad rows are isolated and rejected. */
  private async insert(table: string, items: Item[], rejected: WriteResult['rejected']): Promise<void> {
    try {
      await this.service.insert(
        `${quoteIdent(this.database)}.${quoteIdent(table)}`,
        items.map((i) => i.row),
      );
    } catch (error) {
      if (!(error instanceof PoisonError)) throw error;
      if (items.length === 1) {
        rejected.push({ record: (items[0] as Item).record, reason: error.message });
        return;
      }
      const half = Math.ceil(items.length / 2);
      await this.insert(table, items.slice(0, half), rejected);
      await this.insert(table, items.slice(half), rejected);
    }
  }

  async writeBatch(batch: Batch): Promise<WriteResult> {
    const table = tableName(batch.topic);
    const policy = this.dedupPolicy(batch.topic);
    const rejected: WriteResult['rejected'] = [];
    const items: Item[] = [];
    const schemas = new Map<number, Column[]>();
    let tombstones = 0;
    // Rows first: a value no column can hold (a date out of range) rejects its row only.
    for (const record of batch.records) {
      if (record.value === null) {
        if (policy.kind === 'latest' && policy.tombstones && record.key !== null) {
          items.push({ record, row: { ...this.metadata(record), [DELETED_COLUMN.name]: 1 } });
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
        let columns = schemas.get(record.schemaId);
        if (!columns) {
          columns = this.columnsFor(record.schemaId, record.schema);
          schemas.set(record.schemaId, columns);
        }
        items.push({ record, row: this.row(record, record.value, columns) });
      } catch (error) {
        if (!(error instanceof PoisonError)) throw error;
        rejected.push({ record, reason: error.message });
      }
    }
    try {
      await this.ensureBase();
      for (let attempt = 1; items.length > 0; attempt++) {
        const refused: WriteResult['rejected'] = [];
        try {
          for (const [id, columns] of [...schemas].sort((a, b) => a[0] - b[0]))
            await this.tables.ensure(batch.group, batch.topic, table, `${table}#${id}`, columns, policy, id);
          if (tombstones > 0 && schemas.size === 0)
            await this.tables.ensure(batch.group, batch.topic, table, `${table}#tombstones`, [], policy);
          await this.insert(table, items, refused);
          rejected.push(...refused);
          break;
        } catch (error) {
          // The table changed under us (another member created it from older columns, or it
          // was dropped and created again): read its columns again and write once more.
          if (!(error instanceof SchemaChangedError) || attempt >= 2) throw error;
          this.log.info('the table lacks a column the rows have; reading its columns again', {
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
