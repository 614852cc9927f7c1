/**
 * Avro bytes → the JSON text of a JSON column (a record, map or array of records: schema.ts),
 * exactly as `JSON.stringify` of avsc's decoded value writes it, without the value. For the
 * Freshchat message the JSON columns (message parts, mostly nulls) were most of the row's cost:
 * decoding nested records into objects, then stringifying them.
 *
 * Generated code, one function per Avro type (named records call themselves: a message part
 * holds message parts). Each reads the value at `p`, appends its JSON to `o`, and returns the
 * position after it — or -1 to give the record back to the decode-then-encode path, which then
 * says what avsc says: bytes avsc refuses (a bad union or enum index), and the few values where
 * JSON.stringify of the object is not the bytes in order (a map key that is an array index or
 * `__proto__`, or a repeated key; an array longer than its bytes could hold).
 *
 * Strings are copied when they need no escaping (and are valid UTF-8); others go through
 * JSON.stringify of the decoded string, which is the same text the object path gives. Types
 * holding bytes (base64 in JSON) are not generated: their fields are decoded by avsc.
 */
import { isUtf8 } from 'node:buffer';
import type avro from 'avsc';
import { type AvscNode, minBytes } from '../../avro-bounds.ts';
import { cleanText, readLong, SAFE_LONG, state } from './avro-read.ts';
import type { RowBinaryWriter } from './rowbinary.ts';

/** Appends the JSON of the value at p to o; the position after it, or -1 (give it back). */
export type JsonTranscode = (buf: Buffer, p: number, o: RowBinaryWriter, depth?: number) => number;

/**
 * Values nested deeper than this are given back: avsc and JSON.stringify each have a depth at
 * which they run out of stack (thousands of levels, moving with the stack and with how warm the
 * JIT is), and past it the slow path, not a generated function's own stack, must decide.
 */
const MAX_DEPTH = 500;

/** Appends literal bytes. */
function lit(o: RowBinaryWriter, bytes: Uint8Array): void {
  const n = bytes.length;
  o.reserve(n);
  const out = o.buf;
  let q = o.pos;
  for (let i = 0; i < n; i++) out[q++] = bytes[i] as number;
  o.pos = q;
}

/** Appends text that is ASCII (numbers). */
function ascii(o: RowBinaryWriter, text: string): void {
  const n = text.length;
  o.reserve(n);
  const out = o.buf;
  let q = o.pos;
  for (let i = 0; i < n; i++) out[q++] = text.charCodeAt(i);
  o.pos = q;
}

/**
 * Appends bytes a … e of buf as a JSON string. Text without control characters, quotes or
 * backslashes is its own JSON as it is, non-ASCII included when it is valid UTF-8 (which holds
 * no lone surrogate, the one other thing JSON.stringify escapes): copied. The rest goes through
 * JSON.stringify of the decoded text, as the object path writes it.
 */
function jsonString(o: RowBinaryWriter, buf: Buffer, a: number, e: number): void {
  let plain = true;
  let ascii = true;
  for (let i = a; i < e; i++) {
    const c = buf[i] as number;
    if (c < 0x20 || c === 0x22 || c === 0x5c) {
      plain = false;
      break;
    }
    if (c >= 0x80) ascii = false;
  }
  if (plain && !ascii) plain = isUtf8(buf.subarray(a, e));
  if (!plain) {
    const text = JSON.stringify(buf.toString('utf8', a, e));
    o.reserve(3 * text.length);
    o.pos += o.buf.write(text, o.pos, 'utf8');
    return;
  }
  o.reserve(e - a + 2);
  const out = o.buf;
  let q = o.pos;
  out[q++] = 0x22;
  if (e - a < 32) for (let i = a; i < e; i++) out[q++] = buf[i] as number;
  else q += buf.copy(out, q, a, e);
  out[q++] = 0x22;
  o.pos = q;
}

/** Keys up to this many per map are compared byte by byte; beyond, a Set finds a repeat. */
const FEW_KEYS = 8;

/**
 * The keys of one map read so far, to find a repeated key: JSON.stringify of the decoded object
 * writes it once (at its first place, with its last value), so such a map is given back. A few
 * keys are compared as bytes (no string made); from the ninth on they go into a Set, as their
 * bytes in latin1 (one character per byte), so a map of 10,000 keys costs 10,000 look-ups,
 * not 50 million comparisons.
 */
export class SeenKeys {
  private readonly spans: number[] = [];
  private set: Set<string> | undefined;

