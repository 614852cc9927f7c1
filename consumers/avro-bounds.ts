/**
 * Bounds on the item counts of Avro arrays and maps, for bytes nobody should be able to use to
 * stop a consumer. avsc trusts a block's count: an array is allocated at that length before an
 * item is read (`new Array(n)`: a 6-byte record claiming 2^27 items exhausts the heap and the
 * process dies, with no dead letter), and a map loops n times reading past the end of the
 * bytes (2^40 entries never end). Here avsc's array and map types read their blocks as avsc
 * does, but refuse a count the bytes left cannot hold (each item takes at least `minBytes` of
 * its type), and items that take no bytes at all (null, an empty record) beyond
 * MAX_EMPTY_ITEMS per value decoded. The refusal is an Error while reading, as avsc's own
 * "truncated buffer": the record is undecodable (a dead letter), never a crash.
 *
 * avsc freezes its type objects, so the readers are set on its ArrayType and MapType
 * prototypes, once, for the process (`boundLists`): every decode here goes through them.
 */
import avro from 'avsc';

/** The most items of a type that takes no bytes (null, an empty record) one value may hold. */
export const MAX_EMPTY_ITEMS = 1_000_000;

/** What the code here reads of an avsc type object (avsc's own fields, not in its typings). */
export interface AvscNode {
  typeName: string;
  types?: avro.Type[];
  fields?: { name: string; type: avro.Type }[];
  itemsType?: avro.Type;
  valuesType?: avro.Type;
  symbols?: string[];
  size?: number;
}

interface Tap {
  buf: Buffer;
  pos: number;
  readLong(): number;
  skipLong(): void;
  readString(): string;
}

type Reader = { _read(tap: Tap): unknown };

/**
 * The fewest bytes a value of this type takes (a lower bound: 0 for a type it does not know,
 * and for a record while its own fields are being counted).
 */
export function minBytes(type: avro.Type, seen = new Set<avro.Type>()): number {
  const node = type as unknown as AvscNode;
  switch (node.typeName) {
    case 'null':
      return 0;
    case 'boolean':
    case 'int':
    case 'long':
    case 'string':
    case 'bytes':
    case 'enum':
    case 'array':
    case 'map':
    case 'union:unwrapped':
    case 'union:wrapped':
      return 1;
    case 'float':
      return 4;
    case 'double':
      return 8;
    case 'fixed':
      return node.size ?? 0;
    case 'record':
    case 'error': {
      if (seen.has(type)) return 0;
      seen.add(type);
      let sum = 0;
      for (const field of node.fields ?? []) sum += minBytes(field.type, seen);
      seen.delete(type);
      return sum;
    }
    default:
      return 0;
  }
}

/** Zero-byte items read so far by the value being decoded (one tap: one `fromBuffer`/`decode`). */
const budget = { tap: undefined as Tap | undefined, left: MAX_EMPTY_ITEMS };

/** Throws when a block of n items of `min` bytes each cannot be in the bytes left. */
function checkBlock(tap: Tap, n: number, min: number, what: string): void {
  if (min > 0) {
    if (n * min > tap.buf.length - tap.pos)
      throw new Error(`${what} block of ${n} items is longer than the bytes left`);
    return;
  }
  if (budget.tap !== tap) {
    budget.tap = tap;
    budget.left = MAX_EMPTY_ITEMS;
  }
  budget.left -= n;
  if (budget.left < 0) throw new Error(`more than ${MAX_EMPTY_ITEMS} items that take no bytes`);
}

/** The fewest bytes of the items of an array or map type, computed once per type. */
const itemBytes = new WeakMap<object, number>();
function itemMin(type: object, items: avro.Type): number {
  let min = itemBytes.get(type);
  if (min === undefined) {
    min = minBytes(items);
    itemBytes.set(type, min);
  }
  return min;
}

/** avsc's ArrayType._read (5.7), with each block's count checked before anything is allocated. */
function readArray(this: { itemsType: avro.Type }, tap: Tap): unknown[] {
  const items = this.itemsType as unknown as Reader;
  let min = -1; // looked up at the first block (an empty array needs none)
  let i = 0;
  let val: unknown[] | undefined;
  let n: number;
  // biome-ignore lint/suspicious/noAssignInExpressions: avsc's loop: any falsy count (0, NaN) ends the array
  while ((n = tap.readLong())) {
    if (n < 0) {
      n = -n;
      tap.skipLong();
    }
    if (min < 0) min = itemMin(this, this.itemsType);
    checkBlock(tap, n, min, 'array');
    val = val || new Array(n);
    while (n--) val[i++] = items._read(tap);
  }
  return val || [];
}

/** avsc's readArraySize: a negative count is followed by the block's size in bytes. */
function blockCount(tap: Tap): number {
  let n = tap.readLong();
  if (n < 0) {
    n = -n;
    tap.skipLong();
  }
  return n;
}

/** avsc's MapType._read (5.7), with each block's count checked (a key takes at least a byte). */
function readMap(this: { valuesType: avro.Type }, tap: Tap): Record<string, unknown> {
  const values = this.valuesType as unknown as Reader;
  let min = -1; // looked up at the first block (an empty map needs none)
  const val: Record<string, unknown> = {};
  let n: number;
  // biome-ignore lint/suspicious/noAssignInExpressions: avsc's loop: any falsy count (0, NaN) ends the map
  while ((n = blockCount(tap))) {
    if (min < 0) min = itemMin(this, this.valuesType) + 1;
    checkBlock(tap, n, min, 'map');
    while (n--) {
      const key = tap.readString();
      val[key] = values._read(tap);
    }
  }
  return val;
}

/**
 * Sets the bounded readers on avsc's array and map types (once; idempotent) and returns `type`,
 * so a caller writes `boundLists(avro.Type.forSchema(schema))` where it builds a type to decode.
 */
export function boundLists<T>(type: T): T {
  if (arrays.prototype._read !== readArray) arrays.prototype._read = readArray;
  if (maps.prototype._read !== readMap) maps.prototype._read = readMap;
  return type;
}

const types = (avro as unknown as { types: Record<string, { prototype: { _read: unknown } }> }).types;
const arrays = types.ArrayType as { prototype: { _read: unknown } };
const maps = types.MapType as { prototype: { _read: unknown } };

/** avsc's own readers (for the tests that compare both). */
export const AVSC_READERS = { array: arrays.prototype._read, map: maps.prototype._read };

/** Runs `fn` with avsc's own readers (tests only), then the bounded ones again. */
export function withAvscReaders<T>(fn: () => T): T {
  arrays.prototype._read = AVSC_READERS.array;
  maps.prototype._read = AVSC_READERS.map;
  try {
    return fn();
  } finally {
    boundLists(undefined);
  }
}
