/**
 * The registry's operations, as the REST API exposes them. Reads come from the state; writes
 * become `_schemas` records that are acknowledged by Kafka and applied before they return.
 */
import { InvalidSchemaError, type ParsedSchema, parseAvroSchema } from '../schemas/avro-schema.ts';
import { checkCompatibility, LEVELS, type Level } from '../schemas/compatibility.ts';
import { registryErrors as E, RegistryError } from './errors.ts';
import type { RegistryRecord } from './records.ts';
import type { Entry, RegistryState } from './state.ts';

export const MODES = ['READWRITE', 'READONLY', 'READONLY_OVERRIDE', 'IMPORT'] as const;
const MAX_VERSION = 2 ** 31 - 1;

/** Where writes go: resolves once Kafka acknowledged the records and the state applied them. */
export interface RecordLog {
  append(records: RegistryRecord[]): Promise<void>;
}

export interface SchemaBody {
  schema?: unknown;
  schemaType?: unknown;
  references?: unknown;
  id?: unknown;
  version?: unknown;
}

type Version = number | 'latest';

export function parseVersion(text: string): Version {
  if (text === 'latest' || text === '-1') return 'latest';
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_VERSION) throw E.invalidVersion(text);
  return n;
}

function view(entry: Entry) {
  return {
    subject: entry.subject,
    version: entry.version,
    id: entry.id,
    ...(entry.schemaType && entry.schemaType !== 'AVRO' ? { schemaType: entry.schemaType } : {}),
    schema: entry.schema,
  };
}

export class SchemaRegistry {
  private readonly state: RegistryState;
  private readonly log: RecordLog;
  private readonly defaultLevel: Level;
  private writes: Promise<unknown> = Promise.resolve();

  constructor(state: RegistryState, log: RecordLog, defaultLevel: Level = 'BACKWARD') {
    this.state = state;
    this.log = log;
    this.defaultLevel = defaultLevel;
  }