  /** Adds the key at bytes a … e of buf; false when the map had it already. */
  add(buf: Buffer, a: number, e: number): boolean {
    const set = this.set;
    if (set) {
      const size = set.size;
      return set.add(buf.toString('latin1', a, e)).size > size;
    }
    const spans = this.spans;
    for (let k = 0; k < spans.length; k += 2) {
      const ka = spans[k] as number;
      const ke = spans[k + 1] as number;
      if (ke - ka === e - a && buf.compare(buf, ka, ke, a, e) === 0) return false;
    }
    if (spans.length < 2 * FEW_KEYS) {
      spans.push(a, e);
      return true;
    }
    const all = new Set<string>();
    for (let k = 0; k < spans.length; k += 2) all.add(buf.toString('latin1', spans[k], spans[k + 1]));
    all.add(buf.toString('latin1', a, e));
    this.set = all;
    return true;
  }
}

/** Map keys JSON.stringify of the decoded object would not write in order, once. */
function awkwardKey(buf: Buffer, a: number, e: number, keys: SeenKeys): boolean {
  const first = buf[a] as number;
  // Integer-like keys come first in an object's order; `__proto__` is not an own key.
  if (first >= 0x30 && first <= 0x39) return true;
  if (e - a === 9 && buf.toString('latin1', a, e) === '__proto__') return true;
  // Keys that are not UTF-8 differ as bytes but may decode to the same text (U+FFFD).
  if (!cleanText(buf, a, e)) return true;
  return !keys.add(buf, a, e);
}

const bytesOf = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));

