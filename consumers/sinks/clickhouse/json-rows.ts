/**
 * The JSONEachRow path of the ClickHouse sink: rows as objects, for a table with a column type
 * the RowBinary writer does not know, and for a chunk ClickHouse refused twice as RowBinary.
 * Self-describing, so a refused insert is halved until only the rows the server refuses are
 * left: those are rejected (dead letters), the others written.
 */
import { PoisonError } from '../../../core/errors.ts';
import { isTombstone, type Rejected, type SinkRecord } from '../../sink.ts';
import { type Capabilities, type Column, DELETED_COLUMN, formatDateTime, recordTime } from './schema.ts';
import type { ClickHouseService } from './service.ts';

type Item = { record: SinkRecord; row: Record<string, unknown> };

export class JsonRows {
  private readonly service: ClickHouseService;
  private readonly capabilities: () => Capabilities;

  constructor(service: ClickHouseService, capabilities: () => Capabilities) {
    this.service = service;
    this.capabilities = capabilities;
  }

  private metadata(record: SinkRecord): Record<string, unknown> {
    return {
      _topic: record.topic,
      _partition: record.partition,
      _offset: record.offset.toString(),
      _timestamp: formatDateTime(recordTime(record.timestamp), this.capabilities()),
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
  async insert(table: string, items: Item[], rejected: Rejected[]): Promise<void> {
    try {
      await this.service.insert(
        table,
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

  /** The JSONEachRow rows of the records (a value no column holds rejects its row). */
  items(records: SinkRecord[], schemas: Map<number, Column[]>, refused: Rejected[]): Item[] {
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
}
