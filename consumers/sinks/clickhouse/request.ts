/**
 * Records → the body of one insert (Vector's request_builder): RowBinary in a reused buffer,
 * one row after another, written for the table's own column types (as `system.columns` reads
 * them after the sink made sure of the table), every column of the table in every row — a
 * column the record's schema lacks gets its type's default, as ClickHouse would give it.
 *
 * A value no column can hold (a date out of range) rejects its row only: the row's bytes are
 * taken back and the reason names the field. A table with a column type the writer does not
 * know (rowbinary.ts) has no plan: the sink writes it as JSONEachRow.
 */
import type avro from 'avsc';
import { PoisonError } from '../../../core/errors.ts';
import { isTombstone, type Rejected, type SinkRecord } from '../../sink.ts';
import { RowBinaryWriter, type Write, writerFor } from './rowbinary.ts';
import { type Column, recordTime } from './schema.ts';
import { type Transcode, transcoderFor } from './transcode.ts';

/** The Kafka metadata every row carries, as the RowBinary writer takes it. */
const METADATA: Record<string, (r: SinkRecord) => unknown> = {
  _topic: (r) => r.topic,
  _partition: (r) => r.partition,
  _offset: (r) => r.offset,
  _timestamp: (r) => recordTime(r.timestamp),
  _key: (r) => r.key ?? '',
  _deleted: (r) => (isTombstone(r) ? 1 : 0),
};

/** The metadata as the transcoder writes it: only records with a value are transcoded. */
export const TRANSCODE_METADATA: Record<string, (r: SinkRecord) => unknown> = {
  ...METADATA,
  _deleted: () => 0,
};

/** How the rows of one schema are written into a table of known columns. */
export interface Plan {
  /** The table's columns, in the order each row holds them. */
  columns: string[];
  /** Writes one record's row; throws (with `failedColumn` set) on a value no column holds. */
  write(w: RowBinaryWriter, record: SinkRecord): void;
  failedColumn?: string;
  /**
   * Writes a record's row straight from its Avro bytes (transcode.ts), the same bytes as
   * `write`; false when `write` must do it (bytes avsc refuses, text that is not UTF-8).
   */
  transcode?: Transcode;
}

/**
 * The plan for writing rows of a schema (its columns, from schema.ts) into a table with these
 * columns (name → type); undefined when a column type has no RowBinary writer here.
 */
export function planRows(
  table: Map<string, string>,
  schemaColumns: Column[],
  type?: avro.Type,
): Plan | undefined {
  // A field the table lacks would be dropped silently (RowBinary names no fields): no plan, so
  // the chunk goes as JSONEachRow, whose "unknown field" makes the sink read the table again.
  if (schemaColumns.some((c) => !table.has(c.name))) return undefined;
  const byName = new Map(schemaColumns.map((c) => [c.name, c]));
  const names: string[] = [];
  const steps: ((w: RowBinaryWriter, r: SinkRecord) => void)[] = [];
  for (const [name, type] of table) {
    const write: Write | undefined = writerFor(type);
    if (!write) return undefined;
    names.push(name);
    // An own key only: a column named `toString` or `constructor` is a field, not a method.
    const meta = Object.hasOwn(METADATA, name) ? METADATA[name] : undefined;
    const column = byName.get(name);
    if (meta) steps.push((w, r) => write(w, meta(r)));
    else if (!column) steps.push((w) => write(w, undefined));
    else if (name in Object.prototype) {
      // A field named like an object's own methods (`toString`, `constructor`) is read only when
      // the value has it; avsc never gives a `__proto__` field one (its default is written).
      const native = column.native;
      steps.push((w, r) => {
        const v = r.value;
        const value = v && Object.hasOwn(v, name) ? v[name] : undefined;
        write(w, value === undefined ? undefined : native(value));
      });
    } else {
      const native = column.native;
      steps.push((w, r) => {
        const value = r.value?.[name];
        write(w, value === undefined ? undefined : native(value));
      });
    }
  }
  const count = steps.length;
  const plan: Plan = {
    transcode: undefined,
    columns: names,
    write(w, record) {
      let i = 0;
      try {
        for (; i < count; i++) (steps[i] as (typeof steps)[number])(w, record);
      } catch (error) {
        plan.failedColumn = names[i];
        throw error;
      }
    },
  };
  if (type) plan.transcode = transcoderFor(type, schemaColumns, table, TRANSCODE_METADATA, plan);
  return plan;
}

