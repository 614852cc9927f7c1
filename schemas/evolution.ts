/**
 * Schema contracts, as dlt has them, for records whose source sends fields the schema lacks:
 *   evolve  (default) add them as optional fields (default null), register the new version,
 *           encode with it — no restart; values that cannot be typed are kept as JSON text;
 *   freeze  send such records to the dead letter, with the reason;
 *   discard drop the unknown fields.
 * In every mode a record whose known fields do not fit (a word in a number field) is rejected
 * with the reason, never silently dropped.
 */
import { conform, namedTypes, toEpochMillis } from './conform.ts';

export const CONTRACT_MODES = ['evolve', 'freeze', 'discard'] as const;
export type ContractMode = (typeof CONTRACT_MODES)[number];

type Schema = Record<string, unknown>;
interface FieldSchema {
  name: string;
  type: unknown;
  doc?: string;
  default?: unknown;
  source_name?: string;
}

/** The registry operations a contract needs (an adapter over @kafkajs/confluent-schema-registry). */
export interface RegistryPort {
  /** Registers (or finds) the schema under the subject; returns its global id. */
  register(subject: string, schema: string): Promise<number>;
}

const AVRO_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function avroFieldName(source: string, taken: Set<string>): string {
  let name = AVRO_NAME.test(source)
    ? source
    : source.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(?=\d)/, '_') || '_';
  const base = name;
  for (let i = 2; taken.has(name); i++) name = `${base}_${i}`;
  return name;
}

/** The Avro type for values seen in source data; undefined when only JSON text will do. */
function inferType(name: string, values: unknown[]): { type: unknown; asJson: boolean } {
  const present = values.filter((v) => v !== null && v !== undefined);
  if (present.length === 0) return { type: 'string', asJson: false };
  if (present.every((v) => typeof v === 'boolean')) return { type: 'boolean', asJson: false };
  if (present.every((v) => typeof v === 'number' && Number.isSafeInteger(v)))
    return { type: 'long', asJson: false };
  if (present.every((v) => typeof v === 'number')) return { type: 'double', asJson: false };
  if (present.every((v) => typeof v === 'string')) {
    const stamps =
      /(_time|_at|_on)$/.test(name) &&
      present.every((v) => typeof v === 'string' && !/^\d+$/.test(v) && toEpochMillis(v) !== undefined);
    return { type: stamps ? { type: 'long', logicalType: 'timestamp-millis' } : 'string', asJson: false };
  }
  return { type: 'string', asJson: true };
}

function unwrapToRecord(type: unknown, names: Map<string, unknown>): Schema | undefined {
  const node = typeof type === 'string' ? names.get(type) : type;
  if (Array.isArray(node)) {
    for (const branch of node) {
      const found = unwrapToRecord(branch, names);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof node !== 'object' || node === null) return undefined;
  const schema = node as Schema;
  if (schema.type === 'record') return schema;
  if (schema.type === 'array') return unwrapToRecord(schema.items, names);
  if (typeof schema.type === 'object') return unwrapToRecord(schema.type, names);
  return undefined;
}

/**
 * A copy of `schema` with an optional field for every unknown path (a, a.b, a[].b) seen in
 * source data. Returns the new schema and the added paths.
 */
export function evolveSchema(
  schema: Schema,
  unknowns: { path: string; value: unknown }[],
  today = new Date(),
): { schema: Schema; added: string[] } {
  const next = structuredClone(schema);
  const names = namedTypes(next);
  const grouped = new Map<Schema, Map<string, unknown[]>>();
  for (const { path, value } of unknowns) {
    const segments = path.split('.').map((s) => s.replace(/\[\]$/, ''));
    const key = segments.pop() as string;
    let record: Schema | undefined = next;
    for (const segment of segments) {
      const field: FieldSchema | undefined = ((record?.fields as FieldSchema[]) ?? []).find(
        (f) => (f.source_name ?? f.name) === segment,
      );
      record = field ? unwrapToRecord(field.type, names) : undefined;
    }
    if (!record) continue;
    const byKey = grouped.get(record) ?? new Map<string, unknown[]>();
    grouped.set(record, byKey);
    const values = byKey.get(key);
    if (values) values.push(value);
    else byKey.set(key, [value]); // push, not `[...values, value]` per value (quadratic)
  }
  const added: string[] = [];
  const date = today.toISOString().slice(0, 10);
  for (const [record, byKey] of grouped) {
    const fields = record.fields as FieldSchema[];
    const taken = new Set(fields.map((f) => f.name));
    for (const [key, values] of byKey) {
      if (fields.some((f) => (f.source_name ?? f.name) === key)) continue;
      const name = avroFieldName(key, taken);
      taken.add(name);
      const { type, asJson } = inferType(key, values);
      fields.push({
        name,
        type: ['null', type],
        doc: `Added by schema evolution on ${date}: first seen in source data${asJson ? ' (kept as JSON text)' : ''}.`,
        default: null,
        ...(name === key ? {} : { source_name: key }),
      });
      added.push(`${String(record.name)}.${name}`);
    }
  }
  return { schema: next, added };
}

export interface ContractOutcome {
  schemaId: number;
  /** Records ready to encode with schemaId, by their index in the input. */
  accepted: { index: number; value: Record<string, unknown> }[];
  /** Records that go to the dead letter, with the reason. */
  rejected: { index: number; record: unknown; reason: string }[];
  /** Fields added by evolution in this call (Record.field). */
  added: string[];
}

export interface ContractOptions {
  subject: string;
  schema: Schema;
  mode: ContractMode;
  registry: RegistryPort;
}

export class SchemaContract {
  private schema: Schema;
  private schemaId?: number;
  private readonly subject: string;
  private readonly mode: ContractMode;
  private readonly registry: RegistryPort;

  constructor(options: ContractOptions) {
    this.schema = options.schema;
    this.subject = options.subject;
    this.mode = options.mode;
    this.registry = options.registry;
  }

  get currentSchema(): Schema {
    return this.schema;
  }

  async apply(records: unknown[]): Promise<ContractOutcome> {
    let results = records.map((record) => conform(this.schema, record));
    let added: string[] = [];
    if (this.mode === 'evolve') {
      const unknowns = results.filter((r) => r.errors.length === 0).flatMap((r) => r.unknown);
      if (unknowns.length > 0) {
        const evolved = evolveSchema(this.schema, unknowns);
        if (evolved.added.length > 0) {
          this.schemaId = await this.registry.register(this.subject, JSON.stringify(evolved.schema));
          this.schema = evolved.schema;
          added = evolved.added;
          results = records.map((record) => conform(this.schema, record));
        }
      }
    }
    this.schemaId ??= await this.registry.register(this.subject, JSON.stringify(this.schema));
    const outcome: ContractOutcome = { schemaId: this.schemaId, accepted: [], rejected: [], added };
    results.forEach((result, index) => {
      const record = records[index];
      if (result.errors.length > 0) {
        outcome.rejected.push({
          index,
          record,
          reason: `does not fit ${this.subject}: ${result.errors.join('; ')}`,
        });
      } else if (this.mode === 'freeze' && result.unknown.length > 0) {
        const fields = result.unknown.map((u) => u.path).join(', ');
        outcome.rejected.push({
          index,
          record,
          reason: `unknown field(s) ${fields} (schema contract "freeze" on ${this.subject})`,
        });
      } else {
        outcome.accepted.push({ index, value: result.value as Record<string, unknown> });
      }
    });
    return outcome;
  }
}
