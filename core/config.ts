/**
 * The configuration machinery: settings declared as a schema (type, default, description,
 * example), read from an optional JSON file and the environment, validated, and documented
 * from the same schema.
 *
 * A setting `section.name` is read from
 *   - the environment as `CHATSTREAM_<SECTION>_<NAME>` (camelCase → SNAKE_CASE), unless the
 *     spec names its own variable (`env`), e.g. KAFKA_HOME;
 *   - for secrets also from a file named by `<VAR>_FILE` (Docker/Kubernetes secrets style);
 *   - the config file as `{ "<section>": { "<name>": value } }`.
 * Precedence: environment > file > default. Every error names the variable or file key.
 */

import { existsSync, readFileSync } from 'node:fs';
import { ConfigError } from './errors.ts';
import { displayUrl } from './url.ts';

export interface SettingSpec<T> {
  readonly kind: string;
  readonly description: string;
  /** A value, or a function of the settings declared before it in the same section (and the environment). */
  readonly default?: T | ((resolved: Record<string, unknown>, env: NodeJS.ProcessEnv) => T);
  readonly example?: string;
  /** Secrets are redacted when shown and may come from `<VAR>_FILE`. */
  readonly secret?: boolean;
  /** Overrides the derived environment variable name. */
  readonly env?: string;
  /** Turns a raw value (string from the environment, JSON value from the file) into T or throws a message. */
  readonly parse: (raw: unknown) => T;
}

type Base = { description: string; example?: string; secret?: boolean; env?: string };
type WithDefault<T> = Base & {
  default?: T | ((resolved: Record<string, unknown>, env: NodeJS.ProcessEnv) => T);
};

function spec<T>(kind: string, options: WithDefault<T>, parse: (raw: unknown) => T): SettingSpec<T> {
  return { kind, ...options, parse };
}

function parseInteger(raw: unknown, min: number, max: number): number {
  const n =
    typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
  if (!Number.isInteger(n)) throw new Error(`expected a whole number, got ${JSON.stringify(raw)}`);
  if (n < min || n > max) throw new Error(`expected a number from ${min} to ${max}, got ${n}`);
  return n;
}

function parseString(raw: unknown): string {
  if (typeof raw !== 'string') throw new Error(`expected a string, got ${JSON.stringify(raw)}`);
  return raw;
}

/** Constructors for setting specs. Optional settings (no default) resolve to undefined. */
export const setting = {
  string: (o: WithDefault<string>) => spec<string>('string', o, parseString),
  optionalString: (o: Base) => spec<string | undefined>('string', o, (raw) => parseString(raw) || undefined),
  int: (o: WithDefault<number> & { min?: number; max?: number }) =>
    spec<number>(`integer ${o.min ?? 0}..${o.max ?? Number.MAX_SAFE_INTEGER}`, o, (raw) =>
      parseInteger(raw, o.min ?? 0, o.max ?? Number.MAX_SAFE_INTEGER),
    ),
  port: (o: WithDefault<number>) => spec<number>('port', o, (raw) => parseInteger(raw, 1, 65535)),
  bool: (o: WithDefault<boolean>) =>
    spec<boolean>('boolean', o, (raw) => {
      if (typeof raw === 'boolean') return raw;
      const text = String(raw).trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(text)) return true;
      if (['0', 'false', 'no', 'off'].includes(text)) return false;
      throw new Error(`expected true or false, got ${JSON.stringify(raw)}`);
    }),
  oneOf: <const V extends readonly string[]>(values: V, o: WithDefault<V[number]>) =>
    spec<V[number]>(values.join(' / '), o, (raw) => {
      const text = parseString(raw);
      if (!values.includes(text))
        throw new Error(`expected one of ${values.join(', ')}, got ${JSON.stringify(raw)}`);
      return text as V[number];
    }),
  url: (o: WithDefault<string>) =>
    spec<string>('URL', o, (raw) => {
      const text = parseString(raw);
      try {
        const url = new URL(text);
        if (!/^https?:$/.test(url.protocol)) throw new Error('not http(s)');
      } catch {
        throw new Error(`expected an http(s) URL, got ${JSON.stringify(displayUrl(text))}`);
      }
      return text.replace(/\/+$/, '');
    }),
  /** A comma-separated list in the environment, an array or a string in the file. */
  list: (o: WithDefault<string[]>) =>
    spec<string[]>('list', o, (raw) => {
      const items = Array.isArray(raw) ? raw : parseString(raw).split(',');
      const out = items.map((item) => parseString(item).trim()).filter((item) => item !== '');
      if (out.length === 0) throw new Error('expected at least one item');
      return out;
    }),
};

export type Section = Record<string, SettingSpec<unknown>>;
export type Schema = Record<string, Section>;
type ValueOf<S> = S extends SettingSpec<infer T> ? T : never;
export type Settings<S extends Schema> = { [K in keyof S]: { [N in keyof S[K]]: ValueOf<S[K][N]> } };

export const ENV_PREFIX = 'CHATSTREAM_';

export function envName(section: string, name: string, spec: SettingSpec<unknown>): string {
  if (spec.env) return spec.env;
  const snake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
  return `${ENV_PREFIX}${snake(section)}_${snake(name)}`;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Parsed file contents and the file's name (for messages). */
  file?: { name: string; data: unknown };
}

/** Reads and parses a JSON config file; errors name the file. */
export function readConfigFile(path: string): { name: string; data: unknown } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(path, `cannot read the config file (${(error as NodeJS.ErrnoException).code})`);
  }
  try {
    return { name: path, data: JSON.parse(text) };
  } catch (error) {
    throw new ConfigError(path, `the config file is not valid JSON: ${(error as Error).message}`);
  }
}

