/**
 * Avro schema compatibility, decided by Avro's schema-resolution rules (the same questions
 * Java's SchemaCompatibility asks): can a reader with schema R read data written with W?
 *
 * Levels: BACKWARD (new reads latest), FORWARD (latest reads new), FULL (both), each
 * `_TRANSITIVE` against every earlier version instead of only the latest; NONE skips checks.
 */
import type avro from 'avsc';
import { COMPATIBILITY_LEVELS } from '../core/settings.ts';

export const LEVELS = COMPATIBILITY_LEVELS;
export type Level = (typeof LEVELS)[number];

export interface Incompatibility {
  errorType:
    | 'READER_FIELD_MISSING_DEFAULT_VALUE'
    | 'TYPE_MISMATCH'
    | 'NAME_MISMATCH'
    | 'MISSING_ENUM_SYMBOLS'
    | 'MISSING_UNION_BRANCH'
    | 'FIXED_SIZE_MISMATCH';
  /** JSON-pointer-like path in the reader schema, e.g. /fields/2/type. */
  path: string;
  description: string;
}

// avsc's Type classes expose these at run time; the typings leave them out.
interface AnyType {
  typeName: string;
  name?: string;
  aliases?: string[];
  fields?: { name: string; aliases: string[]; type: AnyType; defaultValue(): unknown }[];
  symbols?: string[];
  default?: string;
  size?: number;
  itemsType?: AnyType;
  valuesType?: AnyType;
  types?: AnyType[];
  underlyingType?: AnyType;
}

const PROMOTIONS: Record<string, string[]> = {
  int: ['long', 'float', 'double'],
  long: ['float', 'double'],
  float: ['double'],
  string: ['bytes'],
  bytes: ['string'],
};

function kind(type: AnyType): string {
  if (type.typeName.startsWith('union')) return 'union';
  if (type.typeName.startsWith('logical:') && type.underlyingType) return kind(type.underlyingType);
  return type.typeName;
}

function base(type: AnyType): AnyType {
  return type.typeName.startsWith('logical:') && type.underlyingType ? base(type.underlyingType) : type;
}

function describe(type: AnyType): string {
  const k = kind(type);
  return type.name ? `${k} ${type.name}` : k;
}

function namesMatch(reader: AnyType, writer: AnyType): boolean {
  const unqualified = (n: string) => n.slice(n.lastIndexOf('.') + 1);
  if (!reader.name || !writer.name) return true;
  if (reader.name === writer.name || (reader.aliases ?? []).includes(writer.name)) return true;
  // Java's resolution also accepts an unqualified alias match.
  return (reader.aliases ?? []).some((a) => unqualified(a) === unqualified(writer.name as string));
}

class Checker {
  readonly found: Incompatibility[] = [];
  private readonly seen: Set<string>;

  /** `seen` carries the named pairs being checked already, so recursive types end. */
  constructor(seen: Set<string> = new Set()) {
    this.seen = new Set(seen);
  }

  check(readerType: AnyType, writerType: AnyType, path: string): void {
    const reader = base(readerType);
    const writer = base(writerType);
    const rk = kind(reader);
    const wk = kind(writer);
    if (rk === 'record' || rk === 'enum' || rk === 'fixed') {
      // Named types are checked once per (reader, writer) pair: this ends recursive types.
      const pair = `${reader.name}|${writer.name}`;
      if (this.seen.has(pair)) return;
      this.seen.add(pair);
    }
    if (wk === 'union') {
      (writer.types ?? []).forEach((branch, i) => {
        if (rk === 'union') this.readerUnion(reader, branch, path, i);
        else this.check(reader, branch, path);
      });
      return;
    }
    if (rk === 'union') {
      this.readerUnion(reader, writer, path);
      return;
    }
    if (rk !== wk) {
      if ((PROMOTIONS[wk] ?? []).includes(rk)) return;
      this.add(
        'TYPE_MISMATCH',
        path,
        `reader type ${describe(reader)} does not match writer type ${describe(writer)}`,
      );
      return;
    }
    switch (rk) {
      case 'record':
        this.record(reader, writer, path);
        return;
      case 'enum':
        this.enumeration(reader, writer, path);
        return;
      case 'fixed':
        if (!namesMatch(reader, writer)) {
          this.nameMismatch(reader, writer, path);
          return;
        }
        if (reader.size !== writer.size) {
          this.add(
            'FIXED_SIZE_MISMATCH',
            `${path}/size`,
            `expected fixed size ${writer.size}, found ${reader.size}`,
          );
        }
        return;
      case 'array':
        this.check(reader.itemsType as AnyType, writer.itemsType as AnyType, `${path}/items`);
        return;
      case 'map':
        this.check(reader.valuesType as AnyType, writer.valuesType as AnyType, `${path}/values`);
        return;
      default:
        return;
    }
  }

