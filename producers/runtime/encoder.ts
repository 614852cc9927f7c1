/**
 * Source JSON → Kafka messages. For each record kind: the schema contract (evolve / freeze /
 * discard — registering new versions as the source grows fields), then the Confluent wire
 * format (magic byte 0, 4-byte schema id, Avro binary), the key (the kind's key field) and the
 * record time (the kind's source event time, else now). Records that cannot be encoded come
 * back as rejections with the reason; they become dead letters.
 */
import avro from 'avsc';
import { EXIT, FatalError, RetriableError } from '../../core/errors.ts';
import { certificateError } from '../../core/tls.ts';
import { kindOf, latestSchema, type RecordKind, subjectOf } from '../../schemas/catalog.ts';
import { type ContractMode, type RegistryPort, SchemaContract } from '../../schemas/evolution.ts';
import type { SourceRecord } from '../source.ts';

export interface EncodedRecord {
  kind: string;
  topic: string;
  key: string;
  value: Buffer;
  /** Record time, epoch milliseconds. */
  timestamp: number;
}

export interface RejectedRecord {
  kind: string;
  topic: string;
  key: string | null;
  value: unknown;
  reason: string;
}

export interface EncodeResult {
  encoded: EncodedRecord[];
  rejected: RejectedRecord[];
  /** Fields added to schemas by evolution while encoding (Record.field). */
  added: string[];
}

export interface EncoderOptions {
  topicPrefix: string;
  mode: ContractMode;
  registry: RegistryPort;
  /** The setting that names the registry, for error messages. */
  registrySetting?: string;
}

/** Larger records are refused (dead letter) rather than failing the transaction: brokers take 1 MB by default. */
export const MAX_RECORD_BYTES = 900 * 1024;

/** The Confluent wire-format header for a schema id. */
function header(id: number): Buffer {
  const bytes = Buffer.alloc(5);
  bytes.writeInt32BE(id, 1);
  return bytes;
}

/**
 * The record's wire bytes (header, then Avro) in one exact-size buffer. Avro is written once,
 * after the header in a scratch buffer reused for every record (grown when a record does not
 * fit), then copied out: `toBuffer` and a concat would allocate, zero and copy twice per record.
 */
function wireBytes(type: avro.Type, head: Buffer, value: unknown, scratch: { buf: Buffer }): Buffer {
  for (;;) {
    const end = type.encode(value, scratch.buf, 5);
    if (end < 0) {
      // avsc answers how many bytes were missing.
      scratch.buf = Buffer.allocUnsafe(Math.max(2 * scratch.buf.length, scratch.buf.length - end));
      continue;
    }
    const out = Buffer.allocUnsafe(end);
    head.copy(out, 0, 0, 5);
    scratch.buf.copy(out, 5, 5, end);
    return out;
  }
}

/** Decides what a registry failure means: retriable (down, 5xx), or fatal (auth, incompatible, invalid). */
export function classifyRegistryError(error: unknown, subject: string, setting: string): Error {
  const status = (error as { status?: number }).status;
  const message = (error as Error).message ?? String(error);
  const certificate = certificateError(
    'schema registry',
    'CHATSTREAM_SCHEMA_REGISTRY_SSL_CA_LOCATION',
    error,
  );
  if (certificate) return certificate;
  if (status === 401 || status === 403)
    return new FatalError(`schema registry refused our credentials (${status}) registering ${subject}`, {
      code: 'REGISTRY_AUTH',
      exitCode: EXIT.config,
      hint: 'check CHATSTREAM_SCHEMA_REGISTRY_USERNAME and CHATSTREAM_SCHEMA_REGISTRY_PASSWORD',
      cause: error,
    });
  if (status === 409 || status === 422)
    return new FatalError(`schema registry rejected a schema for ${subject} (${status}): ${message}`, {
      code: 'SCHEMA_REJECTED',
      exitCode: EXIT.config,
      hint: `the subject's compatibility level does not allow this change; see GET /config/${subject}`,
      cause: error,
    });
  return new RetriableError(`schema registry unavailable (${setting}): ${message}`, { cause: error });
}

