/**
 * The records of the `_schemas` topic, in Confluent's own JSON format, so that our registry
 * and Confluent's can read each other's topic. Keys:
 *   {"keytype":"SCHEMA","subject":s,"version":v,"magic":1}        value {subject,version,id,schema,deleted[,schemaType]}
 *   {"keytype":"CONFIG"[,"subject":s],"magic":0}                    value {"compatibilityLevel":L}
 *   {"keytype":"MODE"[,"subject":s],"magic":0}                      value {"mode":M}
 *   {"keytype":"DELETE_SUBJECT","subject":s,"magic":0}              value {"subject":s,"version":v}
 *   {"keytype":"NOOP","magic":0}                                    value null
 * A null value (tombstone) removes the key: a permanent delete, or a reset config/mode.
 */
import { COMPATIBILITY_LEVELS } from '../core/settings.ts';
import { MODES } from './registry.ts';

export interface SchemaValue {
  subject: string;
  version: number;
  id: number;
  schema: string;
  deleted: boolean;
  schemaType?: string;
}

export type RegistryRecord =
  | { keytype: 'SCHEMA'; subject: string; version: number; value: SchemaValue | null }
  | { keytype: 'CONFIG'; subject: string | null; value: { compatibilityLevel: string } | null }
  | { keytype: 'MODE'; subject: string | null; value: { mode: string } | null }
  | { keytype: 'DELETE_SUBJECT'; subject: string; value: { subject: string; version: number } | null }
  | { keytype: 'CLEAR_SUBJECT'; subject: string; value: { subject: string; version: number } | null }
  | { keytype: 'NOOP'; value: null };

export interface RawRecord {
  key: string;
  value: string | null;
}

export function encodeRecord(record: RegistryRecord): RawRecord {
  let key: Record<string, unknown>;
  switch (record.keytype) {
    case 'SCHEMA':
      key = { keytype: 'SCHEMA', subject: record.subject, version: record.version, magic: 1 };
      break;
    case 'NOOP':
      key = { keytype: 'NOOP', magic: 0 };
      break;
    default:
      key = {
        keytype: record.keytype,
        ...(record.subject === null ? {} : { subject: record.subject }),
        magic: 0,
      };
  }
  return { key: JSON.stringify(key), value: record.value === null ? null : JSON.stringify(record.value) };
}

/** A record whose key this registry knows but whose value it cannot use (not JSON, or the wrong shape). */
export class MalformedRecordError extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isVersion = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 1;

function malformed(what: string): never {
  throw new MalformedRecordError(what);
}

function schemaValue(value: unknown, subject: string, version: number): SchemaValue {
  if (!isObject(value)) return malformed('a SCHEMA value must be a JSON object');
  const out: Record<string, unknown> = { deleted: false, subject, version, ...value };
  if (typeof out.subject !== 'string') malformed('the SCHEMA value\'s "subject" is not a string');
  if (!isVersion(out.version)) malformed('the SCHEMA value\'s "version" is not a positive whole number');
  if (!isVersion(out.id)) malformed('the SCHEMA value\'s "id" is not a positive whole number');
  if (typeof out.schema !== 'string') malformed('the SCHEMA value\'s "schema" is not a string');
  if (typeof out.deleted !== 'boolean') malformed('the SCHEMA value\'s "deleted" is not true or false');
  if (out.schemaType !== undefined && typeof out.schemaType !== 'string')
    malformed('the SCHEMA value\'s "schemaType" is not a string');
  return out as unknown as SchemaValue;
}

function oneOf(value: unknown, field: string, allowed: readonly string[], keytype: string): void {
  if (!isObject(value) || !allowed.includes(value[field] as string))
    malformed(`a ${keytype} value needs "${field}" as one of ${allowed.join(', ')}`);
}

/**
 * Parses a topic record; undefined for keys this registry does not know (they are skipped).
 * Throws a MalformedRecordError for a known key whose value is unusable, so that the reader can
 * skip it with a warning instead of applying half a record.
 */
export function decodeRecord(raw: RawRecord): RegistryRecord | undefined {
  let key: Record<string, unknown>;
  try {
    key = JSON.parse(raw.key);
  } catch {
    return undefined;
  }
  if (!isObject(key)) return undefined;
  const subject = typeof key.subject === 'string' ? key.subject : null;
  const keytype = key.keytype;
  if (keytype === 'NOOP') return { keytype: 'NOOP', value: null };
  // Keys this registry does not know (or cannot place) are skipped before their value is read.
  if (keytype === 'SCHEMA' && (subject === null || typeof key.version !== 'number')) return undefined;
  if ((keytype === 'DELETE_SUBJECT' || keytype === 'CLEAR_SUBJECT') && subject === null) return undefined;
  if (!['SCHEMA', 'CONFIG', 'MODE', 'DELETE_SUBJECT', 'CLEAR_SUBJECT'].includes(keytype as string))
    return undefined;
  let value: unknown = null;
  if (raw.value !== null) {
    try {
      value = JSON.parse(raw.value);
    } catch (error) {
      malformed(`the value is not JSON (${(error as Error).message})`);
    }
  }
  switch (keytype) {
    case 'SCHEMA':
      return {
        keytype: 'SCHEMA',
        subject: subject as string,
        version: key.version as number,
        value: value === null ? null : schemaValue(value, subject as string, key.version as number),
      };
    case 'CONFIG':
      if (value !== null) oneOf(value, 'compatibilityLevel', COMPATIBILITY_LEVELS, 'CONFIG');
      return { keytype: 'CONFIG', subject, value: value as { compatibilityLevel: string } | null };
    case 'MODE':
      if (value !== null) oneOf(value, 'mode', MODES, 'MODE');
      return { keytype: 'MODE', subject, value: value as { mode: string } | null };
    default:
      if (value !== null && !(isObject(value) && isVersion(value.version)))
        malformed(`a ${keytype} value needs "version" as a positive whole number`);
      return {
        keytype: keytype as 'DELETE_SUBJECT' | 'CLEAR_SUBJECT',
        subject: subject as string,
        value: value as { subject: string; version: number } | null,
      };
  }
}
