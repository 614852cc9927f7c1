/**
 * The ClickHouse sink: a table per topic created from the Avro schema, columns added as the
 * schema evolves, inserts in large JSONEachRow batches, and per-partition offsets stored in
 * ClickHouse with each batch. Redelivery is harmless: rows already covered by the stored
 * offset are skipped by the runner, and the `<table>_dedup` view (FINAL over a
 * ReplacingMergeTree keyed by topic, partition and offset) shows each record once even when a
 * crash fell between a row insert and its offset write.
 */

import { PoisonError } from '../../../core/errors.ts';
import type { Logger } from '../../../core/log.ts';
import type { CoreConfig } from '../../../core/settings.ts';
import { RECORD_KINDS } from '../../../schemas/catalog.ts';
import type { AvroRecordSchema, Batch, Sink, SinkRecord, WriteResult } from '../../sink.ts';
import {
  addColumnsSql,
  type Capabilities,
  type Column,
  columnsOf,
  createOffsetsTableSql,
  createTableSql,
  createViewSql,
  type DedupPolicy,
  formatDateTime,
  OFFSETS_TABLE,
  quoteIdent,
  quoteString,
  tableName,
} from './schema.ts';
import { ClickHouseService, SCHEMA_CHANGED_CODES, serverCode } from './service.ts';

export function detectCapabilities(version: string): Capabilities {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return { version, dateTime64: major > 20 || (major === 20 && minor >= 1) };
}

export class ClickHouseSink implements Sink {
  readonly name = 'clickhouse';
  private readonly service: ClickHouseService;
  private readonly database: string;
  private readonly topicPrefix: string;
  private readonly log: Logger;
  private caps?: Capabilities;
  /** Columns per schema id; tables whose columns are known to hold a schema id. */
  private readonly columnsById = new Map<number, Column[]>();
  private readonly ready = new Set<string>();
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(config: CoreConfig, log: Logger) {
    this.service = new ClickHouseService(config);
    this.database = config.clickhouse.database;
    this.topicPrefix = config.kafka.topicPrefix;
    this.log = log;
  }

  get capabilities(): Capabilities {
    if (!this.caps) throw new Error('ClickHouse sink is not connected');
    return this.caps;
  }