export class RecordEncoder {
  private readonly options: EncoderOptions;
  private readonly contracts = new Map<string, SchemaContract>();
  private readonly types = new Map<number, { type: avro.Type; header: Buffer }>();
  private readonly scratch = { buf: Buffer.allocUnsafe(64 * 1024) };

  constructor(options: EncoderOptions) {
    this.options = options;
  }

  private contract(kind: RecordKind): SchemaContract {
    let contract = this.contracts.get(kind.topic);
    if (!contract) {
      contract = new SchemaContract({
        subject: subjectOf(kind.topic, this.options.topicPrefix),
        schema: JSON.parse(latestSchema(kind).text) as Record<string, unknown>,
        mode: this.options.mode,
        registry: this.options.registry,
      });
      this.contracts.set(kind.topic, contract);
    }
    return contract;
  }

  private writer(id: number, schema: object): { type: avro.Type; header: Buffer } {
    let found = this.types.get(id);
    if (!found) {
      found = { type: avro.Type.forSchema(schema as avro.Schema), header: header(id) };
      this.types.set(id, found);
    }
    return found;
  }

  /** Encodes records of any kinds; order within a kind is kept. */
  async encode(records: SourceRecord[]): Promise<EncodeResult> {
    const byKind = new Map<string, Record<string, unknown>[]>();
    for (const record of records) {
      const list = byKind.get(record.kind);
      if (list) list.push(record.value);
      else byKind.set(record.kind, [record.value]);
    }
    const result: EncodeResult = { encoded: [], rejected: [], added: [] };
    for (const [name, values] of byKind) await this.encodeKind(kindOf(name), values, result);
    return result;
  }

  private async encodeKind(
    kind: RecordKind,
    values: Record<string, unknown>[],
    into: EncodeResult,
  ): Promise<void> {
    const topic = `${this.options.topicPrefix}${kind.topic}`;
    const contract = this.contract(kind);
    let outcome: Awaited<ReturnType<SchemaContract['apply']>>;
    try {
      outcome = await contract.apply(values);
    } catch (error) {
      throw classifyRegistryError(
        error,
        subjectOf(kind.topic, this.options.topicPrefix),
        this.options.registrySetting ?? 'CHATSTREAM_SCHEMA_REGISTRY_URL',
      );
    }
    into.added.push(...outcome.added);
    const writer = this.writer(outcome.schemaId, contract.currentSchema);
    const now = Date.now();
    for (const { index, value } of outcome.accepted) {
      const key = value[kind.key];
      let bytes: Buffer;
      try {
        bytes = wireBytes(writer.type, writer.header, value, this.scratch);
      } catch (error) {
        into.rejected.push({
          kind: kind.topic,
          topic,
          key: keyText(key),
          value: values[index],
          reason: `Avro encoding failed: ${(error as Error).message}`,
        });
        continue;
      }
      if (bytes.length > MAX_RECORD_BYTES) {
        const reason = `record of ${bytes.length} bytes is over the ${MAX_RECORD_BYTES}-byte limit for one Kafka record`;
        into.rejected.push({ kind: kind.topic, topic, key: keyText(key), value: values[index], reason });
        continue;
      }
      into.encoded.push({
        kind: kind.topic,
        topic,
        key: String(key),
        value: bytes,
        timestamp: eventTime(value, kind.time, now),
      });
    }
    for (const { index, reason } of outcome.rejected) {
      const raw = values[index] as Record<string, unknown>;
      into.rejected.push({ kind: kind.topic, topic, key: keyText(raw?.[kind.key]), value: raw, reason });
    }
  }
}

function keyText(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

/** The first of the kind's time fields that holds a timestamp (epoch ms after conforming), else now. */
export function eventTime(value: Record<string, unknown>, fields: readonly string[], now: number): number {
  for (const field of fields) {
    const t = value[field];
    if (typeof t === 'number' && Number.isFinite(t) && t > 0) return t;
  }
  return now;
}
