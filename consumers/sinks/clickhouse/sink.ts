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

import { EXIT, FatalError, PoisonError, RetriableError } from '../../../core/errors.ts';
import type { Logger } from '../../../core/log.ts';
import type { CoreConfig } from '../../../core/settings.ts';
import { RECORD_KINDS } from '../../../schemas/catalog.ts';
import { GroupCommit, settle } from '../../group-commit.ts';
import {
  type AvroRecordSchema,
  type Batch,
  isTombstone,
  type Rejected,
  type Sink,
  type SinkRecord,
  type WriteResult,
} from '../../sink.ts';
import { detectCapabilities } from './capabilities.ts';
import { RowInserter } from './insert-rows.ts';
import { JsonRows } from './json-rows.ts';
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

export { detectCapabilities } from './capabilities.ts';

/** Column names of the Kafka metadata every table carries; no Avro field may take them. */
const RESERVED_COLUMNS = new Set([
  '_topic',
  '_partition',
  '_offset',
  '_timestamp',
  '_key',
  DELETED_COLUMN.name,
]);

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
  private readonly tables: Tables;
  private baseReady = false;
  private readonly rows: RowInserter;
  private readonly group = new GroupCommit<Batch, WriteResult>((_key, batches) =>
    this.writeTogether(batches),
  );

  /** With the sink runner's settings (`sink.memoryBytes`), a quarter of the budget bounds the kept insert bodies. */
  constructor(config: CoreConfig & { sink?: { memoryBytes: number } }, log: Logger) {
    this.service = new ClickHouseService(config);
    this.database = config.clickhouse.database;
    this.topicPrefix = config.kafka.topicPrefix;
    this.log = log;
    this.tables = new Tables(this.service, this.database, log, () => this.capabilities);
    const json = new JsonRows(this.service, () => this.capabilities);
    const keepBytes = Math.max(4 << 20, Math.floor((config.sink?.memoryBytes ?? 0) / 4));
    this.rows = new RowInserter(this.service, this.tables, json, this.database, log, keepBytes);
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

  /**
   * Writes go through a group commit per topic (group-commit.ts): batches of several
   * partitions that queue while one insert of the topic runs go together in the next.
   */
  writeBatch(batch: Batch): Promise<WriteResult> {
    return this.group.submit(`${batch.group}\u0000${batch.topic}`, batch);
  }

  /**
   * Batches of one topic written together; each settles on its own. A batch that ended while
   * it waited (its runner's signal) is not written: a retriable error, which its runner drops
   * as it ends. Bad data the merged write could not isolate (a PoisonError) sends each batch
   * alone, so the runner halves only the batch that holds it.
   */
  private async writeTogether(batches: Batch[]): Promise<PromiseSettledResult<WriteResult>[]> {
    const outcomes: PromiseSettledResult<WriteResult>[] = [];
    const live: Batch[] = [];
    const at: number[] = [];
    for (const [i, batch] of batches.entries()) {
      if (batch.signal?.aborted) {
        outcomes[i] = {
          status: 'rejected',
          reason: new RetriableError('the batch ended while it waited for its insert'),
        };
        continue;
      }
      live.push(batch);
      at.push(i);
    }
    let written: PromiseSettledResult<WriteResult>[] = [];
    try {
      if (live.length > 0) written = await this.writeBatches(live);
    } catch (error) {
      if (!(error instanceof PoisonError) || live.length === 1) throw error;
      for (const batch of live) {
        const [alone] = await settle(this.writeBatches([batch])).then((o) =>
          o.status === 'fulfilled' ? o.value : [o],
        );
        written.push(alone as PromiseSettledResult<WriteResult>);
      }
    }
    written.forEach((outcome, k) => {
      outcomes[at[k] as number] = outcome;
    });
    return outcomes;
  }

  /** Records of a batch the sink can write, and those it refuses (a tombstone it cannot place, a reserved field name). */
  private sortRecords(
    batch: Batch,
    policy: DedupPolicy,
    schemas: Map<number, Column[]>,
    records: SinkRecord[],
    rejected: Rejected[],
  ): number {
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
    return tombstones;
  }

  /**
   * Writes batches of one topic (and group): one rows insert; then the offsets of the batches
   * with nothing to dead-letter, and each other batch's offset once its own dead letters are
   * acknowledged (a dead-letter send that fails fails its batch only). Throws what fails them
   * all (the rows insert, an offsets insert).
   */
  private async writeBatches(batches: Batch[]): Promise<PromiseSettledResult<WriteResult>[]> {
    const { group, topic } = batches[0] as Batch;
    const table = tableName(topic);
    const policy = this.dedupPolicy(topic);
    const rejectedOf = batches.map((): Rejected[] => []);
    const records: SinkRecord[] = [];
    const schemas = new Map<number, Column[]>();
    let tombstones = 0;
    batches.forEach((batch, i) => {
      tombstones += this.sortRecords(batch, policy, schemas, records, rejectedOf[i] as Rejected[]);
    });
    try {
      await this.ensureBase();
      for (let attempt = 1; records.length > 0; attempt++) {
        const refused: Rejected[] = [];
        try {
          for (const [id, columns] of [...schemas].sort((a, b) => a[0] - b[0]))
            await this.tables.ensure(group, topic, table, `${table}#${id}`, columns, policy, id);
          if (tombstones > 0 && schemas.size === 0)
            await this.tables.ensure(group, topic, table, `${table}#tombstones`, [], policy);
          await this.rows.insert(table, records, schemas, refused, attempt, batches.length > 1);
          assignRejected(batches, refused, rejectedOf);
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
      const outcomes: PromiseSettledResult<WriteResult>[] = rejectedOf.map((rejected) => ({
        status: 'fulfilled',
        value: { rejected },
      }));
      const lettered = batches.filter((_, i) => (rejectedOf[i] as Rejected[]).length > 0);
      await this.storeOffsets(batches.filter((batch) => !lettered.includes(batch)));
      if (lettered.length === 0) return outcomes;
      // An offset covering rejected rows is stored only once their dead letters are acknowledged.
      await Promise.all(
        batches.map(async (batch, i) => {
          const rejected = rejectedOf[i] as Rejected[];
          if (rejected.length === 0) return;
          try {
            await batch.deadLetter?.(rejected);
          } catch (reason) {
            outcomes[i] = { status: 'rejected', reason };
          }
        }),
      );
      await this.storeOffsets(
        lettered.filter((batch) => outcomes[batches.indexOf(batch)]?.status === 'fulfilled'),
      );
      return outcomes;
    } catch (error) {
      this.forgetOnSchemaChange(error);
      throw error;
    }
  }

  /**
   * One offsets insert for the batches (a row each: its last offset). The offsets table
   * refusing a row is no record's fault: the sink stops (exit 3) rather than dead-letter records
   * it stored.
   */
  private async storeOffsets(batches: Batch[]): Promise<void> {
    const stored = batches.filter((batch) => batch.records.length > 0);
    if (stored.length === 0) return;
    const updated = formatDateTime(Date.now(), { ...this.capabilities, dateTime64: false });
    try {
      await this.service.insert(
        `${quoteIdent(this.database)}.${OFFSETS_TABLE}`,
        stored.map((batch) => ({
          group: batch.group,
          topic: batch.topic,
          partition: batch.partition,
          offset: (batch.records.at(-1) as SinkRecord).offset.toString(),
          updated,
        })),
      );
    } catch (error) {
      if (!(error instanceof PoisonError)) throw error;
      throw new FatalError(`ClickHouse refused a row of ${OFFSETS_TABLE}: ${error.message}`, {
        code: 'CLICKHOUSE_OFFSETS_REFUSED',
        exitCode: EXIT.config,
        hint: `check the table ${this.database}.${OFFSETS_TABLE} (drop it to have the sink make it again)`,
        cause: error,
      });
    }
  }

  async close(): Promise<void> {
    await this.service.close();
  }
}

/** Hands each row the server or the writer refused to the batch it came from. */
function assignRejected(batches: Batch[], refused: Rejected[], rejectedOf: Rejected[][]): void {
  if (refused.length === 0) return;
  if (batches.length === 1) {
    (rejectedOf[0] as Rejected[]).push(...refused);
    return;
  }
  const owner = new Map<SinkRecord, number>();
  batches.forEach((batch, i) => {
    for (const record of batch.records) owner.set(record, i);
  });
  for (const r of refused) {
    const i = owner.get(r.record);
    if (i === undefined) throw new Error('a refused row belongs to no batch of the write (a bug)');
    (rejectedOf[i] as Rejected[]).push(r);
  }
}