  /** A writer value (one branch) must be readable by some reader branch. */
  private readerUnion(reader: AnyType, writerBranch: AnyType, path: string, writerIndex?: number): void {
    const branches = reader.types ?? [];
    for (const candidate of branches) {
      const probe = new Checker(this.seen);
      probe.check(candidate, writerBranch, path);
      if (probe.found.length === 0) return;
    }
    const where = writerIndex === undefined ? '' : ` (writer union branch ${writerIndex})`;
    this.add('MISSING_UNION_BRANCH', path, `reader union lacks type ${describe(base(writerBranch))}${where}`);
  }

  private record(reader: AnyType, writer: AnyType, path: string): void {
    if (!namesMatch(reader, writer)) {
      this.nameMismatch(reader, writer, path);
      return;
    }
    const writerFields = writer.fields ?? [];
    (reader.fields ?? []).forEach((field, i) => {
      const source =
        writerFields.find((w) => w.name === field.name) ??
        writerFields.find((w) => field.aliases.includes(w.name));
      if (source) {
        this.check(field.type, source.type, `${path}/fields/${i}/type`);
      } else if (field.defaultValue() === undefined) {
        this.add(
          'READER_FIELD_MISSING_DEFAULT_VALUE',
          `${path}/fields/${i}`,
          `field '${field.name}' of ${reader.name} has no default value and is missing in the writer's schema`,
        );
      }
    });
  }

  private enumeration(reader: AnyType, writer: AnyType, path: string): void {
    if (!namesMatch(reader, writer)) {
      this.nameMismatch(reader, writer, path);
      return;
    }
    if (reader.default !== undefined) return;
    const missing = (writer.symbols ?? []).filter((s) => !(reader.symbols ?? []).includes(s));
    if (missing.length > 0) {
      this.add(
        'MISSING_ENUM_SYMBOLS',
        `${path}/symbols`,
        `enum ${reader.name} lacks symbols [${missing.join(', ')}] and has no default`,
      );
    }
  }

  private nameMismatch(reader: AnyType, writer: AnyType, path: string): void {
    this.add('NAME_MISMATCH', `${path}/name`, `expected ${writer.name}, found ${reader.name}`);
  }

  private add(errorType: Incompatibility['errorType'], path: string, description: string): void {
    this.found.push({ errorType, path: path || '/', description });
  }
}

/** Problems a reader with `reader` meets reading data written with `writer` (empty: compatible). */
export function readIncompatibilities(reader: avro.Type, writer: avro.Type): Incompatibility[] {
  const checker = new Checker();
  checker.check(reader as unknown as AnyType, writer as unknown as AnyType, '');
  return checker.found;
}

export interface PreviousVersion {
  version: number;
  type: avro.Type;
}

export interface CompatibilityReport {
  compatible: boolean;
  /** Human-readable findings naming the field, the rule and the version they concern. */
  messages: string[];
}

/**
 * Checks a candidate schema against a subject's earlier versions (oldest first) under a level.
 * Non-transitive levels look only at the latest version.
 */
export function checkCompatibility(
  level: Level,
  candidate: avro.Type,
  previous: PreviousVersion[],
): CompatibilityReport {
  if (level === 'NONE' || previous.length === 0) return { compatible: true, messages: [] };
  const against = level.endsWith('_TRANSITIVE') ? previous : previous.slice(-1);
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL');
  const messages: string[] = [];
  for (const old of against) {
    const found: { direction: string; issue: Incompatibility }[] = [];
    if (backward) {
      for (const issue of readIncompatibilities(candidate, old.type))
        found.push({ direction: 'new schema reading old data', issue });
    }
    if (forward) {
      for (const issue of readIncompatibilities(old.type, candidate))
        found.push({ direction: 'old schema reading new data', issue });
    }
    for (const { direction, issue } of found) {
      messages.push(
        `{errorType:'${issue.errorType}', description:'${issue.description}', path:'${issue.path}', ` +
          `oldSchemaVersion:${old.version}, check:'${direction}', compatibility:'${level}'}`,
      );
    }
  }
  return { compatible: messages.length === 0, messages };
}
