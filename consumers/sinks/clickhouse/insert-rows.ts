/**
 * How the rows of one insert reach a table: RowBinary written for the table's own column types
 * (request.ts, transcoded from the Avro bytes where it can), or JSONEachRow (json-rows.ts) for
 * a table with a column type the writer does not know and for a body ClickHouse refused twice.
 */
import { PoisonError } from '../../../core/errors.ts';
import type { Logger } from '../../../core/log.ts';
import { isTombstone, type Rejected, type SinkRecord } from '../../sink.ts';
import type { JsonRows } from './json-rows.ts';
import { encodeRows, type Plan, PlanCache, WriterPool } from './request.ts';
import { type Column, quoteIdent } from './schema.ts';
import { type ClickHouseService, refusedBody, SchemaChangedError } from './service.ts';
import type { Tables } from './tables.ts';
import { WriterTypes } from './transcode.ts';

export class RowInserter {
  private readonly service: ClickHouseService;
  private readonly tables: Tables;
  private readonly json: JsonRows;
  private readonly database: string;
  private readonly log: Logger;
  private readonly types = new WriterTypes();
  private readonly plans = new PlanCache();
  private readonly writers: WriterPool;

  /** `keepBytes`: the most RowBinary body bytes kept for the next inserts (request.ts, WriterPool). */
  constructor(
    service: ClickHouseService,
    tables: Tables,
    json: JsonRows,
    database: string,
    log: Logger,
    keepBytes: number,
  ) {
    this.writers = new WriterPool(keepBytes);
    this.service = service;
    this.tables = tables;
    this.json = json;
    this.database = database;
    this.log = log;
  }

  /**
   * Writes the records' rows: RowBinary for the table's column types (read under the insert
   * lock, so no ALTER of this sink runs between reading them and the insert), JSONEachRow when
   * a type has no writer. A RowBinary body the server refuses (bad data, or rows it could not
   * read to the end: 33) is first taken for columns changed by another process (read again,
   * written again). Refused again on the columns just read, the body itself is wrong (a value
   * RowBinary cannot hold, or bytes misframed by the writer): the chunk goes as JSONEachRow,
   * self-describing, whose halving dead-letters only the rows the server refuses there. Retrying
   * the same bytes could only be refused again, forever. Rows of several batches (`merged`)
   * refused twice are a PoisonError instead: the sink then writes each batch alone.
   */
  async insert(
    table: string,
    records: SinkRecord[],
    schemas: Map<number, Column[]>,
    refused: Rejected[],
    attempt: number,
    merged: boolean,
  ): Promise<void> {
    const qualified = `${quoteIdent(this.database)}.${quoteIdent(table)}`;
    await this.tables.insert(table, async () => {
      const described = this.tables.columns(table);
      if (!described) throw new SchemaChangedError(`the columns of ${table} are to be read again`);
      const plans = this.plans.plansFor(table, described, schemas, this.types.of(records, schemas));
      if (!plans) {
        await this.json.insert(qualified, this.json.items(records, schemas, refused), refused);
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
          await this.service.insertRowBinary(qualified, body.columns, all);
        } catch (error) {
          // Read the columns again before the next try, whatever the failure.
          this.tables.forget(table);
          if (!refusedBody(error)) throw error;
          if (attempt === 1)
            throw new SchemaChangedError(`RowBinary insert refused: ${(error as Error).message}`, {
              cause: error,
            });
          // Rows of several batches: each is written alone, so only the one at fault goes slow.
          if (merged)
            throw new PoisonError(
              'bad_data',
              `ClickHouse refused the RowBinary rows of several batches again: ${(error as Error).message}`,
              { cause: error },
            );
          this.log.warn(
            'ClickHouse refused the RowBinary body again on the columns just read; writing this chunk as JSONEachRow',
            { table, rows: body.records.length, error: (error as Error).message },
          );
          await this.json.insert(qualified, this.json.items(body.records, schemas, refused), refused);
        }
      } finally {
        this.writers.give(writer);
      }
    });
  }
}
