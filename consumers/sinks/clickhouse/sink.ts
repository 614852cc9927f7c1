/**
 * The ClickHouse sink: a table per topic created from the Avro schema, columns added (and
 * widened) as the schema evolves, inserts in large JSONEachRow batches, and per-partition
 * offsets stored in ClickHouse with each batch. Redelivery is harmless: rows already covered by
 * the stored offset are skipped by the runner, and the `<table>_dedup` view (FINAL over a
 * ReplacingMergeTree keyed by topic, partition and offset) shows each record once even when a
 * crash fell between a row insert and its offset write.
 *
 * Several members (partitions of one process, or processes of one group) may create and alter
 * the same table at once: every decision is made on the columns read from `system.columns`
 * after the DDL, and an insert refused for an unknown column reads them again.
 */

import { EXIT, FatalError, isRetriable, PoisonError } from '../../../core/errors.ts';
import type { Logger } from '../../../core/log.ts';
import type { CoreConfig } from '../../../core/settings.ts';
import { RECORD_KINDS } from '../../../schemas/catalog.ts';
import type { AvroRecordSchema, Batch, Sink, SinkRecord, WriteResult } from '../../sink.ts';
import {
  alterColumnsSql,
  type Capabilities,
  type Column,
  columnChange,
  columnsOf,
  createOffsetsTableSql,
  createTableSql,
  createViewSql,
  DELETED_COLUMN,
  type DedupPolicy,
  formatDateTime,
  metadataColumns,
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

/** Column name → type, of a table and of its `_dedup` view (empty when absent). */
interface Described {
  table: Map<string, string>;
  view: Map<string, string>;
}

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
    await this.service
      .command(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(this.database)}`)
      .catch((error) => {
        throw unknownDatabase(error, this.database) ?? error;
      });
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

  private async describe(table: string): Promise<Described> {
    const found = await this.service.rows<{ table: string; name: string; type: string }>(
      `SELECT table, name, type FROM system.columns WHERE database = ${quoteString(this.database)} AND table IN (${quoteString(table)}, ${quoteString(`${table}_dedup`)})`,
    );
    const described: Described = { table: new Map(), view: new Map() };
    for (const c of found) (c.table === table ? described.table : described.view).set(c.name, c.type);
    return described;
  }

  /** Forgets what this sink knows of a table: its next write reads the columns again. */
  private forget(table: string): void {
    for (const key of this.ready) if (key.startsWith(`${table}#`)) this.ready.delete(key);
  }

  /**
   * Makes sure the table exists, has every column of `columns` with a type that holds its
   * values, and that its view shows the table's columns. `readyKey` remembers it was done.
   */
  private async ensureTable(
    topic: string,
    table: string,
    readyKey: string,
    columns: { name: string; type: string }[],
    schemaId?: number,
  ): Promise<void> {
    if (this.ready.has(readyKey)) return;
    await this.exclusive(table, async () => {
      if (this.ready.has(readyKey)) return;
      const policy = this.dedupPolicy(topic);
      let found = await this.describe(table);
      if (found.table.size === 0) {
        await this.service.command(createTableSql(this.database, table, columns, this.capabilities, policy));
        // Another member may have created it a moment before, from other columns: what is there
        // decides, not what was sent.
        found = await this.describe(table);
        const all = [...columns, ...metadataColumns(this.capabilities, policy)];
        const ours = found.table.size === all.length && all.every((c) => found.table.get(c.name) === c.type);
        this.log.info(
          ours ? 'created table' : 'table created meanwhile by another member, from other columns',
          {
            table,
            columns: columns.length,
            schemaId,
          },
        );
      }
      const wanted = policy.kind === 'latest' && policy.tombstones ? [...columns, DELETED_COLUMN] : columns;
      found = await this.alter(topic, table, wanted, found, schemaId);
      await this.ensureView(table, policy, found);
      this.ready.add(readyKey);
    });
  }

  /**
   * Adds the missing columns and widens the ones too narrow, in one ALTER; stops (FatalError,
   * exit 3) on a column no type can widen to safely. A failed ALTER (another member altering
   * the same table at the same moment) is decided again on the columns read afterwards.
   */
  private async alter(
    topic: string,
    table: string,
    wanted: { name: string; type: string }[],
    described: Described,
    schemaId?: number,
  ): Promise<Described> {
    let found = described;
    for (let attempt = 1; ; attempt++) {
      const add: { name: string; type: string }[] = [];
      const modify: { name: string; type: string; from: string }[] = [];
      for (const column of wanted) {
        const have = found.table.get(column.name);
        if (have === undefined) {
          add.push(column);
          continue;
        }
        const change = columnChange(have, column.type);
        if (change.action === 'modify') modify.push({ name: column.name, type: change.type, from: have });
        if (change.action === 'refuse') {
          const where = `${this.database}.${table}`;
          throw new FatalError(
            `ClickHouse table ${where}: column ${column.name} is ${have}, but schema id ${schemaId} of topic ${topic} writes ${column.type}: ${change.reason}`,
            {
              code: 'CLICKHOUSE_COLUMN_TYPE',
              exitCode: EXIT.config,
              hint: `change the column by hand (ALTER TABLE ${quoteIdent(this.database)}.${quoteIdent(table)} MODIFY COLUMN ${quoteIdent(column.name)} <type>) to a type that holds both, or give the field a new name in the schema; then start the sink again`,
            },
          );
        }
      }
      if (add.length === 0 && modify.length === 0) return found;
      try {
        // 18.16 has no ADD COLUMN IF NOT EXISTS: the diff against system.columns decides.
        await this.service.command(alterColumnsSql(this.database, table, add, modify));
        this.log.info('altered table', {
          table,
          schemaId,
          ...(add.length > 0 ? { added: add.map((c) => `${c.name} ${c.type}`) } : {}),
          ...(modify.length > 0 ? { widened: modify.map((c) => `${c.name} ${c.from} → ${c.type}`) } : {}),
        });
      } catch (error) {
        if (attempt >= 3 || !isRetriable(error)) throw error;
        this.log.info('ALTER failed; reading the columns again', { table, error: (error as Error).message });
      }
      found = await this.describe(table);
    }
  }

  /**
   * A view's columns are fixed when it is created: when they differ from the table's (a new
   * or widened column, or a crash between an ALTER and the view's swap), create it again.
   */
  private async ensureView(table: string, policy: DedupPolicy, found: Described): Promise<void> {
    const current =
      found.view.size === found.table.size &&
      [...found.table].every(([name, type]) => found.view.get(name) === type);
    if (current) return;
    const view = `${quoteIdent(this.database)}.${quoteIdent(`${table}_dedup`)}`;
    if (found.view.size > 0) {
      await this.service.command(`DROP TABLE IF EXISTS ${view}`);
      this.log.info('recreating the view: its columns differ from the table', { view: `${table}_dedup` });
    }
    await this.service.command(createViewSql(this.database, table, policy));
  }

  private columnsFor(schemaId: number, schema: AvroRecordSchema): Column[] {
    let columns = this.columnsById.get(schemaId);
    if (!columns) {
      columns = columnsOf(schema, this.capabilities);
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
  private row(record: SinkRecord, columns: Column[]): Record<string, unknown> {
    const row: Record<string, unknown> = {};
    for (const column of columns) {
      const value = record.value[column.name];
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
      if ((record.value as SinkRecord['value'] | null) === null) {
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
      let columns = schemas.get(record.schemaId);
      if (!columns) {
        columns = this.columnsFor(record.schemaId, record.schema);
        schemas.set(record.schemaId, columns);
      }
      try {
        items.push({ record, row: this.row(record, columns) });
      } catch (error) {
        if (!(error instanceof PoisonError)) throw error;
        rejected.push({ record, reason: error.message });
      }
    }
    try {
      for (let attempt = 1; items.length > 0; attempt++) {
        const refused: WriteResult['rejected'] = [];
        try {
          for (const [id, columns] of [...schemas].sort((a, b) => a[0] - b[0]))
            await this.ensureTable(batch.topic, table, `${table}#${id}`, columns, id);
          if (tombstones > 0 && schemas.size === 0)
            await this.ensureTable(batch.topic, table, `${table}#tombstones`, []);
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
          this.forget(table);
        }
      }
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
      if (error instanceof SchemaChangedError || (code !== undefined && SCHEMA_CHANGED_CODES.has(code)))
        this.ready.clear();
      throw error;
    }
    return { rejected };
  }

  async close(): Promise<void> {
    await this.service.close();
  }
}
