/**
 * Avro bytes → one RowBinary row, without decoding the record into a JavaScript object first.
 * Avro's binary encoding and RowBinary are close: a string is a length and the same UTF-8
 * bytes in both (a zigzag varint there, a LEB128 here), a `["null", T]` union's index becomes
 * Nullable's 0/1 byte. Decoding every value into an object and encoding the object again was
 * about a third of the sink's CPU, most of it allocation (strings) and the GC it causes.
 *
 * A transcoder is generated code (`new Function`), one per (writer schema, table columns), in
 * two passes over a row: it first reads every field of the record in the writer's order into
 * local variables — a string as the position of its bytes, a number or boolean as itself, and
 * any other field (records, maps, arrays, enums, bytes, floats: JSON or rarer columns) decoded
 * by avsc as today — then writes the table's columns in the table's order. Only strings are
 * copied as bytes; every other value goes through the column's own `native` check (schema.ts)
 * and RowBinary writer (rowbinary.ts), the very functions of the decode-then-encode path
 * (request.ts), so ranges, widened columns, defaults and the "field ... : reason" of a
 * rejected row stay the same. The unit tests compare both paths byte for byte.
 *
 * What the transcoder does not take on itself it gives back: it returns false, before writing
 * anything, for bytes avsc would refuse (truncated, trailing data, a bad union index, a long
 * beyond 2^53) and for a string that is not valid UTF-8 (avsc replaces such bytes, a copy
 * would not). The caller then takes the decode-then-encode path for that record, which gives
 * avsc's own verdict (a dead letter for bytes that do not decode) or avsc's own string.
 */
import avro from 'avsc';
import { boundLists, MAX_EMPTY_ITEMS } from '../../avro-bounds.ts';
import type { SinkRecord } from '../../sink.ts';
import { cleanText, readLong, SAFE_LONG, state } from './avro-read.ts';
import { RowBinaryWriter, type Write, writerFor } from './rowbinary.ts';
import type { Column } from './schema.ts';
import { type JsonTranscode, jsonTranscoderFor } from './transcode-json.ts';

/** Writes one record's row from its wire-format bytes; false when the slow path must do it. */
export type Transcode = (w: RowBinaryWriter, record: SinkRecord, bytes: Buffer) => boolean;

/** Where a transcoder reports the column whose value failed (a RangeError from a check). */
export interface FailedColumn {
  failedColumn?: string;
}

/** The bytes of the Confluent wire format before the Avro body: magic byte and schema id. */
export const WIRE_HEADER = 5;

/** The field kinds read in line; the rest is decoded by avsc. */
type Kind = 'string' | 'long' | 'int' | 'boolean' | 'json' | 'other';

interface Field {
  name: string;
  kind: Kind;
  /** For a union of null and one kind: the index of the null branch (0 or 1); -1: no union. */
  nullIndex: number;
  /** The field's avsc type, for `other`. */
  type: avro.Type;
  /** For `json`: writes the JSON text of the (non-null) value. */
  json?: JsonTranscode;
}

/** Types schema.ts writes as JSON text (when their column is a String). */
const JSON_TYPES = new Set(['record', 'map', 'array']);

/**
 * A field whose column holds JSON text (schema.ts: a record, a map, an array of non-scalars,
 * maybe in a union with null) is transcoded to JSON (transcode-json.ts) when its column is a
 * String in the table too and its type holds no bytes; otherwise it stays as it was read.
 */
function withJson(field: Field, column: Column, tableType: string | undefined): Field {
  if (field.kind !== 'other') return field;
  const jsonColumn = (t: string | undefined) => t === 'String' || t === 'Nullable(String)';
  if (!jsonColumn(column.type) || !jsonColumn(tableType?.trim())) return field;
  const branches = (field.type as unknown as { types?: avro.Type[] }).types;
  let nullIndex = -1;
  let inner = field.type;
  if (field.type.typeName === 'union:unwrapped') {
    nullIndex = branches?.length === 2 ? branches.findIndex((b) => b.typeName === 'null') : -1;
    const other = branches?.[1 - nullIndex];
    if (nullIndex < 0 || !other) return field;
    inner = other;
  }
  if (!JSON_TYPES.has(inner.typeName)) return field;
  const json = jsonTranscoderFor(inner);
  return json ? { ...field, kind: 'json', nullIndex, json } : field;
}

function kindOf(type: avro.Type): Kind {
  switch (type.typeName) {
    case 'string':
      return 'string';
    case 'long':
      return 'long';
    case 'int':
      return 'int';
    case 'boolean':
      return 'boolean';
    default:
      return 'other';
  }
}

function fieldOf(field: { name: string; type: avro.Type }): Field {
  const { type } = field;
  // avsc's unwrapped union (its default): branches as `types`.
  const branches = (type as unknown as { types?: avro.Type[] }).types;
  if (type.typeName === 'union:unwrapped' && branches?.length === 2) {
    const nullIndex = branches.findIndex((b) => b.typeName === 'null');
    const other = branches[1 - nullIndex];
    if (nullIndex >= 0 && other && kindOf(other) !== 'other')
      return { name: field.name, kind: kindOf(other), nullIndex, type };
  }
  return { name: field.name, kind: kindOf(type), nullIndex: -1, type };
}