/** One insert's RowBinary body: row i of `records` is bytes starts[i] … starts[i + 1]. */
export interface BinaryBody {
  columns: string[];
  records: SinkRecord[];
  starts: number[];
  writer: RowBinaryWriter;
}

/**
 * Writes the records' rows (each with its schema's plan) into `writer`; a row that throws is
 * taken back and pushed to `rejected` with the field named.
 */
export function encodeRows(
  writer: RowBinaryWriter,
  records: SinkRecord[],
  planOf: (record: SinkRecord) => Plan,
  rejected: Rejected[],
): BinaryBody {
  const kept: SinkRecord[] = [];
  const starts: number[] = [];
  let columns: string[] = [];
  for (const record of records) {
    const plan = planOf(record);
    columns = plan.columns;
    const start = writer.pos;
    try {
      // The transcoder when it can; else (or when it gives the record back) decode and encode.
      if (!(record.avro && plan.transcode?.(writer, record, record.avro))) {
        writer.pos = start;
        plan.write(writer, record);
      }
      kept.push(record);
      starts.push(start);
    } catch (error) {
      writer.pos = start;
      // A lazy value that does not decode: a dead letter of the decoder's kind.
      if (error instanceof PoisonError) {
        rejected.push({ record, reason: error.message, kind: error.kind });
        continue;
      }
      // A value no column holds (out of range: RangeError; not a number: SyntaxError from
      // BigInt) is this row's problem; anything else is a bug, and stops the sink.
      if (!(error instanceof RangeError || error instanceof SyntaxError)) throw error;
      rejected.push({ record, reason: `field "${plan.failedColumn}": ${(error as Error).message}` });
    }
  }
  starts.push(writer.pos);
  return { columns, records: kept, starts, writer };
}

/**
 * A small pool of writers, so concurrent inserts never share a buffer, and each insert does
 * not allocate its body anew: V8 counts every large Buffer allocated against its external
 * memory limit and runs a full GC each time ~64 MB more is allocated, so a body allocated per
 * insert (a Freshchat insert's grows to 16 MB) cost the sink 48 mark-compacts on 300k messages;
 * kept, 23 (and a fifth less CPU; README, Benchmarks).
 */
export class WriterPool {
  private readonly free: RowBinaryWriter[] = [];
  private readonly keepBytes: number;

  /** `keepBytes`: the most buffer bytes the pool keeps, all its writers together. */
  constructor(keepBytes = 4 << 20) {
    this.keepBytes = keepBytes;
  }

  take(): RowBinaryWriter {
    return this.free.pop() ?? new RowBinaryWriter();
  }

  give(writer: RowBinaryWriter): void {
    // Kept buffers are outside the V8 heap cap: bounded, all together, by keepBytes. A buffer
    // grown past it is kept at keepBytes (the next insert grows it once, not from 1 MiB).
    let kept = 0;
    for (const w of this.free) kept += w.buf.length;
    if (kept + Math.min(writer.buf.length, this.keepBytes) > this.keepBytes) return;
    writer.reset(this.keepBytes, this.keepBytes);
    this.free.push(writer);
  }
}

/** RowBinary plans per table, for its columns as read last (a new read makes new plans). */
export class PlanCache {
  private readonly tables = new Map<
    string,
    { described: Map<string, string>; plans: Map<number, Plan | undefined> }
  >();

  /**
   * The plans of a chunk's schemas (id → columns; 0: tombstones) for the table's columns, or
   * undefined when a column type has no writer (then JSONEachRow).
   */
  plansFor(
    table: string,
    described: Map<string, string>,
    schemas: Map<number, Column[]>,
    types?: Map<number, avro.Type>,
  ): Map<number, Plan> | undefined {
    let cached = this.tables.get(table);
    if (cached?.described !== described) {
      cached = { described, plans: new Map() };
      this.tables.set(table, cached);
    }
    const plans = new Map<number, Plan>();
    for (const [id, columns] of [...schemas, [0, []] as [number, Column[]]]) {
      if (!cached.plans.has(id)) cached.plans.set(id, planRows(described, columns, types?.get(id)));
      const plan = cached.plans.get(id);
      if (!plan) return undefined;
      plans.set(id, plan);
    }
    return plans;
  }
}