  async connect(): Promise<void> {
    const [row] = await this.service.rows<{ v: string }>('SELECT version() AS v');
    this.caps = detectCapabilities(row?.v ?? '0');
    await this.service.command(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(this.database)}`);
    await this.service.command(createOffsetsTableSql(this.database));
    this.log.info('connected to ClickHouse', {
      version: this.caps.version,
      dateTime64: this.caps.dateTime64,
      database: this.database,
    });
  }

  async storedOffset(group: string, topic: string, partition: number): Promise<bigint | undefined> {
    const [row] = await this.service.rows<{ c: string; o: string }>(
      `SELECT count() AS c, max(offset) AS o FROM ${quoteIdent(this.database)}.${OFFSETS_TABLE} WHERE \`group\` = ${quoteString(group)} AND topic = ${quoteString(topic)} AND partition = ${Number(partition)}`,
    );
    return row && Number(row.c) > 0 ? BigInt(row.o) : undefined;
  }

  /** Serializes work on one table (creation and ALTERs from concurrent partitions). */
  private async exclusive<T>(table: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(table) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    this.locks.set(
      table,
      run.catch(() => {}),
    );
    return run;
  }

  /** Makes sure the table exists and has every column of the schema. */
  /** The record kind's dedup policy: latest per key for entities, each id once for events. */
  private dedupPolicy(topic: string): DedupPolicy {
    const kind = RECORD_KINDS.find((k) => `${this.topicPrefix}${k.topic}` === topic);
    if (!kind) return { kind: 'offset' };
    if (kind.retention === 'compact') return { kind: 'latest' };
    return kind.identity === kind.key ? { kind: 'latest' } : { kind: 'identity', field: kind.identity };
  }

  private async ensureTable(
    topic: string,
    table: string,
    schemaId: number,
    schema: AvroRecordSchema,
  ): Promise<Column[]> {
    const columns = this.columnsById.get(schemaId) ?? columnsOf(schema, this.capabilities);
    this.columnsById.set(schemaId, columns);
    const readyKey = `${table}#${schemaId}`;
    if (this.ready.has(readyKey)) return columns;
    await this.exclusive(table, async () => {
      if (this.ready.has(readyKey)) return;
      const existing = await this.service.rows<{ name: string }>(
        `SELECT name FROM system.columns WHERE database = ${quoteString(this.database)} AND table = ${quoteString(table)}`,
      );
      if (existing.length === 0) {
        await this.service.command(createTableSql(this.database, table, columns, this.capabilities));
        await this.service.command(createViewSql(this.database, table, this.dedupPolicy(topic)));
        this.log.info('created table', { table, columns: columns.length, schemaId });
      } else {
        const have = new Set(existing.map((c) => c.name));
        const missing = columns.filter((c) => !have.has(c.name));
        if (missing.length > 0) {
          // 18.16 has no ADD COLUMN IF NOT EXISTS: the diff against system.columns decides.
          await this.service.command(addColumnsSql(this.database, table, missing));
          // A view's columns are fixed when it is created: create it again to show the new ones.
          await this.service.command(
            `DROP TABLE IF EXISTS ${quoteIdent(this.database)}.${quoteIdent(`${table}_dedup`)}`,
          );
          this.log.info('added columns', {
            table,
            columns: missing.map((c) => `${c.name} ${c.type}`),
            schemaId,
          });
        }
        await this.service.command(createViewSql(this.database, table, this.dedupPolicy(topic)));
      }
      this.ready.add(readyKey);
    });
    return columns;
  }

  private row(record: SinkRecord, columns: Column[]): Record<string, unknown> {
    const row: Record<string, unknown> = {};
    for (const column of columns) {
      const value = record.value[column.name];
      if (value !== undefined) row[column.name] = column.convert(value);
    }
    row._topic = record.topic;
    row._partition = record.partition;
    row._offset = record.offset.toString();
    row._timestamp = formatDateTime(record.timestamp, this.capabilities);
    row._key = record.key ?? '';
    return row;
  }

  /** Inserts rows; on bad data, halves the batch until the bad rows are isolated and rejected. */
  private async insert(
    table: string,
    items: { record: SinkRecord; row: Record<string, unknown> }[],
    rejected: WriteResult['rejected'],
  ): Promise<void> {
    try {
      await this.service.insert(
        `${quoteIdent(this.database)}.${quoteIdent(table)}`,
        items.map((i) => i.row),
      );
    } catch (error) {
      if (!(error instanceof PoisonError)) throw error;
      if (items.length === 1) {
        rejected.push({ record: (items[0] as { record: SinkRecord }).record, reason: error.message });
        return;
      }
      const half = Math.ceil(items.length / 2);
      await this.insert(table, items.slice(0, half), rejected);
      await this.insert(table, items.slice(half), rejected);
    }
  }

  async writeBatch(batch: Batch): Promise<WriteResult> {
    const table = tableName(batch.topic);
    const rejected: WriteResult['rejected'] = [];
    try {
      const schemas = new Map<number, AvroRecordSchema>();
      for (const record of batch.records) schemas.set(record.schemaId, record.schema);
      const columns = new Map<number, Column[]>();
      for (const [id, schema] of [...schemas].sort((a, b) => a[0] - b[0]))
        columns.set(id, await this.ensureTable(batch.topic, table, id, schema));
      const items = batch.records.map((record) => ({
        record,
        row: this.row(record, columns.get(record.schemaId) as Column[]),
      }));
      await this.insert(table, items, rejected);
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
      const code = serverCode((error as { cause?: unknown }).cause ?? error);
      if (code !== undefined && SCHEMA_CHANGED_CODES.has(code)) this.ready.clear();
      throw error;
    }
    return { rejected };
  }

  async close(): Promise<void> {
    await this.service.close();
  }
}