/** Copies bytes a … e as a RowBinary string: LEB128 length, then the bytes. */
function copyString(w: RowBinaryWriter, buf: Buffer, a: number, e: number): void {
  const n = e - a;
  w.reserve(n + 5);
  const out = w.buf;
  let pos = w.pos;
  let v = n;
  while (v >= 0x80) {
    out[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[pos++] = v;
  if (n < 32) for (let i = a; i < e; i++) out[pos++] = buf[i] as number;
  else pos += buf.copy(out, pos, a, e);
  w.pos = pos;
}

/**
 * The transcoder for rows of the writer schema `type` (its schema.ts columns `columns`) into a
 * table with these columns (name → type, in the table's order); `metadata` writes the Kafka
 * metadata columns. Undefined when the decode-then-encode path has no plan either (a field the
 * table lacks, a column type without a RowBinary writer).
 */
export function transcoderFor(
  type: avro.Type,
  columns: Column[],
  table: Map<string, string>,
  metadata: Record<string, (r: SinkRecord) => unknown>,
  report: FailedColumn,
): Transcode | undefined {
  const recordFields = (type as unknown as { fields?: { name: string; type: avro.Type }[] }).fields;
  if (type.typeName !== 'record' || !recordFields) return undefined;
  const byName = new Map(columns.map((c) => [c.name, c]));
  if (columns.some((c) => !table.has(c.name))) return undefined;
  if (recordFields.some((f) => !byName.has(f.name))) return undefined;
  // avsc gives a field named `__proto__` no value (it sets the object's prototype): the
  // decode-then-encode path writes its default, not the bytes.
  if (recordFields.some((f) => f.name === '__proto__')) return undefined;
  const fields = recordFields.map((f) =>
    withJson(fieldOf(f), byName.get(f.name) as Column, table.get(f.name)),
  );
  const fieldIndex = new Map(fields.map((f, i) => [f.name, i]));

  // Values the generated code refers to, by index: avsc types, natives, writers, metadata.
  const refs: unknown[] = [];
  const ref = (value: unknown) => {
    refs.push(value);
    return `R[${refs.length - 1}]`;
  };
  const lines: string[] = [];
  const emit = (line: string) => lines.push(line);

  // Reads a varint into n, the fast path in line (one byte), the rest through readLong.
  const readVarint = () =>
    emit(
      'b = buf[p]; if (b < 0x80) { n = (b >> 1) ^ -(b & 1); p++; } else { n = readLong(buf, p); p = state.p; }',
    );

  // Pass 1: read every field in the writer's order (anything avsc throws: the slow path).
  const locals: string[] = [];
  emit('try {');
  fields.forEach((field, i) => {
    emit(`// ${JSON.stringify(field.name)}: ${field.kind}${field.nullIndex >= 0 ? ' or null' : ''}`);
    if (field.kind === 'other') {
      locals.push(`x${i} = undefined`);
      emit(
        `d = ${ref(field.type)}.decode(buf, p); if (d.offset < 0) return false; x${i} = d.value; p = d.offset;`,
      );
      return;
    }
    locals.push(field.kind === 'string' || field.kind === 'json' ? `a${i} = -1, e${i} = 0` : `x${i} = null`);
    let close = '';
    if (field.nullIndex >= 0) {
      readVarint();
      emit(`if (n !== ${1 - field.nullIndex}) { if (n !== ${field.nullIndex}) return false; } else {`);
      close = '}';
    }
    switch (field.kind) {
      case 'string':
        readVarint();
        emit(`if (!(n >= 0)) return false; a${i} = p; p += n; e${i} = p; if (p > end) return false;`);
        emit(`if (!cleanText(buf, a${i}, e${i})) return false;`);
        break;
      case 'long':
        readVarint();
        emit(`if (!(n >= -${SAFE_LONG} && n <= ${SAFE_LONG})) return false; x${i} = n;`);
        break;
      case 'int':
        readVarint();
        emit(`x${i} = n;`);
        break;
      case 'boolean':
        emit(`x${i} = !!buf[p++];`);
        break;
      case 'json':
        // Into the scratch buffer, copied in pass 2 like a string.
        emit(
          `a${i} = scratch.pos; p = ${ref(field.json)}(buf, p, scratch); if (p < 0) return false; e${i} = scratch.pos;`,
        );
        break;
    }
    if (close) emit(close);
  });
  emit('if (p !== end) return false;');
  emit('} catch { return false; }');

  // Pass 2: write the table's columns in its order.
  const names: string[] = [];
  emit('let c = 0;');
  emit('try {');
  for (const [name, columnType] of table) {
    const write: Write | undefined = writerFor(columnType);
    if (!write) return undefined;
    emit(`c = ${names.length};`);
    names.push(name);
    // An own key only: a column named `toString` or `constructor` is a field, not a method.
    const meta = Object.hasOwn(metadata, name) ? metadata[name] : undefined;
    const column = byName.get(name);
    const i = fieldIndex.get(name);
    if (meta && name === '_key' && columnType.trim() === 'String') {
      // A lazy record's key bytes, copied (when they are text a copy keeps as it is).
      emit(
        `{ const kb = r.keyBytes; if (kb && cleanText(kb, 0, kb.length)) copyString(w, kb, 0, kb.length); else ${ref(write)}(w, ${ref(meta)}(r)); }`,
      );
    } else if (meta && name === '_topic' && columnType.trim() === 'String') {
      // The topic's bytes, encoded once per topic.
      const topic = { name: '', bytes: Buffer.alloc(0) };
      const t = ref(topic);
      emit(`if (r.topic !== ${t}.name) { ${t}.name = r.topic; ${t}.bytes = Buffer.from(r.topic, 'utf8'); }`);
      emit(`copyString(w, ${t}.bytes, 0, ${t}.bytes.length);`);
    } else if (meta) {
      emit(`${ref(write)}(w, ${ref(meta)}(r));`);
    } else if (!column || i === undefined) {
      emit(`${ref(write)}(w, undefined);`);
    } else {
      const field = fields[i] as Field;
      const t = columnType.trim();
      const from = field.kind === 'json' ? 'scratch.buf' : 'buf';
      if (
        (field.kind === 'string' || field.kind === 'json') &&
        (t === 'String' || t === 'Nullable(String)')
      ) {
        // The same bytes `native` (String(v)) and the String writer would give; null as the
        // writer writes it: Nullable's 1, or '' in a plain String column.
        const nullBytes =
          t === 'String' ? 'w.reserve(1); w.buf[w.pos++] = 0;' : 'w.reserve(1); w.buf[w.pos++] = 1;';
        const notNull = t === 'String' ? '' : 'w.reserve(1); w.buf[w.pos++] = 0; ';
        emit(`if (a${i} < 0) { ${nullBytes} } else { ${notNull}copyString(w, ${from}, a${i}, e${i}); }`);
      } else if (field.kind === 'string') {
        emit(`${ref(write)}(w, ${ref(column.native)}(a${i} < 0 ? null : buf.utf8Slice(a${i}, e${i})));`);
      } else {
        emit(`${ref(write)}(w, ${ref(column.native)}(x${i}));`);
      }
    }
  }
  emit(`} catch (error) { report.failedColumn = ${ref(names)}[c]; throw error; }`);
  emit('return true;');

  const body = [
    '"use strict";',
    'return function transcode(w, r, buf) {',
    `const end = buf.length; let p = ${WIRE_HEADER}, b = 0, n = 0, d; scratch.pos = 0; state.empty = ${MAX_EMPTY_ITEMS};`,
    locals.length > 0 ? `let ${locals.join(', ')};` : '',
    ...lines,
    '};',
  ].join('\n');
  const make = new Function(
    'R',
    'readLong',
    'state',
    'cleanText',
    'copyString',
    'report',
    'scratch',
    body,
  ) as (...args: unknown[]) => Transcode;
  // JSON text is written here first (its length goes before it); one per transcoder, which
  // runs synchronously, so never shared by two rows at once.
  const scratch = new RowBinaryWriter(SCRATCH_SIZE);
  const transcode = make(refs, readLong, state, cleanText, copyString, report, scratch);
  return (w, record, bytes) => {
    try {
      return transcode(w, record, bytes);
    } finally {
      // A huge row grew it: shrunk again, or every plan (kept per schema and table) would keep
      // its largest row ever outside the V8 heap cap (2 MB of control characters: 64 MiB).
      if (scratch.buf.length > SCRATCH_KEEP) scratch.reset(SCRATCH_KEEP, SCRATCH_SIZE);
    }
  };
}

/** The JSON scratch buffer of a transcoder: its first size, and the most it keeps after a row. */
const SCRATCH_SIZE = 4096;
const SCRATCH_KEEP = 256 << 10;

/** avsc types per writer schema id, built once (as the decoder builds them), for the transcoders. */
export class WriterTypes {
  private readonly byId = new Map<number, avro.Type | null>();

  /**
   * The types of the schemas in `schemas` whose records carry Avro bytes; none for a schema avsc
   * cannot read (its records are decoded and encoded, and their errors are the decoder's).
   */
  of(records: SinkRecord[], schemas: Map<number, unknown>): Map<number, avro.Type> {
    const types = new Map<number, avro.Type>();
    for (const record of records) {
      const id = record.schemaId;
      if (!record.avro || types.has(id) || !schemas.has(id)) continue;
      if (!this.byId.has(id)) {
        try {
          this.byId.set(id, boundLists(avro.Type.forSchema(record.schema as avro.Schema)));
        } catch {
          this.byId.set(id, null);
        }
      }
      const type = this.byId.get(id);
      if (type) types.set(id, type);
    }
    return types;
  }
}
