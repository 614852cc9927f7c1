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
import { JsonRows } from './json-rows.ts';
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
  private readonly types = new WriterTypes();
  private readonly tables: Tables;
  private baseReady = false;
  private readonly plans = new PlanCache();
  private readonly writers = new WriterPool();
  private readonly json: JsonRows;
  private readonly group = new GroupCommit<Batch, WriteResult>((_key, batches) =>
    this.writeTogether(batches),
  );

  constructor(config: CoreConfig, log: Logger) {
    this.service = new ClickHouseService(config);
    this.database = config.clickhouse.database;
    this.topicPrefix = config.kafka.topicPrefix;
    this.log = log;
    this.tables = new Tables(this.service, this.database, log, () => this.capabilities);
    this.json = new JsonRows(this.service, () => this.capabilities);
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
        await this.json.insert(this.qualified(table), this.json.items(records, schemas, refused), refused);
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
          await this.json.insert(
            this.qualified(table),
            this.json.items(body.records, schemas, refused),
            refused,
          );
        }
      } finally {
        this.writers.give(writer);
      }
    });
  }

  /**
   * Writes go through a group commit per topic (group-commit.ts): batches of several
   * partitions (and of several fetches) that wait while one insert runs go together in the
   * next — one rows insert and one offsets insert for all of them.
   */
  writeBatch(batch: Batch): Promise<WriteResult> {
    return this.group.submit(`${batch.group}\u0000${batch.topic}`, batch);
  }

  /**
   * Batches of one topic written together. Bad data the merged write could not isolate (a
   * PoisonError) sends each batch alone, so the runner halves only the batch that holds it.
   */
  private async writeTogether(batches: Batch[]): Promise<PromiseSettledResult<WriteResult>[]> {
    const alone = (batch: Batch) =>
      settle(this.writeBatches([batch]).then(([result]) => result as WriteResult));
    if (batches.length === 1) return [await alone(batches[0] as Batch)];
    try {
      const results = await this.writeBatches(batches);
      return results.map((value) => ({ status: 'fulfilled', value }));
    } catch (error) {
      if (!(error instanceof PoisonError)) throw error;
      const outcomes: PromiseSettledResult<WriteResult>[] = [];
      for (const batch of batches) outcomes.push(await alone(batch));
      return outcomes;
    }
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

  /** Writes batches of one topic (and group) in one rows insert and one offsets insert. */
  private async writeBatches(batches: Batch[]): Promise<WriteResult[]> {
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
          await this.insertRows(table, records, schemas, refused, attempt);
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
      // The offsets about to be stored cover the rejected rows: their dead letters go first.
      for (const [i, batch] of batches.entries()) {
        const rejected = rejectedOf[i] as Rejected[];
        if (rejected.length > 0) await batch.deadLetter?.(rejected);
      }
      const updated = formatDateTime(Date.now(), { ...this.capabilities, dateTime64: false });
      await this.service.insert(
        `${quoteIdent(this.database)}.${OFFSETS_TABLE}`,
        batches
          .filter((batch) => batch.records.length > 0)
          .map((batch) => ({
            group,
            topic,
            partition: batch.partition,
            offset: (batch.records.at(-1) as SinkRecord).offset.toString(),
            updated,
          })),
      );
    } catch (error) {
      this.forgetOnSchemaChange(error);
      throw error;
    }
    return rejectedOf.map((rejected) => ({ rejected }));
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
  for (const r of refused) (rejectedOf[owner.get(r.record) ?? 0] as Rejected[]).push(r);
}
