/**
 * `chatstream schemas check`: every schema version parses, is documented, follows the
 * conventions (ids as strings, timestamps as timestamp-millis, the key a required string) and
 * is compatible with the versions before it under its subject's level.
 */
import { relative } from 'node:path';
import { InvalidSchemaError, parseAvroSchema } from './avro-schema.ts';
import { RECORD_KINDS, type RecordKind, SCHEMAS_DIR, schemaVersions } from './catalog.ts';
import { checkCompatibility } from './compatibility.ts';

interface FieldJson {
  name: string;
  type: unknown;
  doc?: string;
}

const TIMESTAMP_NAME = /(_time|_on)$/;

function isTimestamp(type: unknown): boolean {
  if (Array.isArray(type)) return type.some((t) => t !== 'null' && isTimestamp(t));
  return (
    typeof type === 'object' &&
    type !== null &&
    (type as { logicalType?: string }).logicalType === 'timestamp-millis'
  );
}

/** Convention problems in one schema (all nested records included). */
export function lintSchema(schema: unknown, keyField: string): string[] {
  const problems: string[] = [];
  const visit = (node: unknown, path: string) => {
    if (Array.isArray(node)) {
      for (const branch of node) visit(branch, path);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    const type = node as {
      type?: unknown;
      name?: string;
      doc?: string;
      fields?: FieldJson[];
      items?: unknown;
      values?: unknown;
    };
    if (type.type === 'record') {
      if (!type.doc) problems.push(`${path}${type.name}: record has no doc`);
      for (const field of type.fields ?? []) {
        const where = `${path}${type.name}.${field.name}`;
        if (!field.doc) problems.push(`${where}: field has no doc`);
        if (TIMESTAMP_NAME.test(field.name) && !isTimestamp(field.type))
          problems.push(`${where}: a *_time/*_on field must be timestamp-millis`);
        if (/(^id|_id)$/.test(field.name) && JSON.stringify(field.type).match(/"(int|long)"/))
          problems.push(`${where}: ids are strings`);
        visit(field.type, `${where}/`);
      }
    } else if (type.type === 'array') visit(type.items, path);
    else if (type.type === 'map') visit(type.values, path);
    else if (typeof type.type === 'object') visit(type.type, path);
  };
  visit(schema, '');
  const top = schema as { fields?: FieldJson[] };
  const key = top.fields?.find((f) => f.name === keyField);
  if (!key) problems.push(`key field "${keyField}" is missing`);
  else if (key.type !== 'string') problems.push(`key field "${keyField}" must be a required string`);
  return problems;
}

export interface KindReport {
  topic: string;
  versions: number;
  problems: string[];
}

export function checkKind(kind: RecordKind, root = SCHEMAS_DIR): KindReport {
  const versions = schemaVersions(kind, root);
  const problems: string[] = [];
  if (versions.length === 0)
    problems.push(`no schema files (expected ${kind.topic.replace('.', '/')}/v1.avsc)`);
  const parsed: { version: number; type: ReturnType<typeof parseAvroSchema>['type'] }[] = [];
  versions.forEach((v, i) => {
    const file = relative(root, v.path);
    if (v.version !== i + 1) problems.push(`${file}: versions must be v1, v2, … without gaps`);
    try {
      const { type } = parseAvroSchema(v.text);
      for (const p of lintSchema(JSON.parse(v.text), kind.key)) problems.push(`${file}: ${p}`);
      const report = checkCompatibility(kind.compatibility, type, parsed);
      for (const m of report.messages) problems.push(`${file}: incompatible with an earlier version: ${m}`);
      parsed.push({ version: v.version, type });
    } catch (error) {
      problems.push(
        `${file}: ${error instanceof InvalidSchemaError ? error.message : (error as Error).message}`,
      );
    }
  });
  return { topic: kind.topic, versions: versions.length, problems };
}

export function checkAll(root = SCHEMAS_DIR, kinds = RECORD_KINDS): KindReport[] {
  return kinds.map((kind) => checkKind(kind, root));
}
