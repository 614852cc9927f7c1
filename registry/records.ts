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

/** Parses a topic record; undefined for keys this registry does not know (they are skipped). */
export function decodeRecord(raw: RawRecord): RegistryRecord | undefined {
  let key: Record<string, unknown>;
  try {
    key = JSON.parse(raw.key);
  } catch {
    return undefined;
  }
  const value = raw.value === null ? null : JSON.parse(raw.value);
  const subject = typeof key.subject === 'string' ? key.subject : null;
  switch (key.keytype) {
    case 'SCHEMA':
      if (subject === null || typeof key.version !== 'number') return undefined;
      return {
        keytype: 'SCHEMA',
        subject,
        version: key.version,
        value: value && { deleted: false, ...value },
      };
    case 'CONFIG':
      return { keytype: 'CONFIG', subject, value };
    case 'MODE':
      return { keytype: 'MODE', subject, value };
    case 'DELETE_SUBJECT':
    case 'CLEAR_SUBJECT':
      return subject === null ? undefined : { keytype: key.keytype, subject, value };
    case 'NOOP':
      return { keytype: 'NOOP', value: null };
    default:
      return undefined;
  }
}