function fileSections(schema: Schema, file: LoadOptions['file']): Record<string, Record<string, unknown>> {
  if (!file) return {};
  const { name, data } = file;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError(name, 'the config file must hold a JSON object of sections');
  }
  const sections = data as Record<string, unknown>;
  for (const [section, body] of Object.entries(sections)) {
    if (!(section in schema)) {
      throw new ConfigError(
        `${name}: ${section}`,
        `unknown section; known sections: ${Object.keys(schema).join(', ')}`,
      );
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ConfigError(`${name}: ${section}`, 'a section must be a JSON object');
    }
    for (const key of Object.keys(body)) {
      if (!(key in (schema[section] as Section))) {
        throw new ConfigError(
          `${name}: ${section}.${key}`,
          `unknown setting; ${suggest(key, Object.keys(schema[section] as Section))}`,
        );
      }
    }
  }
  return sections as Record<string, Record<string, unknown>>;
}

function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function suggest(key: string, known: string[]): string {
  const close = known.find((k) => distance(k.toLowerCase(), key.toLowerCase()) <= 2);
  return close ? `did you mean "${close}"?` : `known settings: ${known.join(', ')}`;
}

function readSecretFile(variable: string, path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw new ConfigError(
      `${variable}_FILE`,
      `cannot read the secret file ${path} (${(error as NodeJS.ErrnoException).code})`,
    );
  }
}

/** Resolves every setting of the schema; throws a ConfigError naming the first bad one. */
export function loadSettings<S extends Schema>(schema: S, options: LoadOptions = {}): Settings<S> {
  const env = options.env ?? process.env;
  const sections = fileSections(schema, options.file);
  const result: Record<string, Record<string, unknown>> = {};
  for (const [section, specs] of Object.entries(schema)) {
    const resolved: Record<string, unknown> = {};
    for (const [name, spec] of Object.entries(specs)) {
      const variable = envName(section, name, spec);
      let raw: unknown;
      let source: string | undefined;
      if (env[variable] !== undefined && env[variable] !== '') {
        raw = env[variable];
        source = variable;
      } else if (spec.secret && env[`${variable}_FILE`]) {
        raw = readSecretFile(variable, env[`${variable}_FILE`] as string);
        source = `${variable}_FILE`;
      } else if (sections[section] && name in sections[section]) {
        raw = sections[section][name];
        source = `${options.file?.name}: ${section}.${name}`;
      }
      if (source === undefined) {
        resolved[name] = typeof spec.default === 'function' ? spec.default(resolved, env) : spec.default;
        continue;
      }
      try {
        resolved[name] = spec.parse(raw);
      } catch (error) {
        throw new ConfigError(
          source,
          (error as Error).message,
          spec.example ? `example: ${spec.example}` : undefined,
        );
      }
    }
    result[section] = resolved;
  }
  return result as Settings<S>;
}

export interface ConfigSource {
  env?: NodeJS.ProcessEnv;
  /** Path of a JSON config file; defaults to $CHATSTREAM_CONFIG, else ./chatstream.config.json if present. */
  file?: string;
}

/** Loads a schema's settings from where chatstream reads them: defaults < config file < environment. */
export function loadSettingsFrom<S extends Schema>(schema: S, source: ConfigSource = {}): Settings<S> {
  const env = source.env ?? process.env;
  const path =
    source.file ??
    env.CHATSTREAM_CONFIG ??
    (existsSync('chatstream.config.json') ? 'chatstream.config.json' : undefined);
  return loadSettings(schema, { env, file: path ? readConfigFile(path) : undefined });
}

/** Environment variables that look like ours but match no setting (likely typos). */
export function unknownEnvironment(schema: Schema, env: NodeJS.ProcessEnv = process.env): string[] {
  const known = new Set<string>(['CHATSTREAM_CONFIG']);
  for (const [section, specs] of Object.entries(schema)) {
    for (const [name, spec] of Object.entries(specs)) {
      const variable = envName(section, name, spec);
      known.add(variable);
      if (spec.secret) known.add(`${variable}_FILE`);
    }
  }
  return Object.keys(env).filter((key) => key.startsWith(ENV_PREFIX) && !known.has(key));
}

/** A value as shown: passwords inside URLs (and URL lists) masked. */
function shown(value: unknown): unknown {
  if (typeof value === 'string') return displayUrl(value);
  if (Array.isArray(value)) return value.map(shown);
  return value;
}

/** Settings as shown to a person: secrets redacted, and passwords inside URLs. */
export function redacted<S extends Schema>(
  schema: S,
  settings: Settings<S>,
): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [section, specs] of Object.entries(schema)) {
    const values = (settings as Record<string, Record<string, unknown>>)[section] ?? {};
    out[section] = Object.fromEntries(
      Object.entries(specs).map(([name, spec]) => [
        name,
        spec.secret && values[name] !== undefined ? '***' : shown(values[name]),
      ]),
    );
  }
  return out;
}

/** The configuration reference (Markdown), generated from the schema. */
export function renderReference(schema: Schema): string {
  const lines: string[] = [];
  for (const [section, specs] of Object.entries(schema)) {
    lines.push(
      `#### \`${section}\``,
      '',
      '| Environment variable | File key | Type | Default | Description |',
      '|---|---|---|---|---|',
    );
    for (const [name, spec] of Object.entries(specs)) {
      const fallback =
        typeof spec.default === 'function'
          ? '(derived)'
          : spec.default === undefined
            ? '—'
            : `\`${Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default)}\``;
      const description = spec.description + (spec.secret ? ' Secret: also read from `<VAR>_FILE`.' : '');
      lines.push(
        `| \`${envName(section, name, spec)}\` | \`${section}.${name}\` | ${spec.kind} | ${fallback} | ${description} |`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}
