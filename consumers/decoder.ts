/**
 * Confluent wire format → (schema id, writer schema, decoded value). Schemas are fetched from
 * the registry by id once and cached. Failures are typed: bytes that are not the wire format,
 * an id the registry does not know, or Avro that does not decode are poison; a registry that
 * does not answer is retriable.
 */
import avro from 'avsc';
import { request } from 'undici';
import { isNetworkError, PoisonError, RetriableError } from '../core/errors.ts';
import type { CoreConfig } from '../core/settings.ts';
import type { AvroRecordSchema } from './sink.ts';

export interface WriterSchema {
  id: number;
  schema: AvroRecordSchema;
  type: avro.Type;
}

export interface Decoded {
  schema: WriterSchema;
  value: Record<string, unknown>;
}

export class Decoder {
  private readonly cache = new Map<number, Promise<WriterSchema>>();
  /** Schemas already fetched, for the synchronous fast path. */
  private readonly known = new Map<number, WriterSchema>();
  private readonly url: string;
  private readonly headers: Record<string, string>;

  constructor(config: CoreConfig) {
    const { url, username, password } = config.schemaRegistry;
    this.url = url;
    this.headers = username
      ? { Authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` }
      : {};
  }

  private async fetchSchema(id: number): Promise<WriterSchema> {
    let status: number;
    let body: { schema?: string; schemaType?: string; message?: string };
    try {
      const response = await request(`${this.url}/schemas/ids/${id}`, { headers: this.headers });
      status = response.statusCode;
      body = (await response.body.json()) as typeof body;
    } catch (error) {
      if (isNetworkError(error))
        throw new RetriableError(`schema registry unreachable: ${(error as Error).message}`, {
          cause: error,
        });
      throw new RetriableError(`schema registry failed: ${(error as Error).message}`, { cause: error });
    }
    if (status === 404) throw new PoisonError('unknown_schema', `schema id ${id} is not in the registry`);
    if (status !== 200 || typeof body.schema !== 'string')
      throw new RetriableError(`schema registry answered ${status}: ${body.message ?? ''}`);
    if (body.schemaType && body.schemaType !== 'AVRO')
      throw new PoisonError('unknown_schema', `schema id ${id} is ${body.schemaType}, not Avro`);
    const schema = JSON.parse(body.schema) as AvroRecordSchema;
    if (schema.type !== 'record')
      throw new PoisonError('unknown_schema', `schema id ${id} is not an Avro record`);
    return { id, schema, type: avro.Type.forSchema(schema as avro.Schema) };
  }

  /** The writer schema for an id (cached; a failed lookup is not cached). */
  schema(id: number): Promise<WriterSchema> {
    let found = this.cache.get(id);
    if (!found) {
      found = this.fetchSchema(id);
      this.cache.set(id, found);
      found.then(
        (schema) => this.known.set(id, schema),
        () => this.cache.delete(id),
      );
    }
    return found;
  }

  private check(bytes: Buffer | null): asserts bytes is Buffer {
    if (!bytes || bytes.length < 5)
      throw new PoisonError(
        'undecodable',
        `value of ${bytes?.length ?? 0} bytes is not in the Confluent wire format (magic byte, 4-byte schema id, Avro)`,
      );
    if (bytes[0] !== 0)
      throw new PoisonError(
        'undecodable',
        `value starts with byte ${bytes[0]}, not the wire format's magic byte 0`,
      );
  }

  private read(schema: WriterSchema, bytes: Buffer): Decoded {
    try {
      return { schema, value: schema.type.fromBuffer(bytes.subarray(5)) as Record<string, unknown> };
    } catch (error) {
      throw new PoisonError(
        'undecodable',
        `Avro decoding with schema id ${schema.id} failed: ${(error as Error).message}`,
      );
    }
  }

  /** Decodes without waiting when the schema is known already; undefined when it must be fetched. */
  decodeKnown(bytes: Buffer | null): Decoded | undefined {
    this.check(bytes);
    const schema = this.known.get(bytes.readInt32BE(1));
    return schema && this.read(schema, bytes);
  }

  async decode(bytes: Buffer | null): Promise<Decoded> {
    this.check(bytes);
    return this.read(await this.schema(bytes.readInt32BE(1)), bytes);
  }
}
