/**
 * Confluent wire format → (schema id, writer schema, decoded value). Schemas are fetched from
 * the registry by id once and cached. Failures are typed: bytes that are not the wire format
 * and Avro that does not decode are poison; an id the registry does not know is poison only
 * when the registry says so with its error code 40403, and only after the same answer
 * `unknownSchemaAttempts` times (a registry instance that has not replayed `_schemas` yet says
 * 40403 for a schema registered a moment ago) — then the verdict is remembered. Any other 404
 * (a wrong URL or path, a proxy) and a registry that does not answer are retriable.
 */
import avro from 'avsc';
import { type Dispatcher, request } from 'undici';
import { EXIT, FatalError, isNetworkError, PoisonError, RetriableError } from '../core/errors.ts';
import type { CoreConfig } from '../core/settings.ts';
import { certificateError } from '../core/tls.ts';
import { displayUrl } from '../core/url.ts';
import { registryHttp } from '../schemas/registry-client.ts';
import { boundLists } from './avro-bounds.ts';
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

/** The registry's error code for "schema not found" (a plain 404 is something else: a wrong URL). */
export const SCHEMA_NOT_FOUND = 40403;
/** Default number of 40403 answers for one id before its records are poison. */
export const UNKNOWN_SCHEMA_ATTEMPTS = 5;
/** Most ids whose 40403 answers (or verdict) are remembered; more start the count afresh. */
const UNKNOWN_IDS_MAX = 10_000;

export interface DecoderOptions {
  /** 40403 answers for one id before it is poison (default UNKNOWN_SCHEMA_ATTEMPTS). */
  unknownSchemaAttempts?: number;
}

export class Decoder {
  private readonly cache = new Map<number, Promise<WriterSchema>>();
  /** Schemas already fetched, for the synchronous fast path. */
  private readonly known = new Map<number, WriterSchema>();
  /** 40403 answers per id so far; ids the registry does not know after them all. */
  private readonly notFound = new Map<number, number>();
  private readonly unknown = new Set<number>();
  private readonly attempts: number;
  private readonly url: string;
  private readonly http: { headers: Record<string, string>; dispatcher?: Dispatcher };

  constructor(config: CoreConfig, options: DecoderOptions = {}) {
    this.url = config.schemaRegistry.url;
    this.http = registryHttp(config);
    this.attempts = Math.max(1, options.unknownSchemaAttempts ?? UNKNOWN_SCHEMA_ATTEMPTS);
  }

  /** A 40403 for id: retriable until it was the answer `attempts` times, then poison for good. */
  private notInRegistry(id: number): Error {
    const count = (this.notFound.get(id) ?? 0) + 1;
    if (count < this.attempts) {
      if (this.notFound.size >= UNKNOWN_IDS_MAX) this.notFound.clear();
      this.notFound.set(id, count);
      return new RetriableError(
        `schema id ${id} is not in the registry (yet?): answer ${count} of ${this.attempts} before its records are dead letters`,
      );
    }
    this.notFound.delete(id);
    if (this.unknown.size >= UNKNOWN_IDS_MAX) this.unknown.clear();
    this.unknown.add(id);
    return this.unknownSchema(id);
  }

  private unknownSchema(id: number): PoisonError {
    return new PoisonError(
      'unknown_schema',
      `schema id ${id} is not in the registry (error code ${SCHEMA_NOT_FOUND}, ${this.attempts} times)`,
    );
  }

  /** One GET to the registry: its status and body; a certificate that does not verify is fatal. */
  private async get(path: string): Promise<{ status: number; text: string }> {
    try {
      const response = await request(`${this.url}${path}`, this.http);
      return { status: response.statusCode, text: await response.body.text() };
    } catch (error) {
      const certificate = certificateError(
        'schema registry',
        'CHATSTREAM_SCHEMA_REGISTRY_SSL_CA_LOCATION',
        error,
      );
      if (certificate) throw certificate;
      if (isNetworkError(error))
        throw new RetriableError(`schema registry unreachable: ${(error as Error).message}`, {
          cause: error,
        });
      throw new RetriableError(`schema registry failed: ${(error as Error).message}`, { cause: error });
    }
  }