/** The JSON transcoder of an avsc type; undefined when the type holds bytes or fixed. */
export function jsonTranscoderFor(type: avro.Type): JsonTranscode | undefined {
  const refs: unknown[] = [];
  const ref = (value: unknown) => {
    refs.push(value);
    return `R[${refs.length - 1}]`;
  };
  const names = new Map<avro.Type, string>();
  const functions: string[] = [];
  let supported = true;

  const varint = (target: string) =>
    `b = buf[p]; if (b < 0x80) { ${target} = (b >> 1) ^ -(b & 1); p++; } else { ${target} = readLong(buf, p); p = state.p; }`;

  /** Generates the function for a type (once per type object) and returns its name. */
  const gen = (t: avro.Type): string => {
    const known = names.get(t);
    if (known) return known;
    const name = `f${names.size}`;
    names.set(t, name);
    const node = t as unknown as AvscNode;
    const body: string[] = [];
    const emit = (line: string) => body.push(line);
    switch (node.typeName) {
      case 'null':
        emit(`lit(o, ${ref(bytesOf('null'))});`);
        break;
      case 'boolean':
        emit(`if (buf[p++]) lit(o, ${ref(bytesOf('true'))}); else lit(o, ${ref(bytesOf('false'))});`);
        break;
      case 'int':
        emit(varint('n'));
        // An overlong varint decodes to NaN or Infinity, which JSON.stringify writes as null.
        emit("ascii(o, Number.isFinite(n) ? String(n) : 'null');");
        break;
      case 'long':
        emit(varint('n'));
        emit(`if (!(n >= -${SAFE_LONG} && n <= ${SAFE_LONG})) return -1;`);
        emit('ascii(o, String(n));');
        break;
      case 'float':
        emit('if (p + 4 > buf.length) return -1;');
        emit('ascii(o, JSON.stringify(buf.readFloatLE(p))); p += 4;');
        break;
      case 'double':
        emit('if (p + 8 > buf.length) return -1;');
        emit('ascii(o, JSON.stringify(buf.readDoubleLE(p))); p += 8;');
        break;
      case 'string':
        emit(varint('n'));
        emit('if (!(n >= 0) || p + n > buf.length) return -1;');
        emit('jsonString(o, buf, p, p + n); p += n;');
        break;
      case 'enum': {
        const symbols = (node.symbols ?? []).map((s) => bytesOf(JSON.stringify(s)));
        emit(varint('n'));
        emit(`if (!(n >= 0 && n < ${symbols.length})) return -1;`);
        emit(`lit(o, ${ref(symbols)}[n]);`);
        break;
      }
      case 'union:unwrapped': {
        const branches = (node.types ?? []).map(gen);
        emit(varint('n'));
        emit(
          `switch (n) { ${branches.map((f, i) => `case ${i}: return ${f}(buf, p, o, d + 1);`).join(' ')} default: return -1; }`,
        );
        break;
      }
      case 'record': {
        const fields = node.fields ?? [];
        // avsc drops a field named `__proto__` from the decoded object (JSON.stringify never
        // sees it): such records are left to avsc.
        if (fields.some((f) => f.name === '__proto__')) supported = false;
        fields.forEach((field, i) => {
          const key = `${i === 0 ? '{' : ','}${JSON.stringify(field.name)}:`;
          const union = field.type as unknown as AvscNode;
          if (union.typeName !== 'union:unwrapped') {
            emit(`lit(o, ${ref(bytesOf(key))});`);
            emit(`p = ${gen(field.type)}(buf, p, o, d + 1); if (p < 0) return -1;`);
            return;
          }
          // A union field inline (most are ["null", T], most often null): its key and `null` as
          // one literal, no call for the branch — the same bytes as the union's function writes.
          const branches = (union.types ?? []).map((t) => ({ t, f: gen(t) }));
          emit(varint('n'));
          emit('switch (n) {');
          branches.forEach(({ t, f }, j) => {
            if ((t as unknown as AvscNode).typeName === 'null')
              emit(`case ${j}: lit(o, ${ref(bytesOf(`${key}null`))}); break;`);
            else
              emit(
                `case ${j}: lit(o, ${ref(bytesOf(key))}); p = ${f}(buf, p, o, d + 1); if (p < 0) return -1; break;`,
              );
          });
          emit('default: return -1; }');
        });
        emit(fields.length === 0 ? `lit(o, ${ref(bytesOf('{}'))});` : `lit(o, ${ref(bytesOf('}'))});`);
        break;
      }
      case 'array':
      case 'map': {
        const isMap = node.typeName === 'map';
        const itemType = (isMap ? node.valuesType : node.itemsType) as avro.Type;
        const item = gen(itemType);
        // The fewest bytes an item takes (a map's key at least one).
        const min = minBytes(itemType) + (isMap ? 1 : 0);
        const [open, close] = isMap ? ['{', '}'] : ['[', ']'];
        emit(`lit(o, ${ref(bytesOf(open))});`);
        if (isMap) emit('const keys = new SeenKeys();');
        emit('let first = true;');
        emit('for (;;) {');
        emit(varint('n'));
        // avsc ends the list at any falsy count: 0, or NaN from an overlong varint (then reads
        // on, or refuses the bytes as trailing data). Only a safe integer is taken here.
        emit('if (!Number.isSafeInteger(n)) return -1;');
        emit('if (n === 0) break;');
        emit(`if (n < 0) { n = -n; ${varint('s')} }`);
        // More items than the bytes left can hold, or too many that take no bytes (null, an
        // empty record): given back, and avsc refuses them too (avro-bounds.ts).
        if (min > 0) emit(`if (n * ${min} > buf.length - p) return -1;`);
        else emit('state.empty -= n; if (state.empty < 0) return -1;');
        emit('for (let i = 0; i < n; i++) {');
        emit(`if (first) first = false; else lit(o, ${ref(bytesOf(','))});`);
        if (isMap) {
          emit(varint('k'));
          emit('if (!(k > 0) || p + k > buf.length) return -1;');
          emit('if (awkwardKey(buf, p, p + k, keys)) return -1;');
          emit(`jsonString(o, buf, p, p + k); p += k; lit(o, ${ref(bytesOf(':'))});`);
        }
        emit(`p = ${item}(buf, p, o, d + 1); if (p < 0) return -1;`);
        emit('}');
        emit('}');
        emit(`lit(o, ${ref(bytesOf(close))});`);
        break;
      }
      default:
        // bytes, fixed (base64 in JSON), wrapped unions, logical types avsc knows: not here.
        supported = false;
    }
    functions.push(
      `function ${name}(buf, p, o, d = 0) { if (d > ${MAX_DEPTH}) return -1; let b = 0, n = 0, s = 0, k = 0; ${body.join('\n')}\nreturn p; }`,
    );
    return name;
  };

  const root = gen(type);
  if (!supported) return undefined;
  const source = ['"use strict";', ...functions, `return ${root};`].join('\n');
  const make = new Function(
    'R',
    'readLong',
    'state',
    'lit',
    'ascii',
    'jsonString',
    'awkwardKey',
    'SeenKeys',
    source,
  ) as (...args: unknown[]) => JsonTranscode;
  return make(refs, readLong, state, lit, ascii, jsonString, awkwardKey, SeenKeys);
}