  /** Runs writes one at a time, so ids and versions are decided on an up-to-date state. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writes.then(fn, fn);
    this.writes = run.catch(() => {});
    return run;
  }

  // ---- reads -------------------------------------------------------------------------------

  subjects(deleted: boolean, prefix = ''): string[] {
    return this.state.subjectNames(deleted).filter((s) => s.startsWith(prefix));
  }

  private entries(subject: string, deleted = false): Entry[] {
    const entries = this.state.versions(subject, deleted);
    if (entries.length === 0) throw E.subjectNotFound(subject);
    return entries;
  }

  versions(subject: string, deleted: boolean): number[] {
    return this.entries(subject, deleted).map((e) => e.version);
  }

  private entry(subject: string, version: Version, deleted = false): Entry {
    const entries = this.entries(subject, deleted);
    const found = version === 'latest' ? entries.at(-1) : entries.find((e) => e.version === version);
    if (!found) throw E.versionNotFound(version);
    return found;
  }

  getVersion(subject: string, version: string, deleted = false) {
    return view(this.entry(subject, parseVersion(version), deleted));
  }

  schemaById(id: number) {
    const found = this.state.schemaById(id);
    if (!found) throw E.schemaNotFound(id);
    return {
      ...(found.schemaType && found.schemaType !== 'AVRO' ? { schemaType: found.schemaType } : {}),
      schema: found.schema,
    };
  }

  idVersions(id: number, deleted = false) {
    this.schemaById(id);
    return this.state.usesOf(id, deleted).map((e) => ({ subject: e.subject, version: e.version }));
  }

  idSubjects(id: number, deleted = false): string[] {
    return [...new Set(this.idVersions(id, deleted).map((v) => v.subject))];
  }

  lookup(subject: string, body: SchemaBody, deleted = false) {
    const parsed = this.parse(body);
    const entries = this.state.versions(subject, deleted);
    if (entries.length === 0) throw E.subjectNotFound(subject);
    const found = entries.findLast((e) => e.schema === parsed.canonical);
    if (!found) throw E.schemaNotFound();
    return view(found);
  }

  // ---- schemas -----------------------------------------------------------------------------

  private parse(body: SchemaBody): ParsedSchema {
    if (typeof body !== 'object' || body === null)
      throw E.invalidSchema('The request body must be a JSON object with a "schema" field');
    const type = body.schemaType ?? 'AVRO';
    if (type !== 'AVRO') {
      if (type === 'JSON' || type === 'PROTOBUF') {
        throw E.invalidSchema(
          `Schema type ${type} is not supported by this registry; it serves AVRO schemas only`,
        );
      }
      throw E.invalidSchema(`Invalid schema type ${JSON.stringify(type)}; valid types: AVRO`);
    }
    if (Array.isArray(body.references) && body.references.length > 0) {
      throw E.invalidSchema('Schema references are not supported by this registry');
    }
    if (typeof body.schema !== 'string' || body.schema.trim() === '')
      throw E.invalidSchema('Empty schema: the "schema" field must hold the schema as a string');
    try {
      return parseAvroSchema(body.schema);
    } catch (error) {
      if (error instanceof InvalidSchemaError) throw E.invalidSchema(error.message);
      throw error;
    }
  }

  compatibilityLevel(subject: string): Level {
    return (this.state.config(subject) ?? this.state.config(null) ?? this.defaultLevel) as Level;
  }

  private modeOf(subject: string | null): string {
    return (subject !== null ? this.state.mode(subject) : undefined) ?? this.state.mode(null) ?? 'READWRITE';
  }

  private assertWritable(subject: string): void {
    const mode = this.modeOf(subject);
    if (mode === 'READONLY' || mode === 'READONLY_OVERRIDE')
      throw E.notPermitted(`Subject ${subject} is in read-only mode`);
  }

  private compatibility(subject: string, parsed: ParsedSchema, against: Entry[]) {
    const previous = against.map((e) => ({ version: e.version, type: parseAvroSchema(e.schema).type }));
    return checkCompatibility(this.compatibilityLevel(subject), parsed.type, previous);
  }

  register(subject: string, body: SchemaBody): Promise<{ id: number }> {
    return this.exclusive(async () => {
      this.assertWritable(subject);
      const parsed = this.parse(body);
      const all = this.state.versions(subject, true);
      const live = all.filter((e) => !e.deleted);
      const existing = live.find((e) => e.schema === parsed.canonical);
      if (existing) return { id: existing.id };

      const importing = this.modeOf(subject) === 'IMPORT';
      if (!importing) {
        const report = this.compatibility(subject, parsed, live);
        if (!report.compatible) {
          throw E.incompatible(
            `Schema being registered is incompatible with an earlier schema for subject "${subject}", details: [${report.messages.join(', ')}]`,
          );
        }
      }
      let id = this.state.idOf(parsed.canonical) ?? this.state.maxId + 1;
      let version = (all.at(-1)?.version ?? 0) + 1;
      if (importing) {
        if (Number.isInteger(body.id)) {
          const taken = this.state.schemaById(body.id as number);
          if (taken && taken.schema !== parsed.canonical)
            throw E.notPermitted(`Overwrite new schema with id ${body.id} is not permitted.`);
          id = body.id as number;
        }
        if (Number.isInteger(body.version)) version = body.version as number;
      }
      await this.log.append([
        {
          keytype: 'SCHEMA',
          subject,
          version,
          value: { subject, version, id, schema: parsed.canonical, deleted: false },
        },
      ]);
      return { id };
    });
  }

  testCompatibility(subject: string, version: string | undefined, body: SchemaBody, verbose: boolean) {
    const parsed = this.parse(body);
    const live = this.state.versions(subject);
    let against: Entry[];
    if (version === undefined) {
      against = live;
    } else {
      const wanted = parseVersion(version);
      if (live.length === 0 && wanted === 'latest') against = [];
      else against = [this.entry(subject, wanted)];
    }
    const level = this.compatibilityLevel(subject);
    const previous = against.map((e) => ({ version: e.version, type: parseAvroSchema(e.schema).type }));
    // A named version is checked directly; without one, the level decides which versions count.
    const report = checkCompatibility(
      version === undefined ? level : (level.replace('_TRANSITIVE', '') as Level),
      parsed.type,
      previous,
    );
    return { is_compatible: report.compatible, ...(verbose ? { messages: report.messages } : {}) };
  }

  // ---- deletes -----------------------------------------------------------------------------

  deleteSubject(subject: string, permanent: boolean): Promise<number[]> {
    return this.exclusive(async () => {
      this.assertWritable(subject);
      const all = this.state.versions(subject, true);
      if (all.length === 0) throw E.subjectNotFound(subject);
      const live = all.filter((e) => !e.deleted);
      if (!permanent) {
        if (live.length === 0) throw E.subjectSoftDeleted(subject);
        const last = all.at(-1) as Entry;
        await this.log.append([
          { keytype: 'DELETE_SUBJECT', subject, value: { subject, version: last.version } },
        ]);
        return live.map((e) => e.version);
      }
      if (live.length > 0) throw E.subjectNotSoftDeleted(subject);
      await this.log.append([
        ...all.map((e): RegistryRecord => ({ keytype: 'SCHEMA', subject, version: e.version, value: null })),
        { keytype: 'CONFIG', subject, value: null },
        { keytype: 'MODE', subject, value: null },
      ]);
      return all.map((e) => e.version);
    });
  }

  deleteVersion(subject: string, version: string, permanent: boolean): Promise<number> {
    return this.exclusive(async () => {
      this.assertWritable(subject);
      const wanted = parseVersion(version);
      const all = this.state.versions(subject, true);
      if (all.length === 0) throw E.subjectNotFound(subject);
      const entry =
        wanted === 'latest' ? all.filter((e) => !e.deleted).at(-1) : all.find((e) => e.version === wanted);
      if (!entry) throw E.versionNotFound(wanted);
      if (!permanent) {
        if (entry.deleted) throw E.versionSoftDeleted(subject, entry.version);
        await this.log.append([
          { keytype: 'SCHEMA', subject, version: entry.version, value: { ...entry, deleted: true } },
        ]);
      } else {
        if (!entry.deleted) throw E.versionNotSoftDeleted(subject, entry.version);
        await this.log.append([{ keytype: 'SCHEMA', subject, version: entry.version, value: null }]);
      }
      return entry.version;
    });
  }

  // ---- config and mode ---------------------------------------------------------------------

  getConfig(subject: string | null, defaultToGlobal: boolean) {
    if (subject === null) return { compatibilityLevel: this.state.config(null) ?? this.defaultLevel };
    const own = this.state.config(subject);
    if (own) return { compatibilityLevel: own };
    if (defaultToGlobal) return { compatibilityLevel: this.state.config(null) ?? this.defaultLevel };
    throw E.subjectCompatibilityNotConfigured(subject);
  }

  setConfig(subject: string | null, body: unknown): Promise<{ compatibility: Level }> {
    const given = (body as { compatibility?: unknown; compatibilityLevel?: unknown } | null) ?? {};
    const raw = given.compatibility ?? given.compatibilityLevel;
    const level = typeof raw === 'string' ? raw.toUpperCase() : '';
    if (!(LEVELS as readonly string[]).includes(level)) return Promise.reject(E.invalidCompatibility(raw));
    return this.exclusive(async () => {
      await this.log.append([{ keytype: 'CONFIG', subject, value: { compatibilityLevel: level } }]);
      return { compatibility: level as Level };
    });
  }

  deleteConfig(subject: string | null) {
    return this.exclusive(async () => {
      const current = this.state.config(subject);
      if (subject !== null && !current && !this.state.hasSubject(subject)) throw E.subjectNotFound(subject);
      if (current) await this.log.append([{ keytype: 'CONFIG', subject, value: null }]);
      return { compatibilityLevel: current ?? this.state.config(null) ?? this.defaultLevel };
    });
  }

  getMode(subject: string | null, defaultToGlobal: boolean) {
    if (subject === null) return { mode: this.state.mode(null) ?? 'READWRITE' };
    const own = this.state.mode(subject);
    if (own) return { mode: own };
    if (defaultToGlobal) return { mode: this.state.mode(null) ?? 'READWRITE' };
    throw E.subjectModeNotConfigured(subject);
  }

  setMode(subject: string | null, body: unknown, force: boolean): Promise<{ mode: string }> {
    const raw = (body as { mode?: unknown } | null)?.mode;
    const mode = typeof raw === 'string' ? raw.toUpperCase() : '';
    if (!(MODES as readonly string[]).includes(mode)) return Promise.reject(E.invalidMode(raw));
    return this.exclusive(async () => {
      const empty = subject === null ? this.state.isEmpty() : this.state.versions(subject, true).length === 0;
      if (mode === 'IMPORT' && !empty && !force) {
        throw E.notPermitted(
          'Cannot import since found existing subjects; use force=true to set IMPORT mode anyway',
        );
      }
      await this.log.append([{ keytype: 'MODE', subject, value: { mode } }]);
      return { mode };
    });
  }

  deleteMode(subject: string) {
    return this.exclusive(async () => {
      const current = this.state.mode(subject);
      if (!current && !this.state.hasSubject(subject)) throw E.subjectNotFound(subject);
      if (current) await this.log.append([{ keytype: 'MODE', subject, value: null }]);
      return { mode: current ?? this.state.mode(null) ?? 'READWRITE' };
    });
  }
}

export { RegistryError };