  private async fetchSchema(id: number): Promise<WriterSchema> {
    const { status, text } = await this.get(`/schemas/ids/${id}`);
    let body: { schema?: string; schemaType?: string; message?: string; error_code?: number } = {};
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      // not JSON (a proxy's page, a wrong URL): retriable below, with the status
    }
    if (status === 401 || status === 403) throw this.refused(status, body.message ?? text.slice(0, 200));
    if (status === 404 && body.error_code === SCHEMA_NOT_FOUND) throw this.notInRegistry(id);
    if (status !== 200 || typeof body.schema !== 'string')
      throw new RetriableError(
        `schema registry answered ${status}${body.error_code ? ` (error code ${body.error_code})` : ''} for ${displayUrl(this.url)}/schemas/ids/${id}: ${body.message ?? text.slice(0, 200)}; check CHATSTREAM_SCHEMA_REGISTRY_URL`,
      );
    this.notFound.delete(id);
    if (body.schemaType && body.schemaType !== 'AVRO')
      throw new PoisonError('unknown_schema', `schema id ${id} is ${body.schemaType}, not Avro`);
    // A schema the registry holds but avsc cannot read is poison for its records, not a bug.
    let schema: AvroRecordSchema;
    let type: avro.Type;
    try {
      schema = JSON.parse(body.schema) as AvroRecordSchema;
      // Array and map counts bounded by the bytes (avro-bounds.ts): no record can exhaust the heap.
      type = boundLists(avro.Type.forSchema(schema as avro.Schema));
    } catch (error) {
      throw new PoisonError('unknown_schema', `schema id ${id} cannot be read: ${(error as Error).message}`);
    }
    if (schema.type !== 'record')
      throw new PoisonError('unknown_schema', `schema id ${id} is not an Avro record`);
    return { id, schema, type };
  }

  /** The registry refused our credentials: no retry helps (exit 3, naming the settings). */
  private refused(status: number, message: string): FatalError {
    return new FatalError(`the schema registry at ${displayUrl(this.url)} answered ${status}: ${message}`, {
      code: 'REGISTRY_REFUSED',
      exitCode: EXIT.config,
      hint: 'check CHATSTREAM_SCHEMA_REGISTRY_USERNAME and CHATSTREAM_SCHEMA_REGISTRY_PASSWORD',
    });
  }

  /**
   * One request the registry must answer (GET /subjects): a start step, so a registry that is
   * down or refuses the credentials is found at start, not at the first unknown schema id.
   */
  async probe(): Promise<void> {
    const { status, text } = await this.get('/subjects');
    if (status === 401 || status === 403) throw this.refused(status, text.slice(0, 200));
    if (status !== 200)
      throw new RetriableError(
        `schema registry answered ${status} for ${displayUrl(this.url)}/subjects: ${text.slice(0, 200)}; check CHATSTREAM_SCHEMA_REGISTRY_URL`,
      );
  }

  /** The writer schema for an id (cached; a failed lookup is not cached, an unknown id is). */
  schema(id: number): Promise<WriterSchema> {
    if (this.unknown.has(id)) return Promise.reject(this.unknownSchema(id));
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
    return { schema, value: decodeValue(schema, bytes) };
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

  /**
   * The writer schema of a wire-format value without decoding it (for a sink that reads the
   * Avro bytes itself), when the schema is known already; undefined when it must be fetched.
   */
  schemaKnown(bytes: Buffer | null): WriterSchema | undefined {
    this.check(bytes);
    return this.known.get(bytes.readInt32BE(1));
  }

  /** The writer schema of a wire-format value, fetched when needed; the value is not decoded. */
  async schemaOf(bytes: Buffer | null): Promise<WriterSchema> {
    this.check(bytes);
    return this.schema(bytes.readInt32BE(1));
  }
}

/** Decodes a wire-format value with its writer schema; bytes that do not decode are poison. */
export function decodeValue(schema: WriterSchema, bytes: Buffer): Record<string, unknown> {
  try {
    return schema.type.fromBuffer(bytes.subarray(5)) as Record<string, unknown>;
  } catch (error) {
    throw new PoisonError(
      'undecodable',
      `Avro decoding with schema id ${schema.id} failed: ${(error as Error).message}`,
    );
  }
}
