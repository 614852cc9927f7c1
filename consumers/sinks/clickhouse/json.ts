/**
 * JSON text for the String columns that hold records, maps and other unions. The replacer that
 * turns bytes into base64 doubles JSON.stringify's cost, so it runs only for schemas that can
 * hold bytes; a bigint (avsc decodes long as a number unless told otherwise) falls back to it.
 */

/**
 * Bytes as base64, bigints as digits. JSON.stringify calls a Buffer's toJSON before the
 * replacer sees it, so the raw value is read from the holder (`this[key]`).
 */
function replacer(this: Record<string, unknown>, key: string, v: unknown): unknown {
  const raw = this[key];
  return Buffer.isBuffer(raw) ? raw.toString('base64') : typeof v === 'bigint' ? v.toString() : v;
}

/** JSON with bytes as base64 and bigints as digits. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, replacer);
}

/** JSON of a value whose schema holds no bytes: the plain stringify; the replacer for a bigint. */
export function toPlainJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return toJson(value);
  }
}

/** Type names and keywords that never hold bytes. */
const BYTELESS = new Set([
  'null',
  'boolean',
  'int',
  'long',
  'float',
  'double',
  'string',
  'record',
  'error',
  'enum',
  'array',
  'map',
]);

/**
 * True when values of this schema node may hold bytes (Buffers), which plain JSON would mangle;
 * also for a name it cannot resolve, to be safe.
 */
export function holdsBytes(node: unknown, names: Map<string, unknown>, seen = new Set<unknown>()): boolean {
  const resolved = typeof node === 'string' && names.has(node) ? names.get(node) : node;
  if (seen.has(resolved)) return false;
  seen.add(resolved);
  if (Array.isArray(resolved)) return resolved.some((b) => holdsBytes(b, names, seen));
  if (typeof resolved === 'string') return !BYTELESS.has(resolved);
  if (typeof resolved !== 'object' || resolved === null) return false;
  const n = resolved as { type?: unknown; items?: unknown; values?: unknown; fields?: { type: unknown }[] };
  return (
    holdsBytes(n.type, names, seen) ||
    (n.items !== undefined && holdsBytes(n.items, names, seen)) ||
    (n.values !== undefined && holdsBytes(n.values, names, seen)) ||
    (n.fields ?? []).some((f) => holdsBytes(f.type, names, seen))
  );
}
