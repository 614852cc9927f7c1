/**
 * The registry's state, rebuilt by applying `_schemas` records in topic order. Every instance
 * that reads the same topic ends in the same state: the same subjects, versions and ids.
 */
import type { RegistryRecord, SchemaValue } from './records.ts';

export type Entry = SchemaValue;

export class RegistryState {
  /** subject → version → entry (soft-deleted entries stay, flagged). */
  private readonly subjects = new Map<string, Map<number, Entry>>();
  /** canonical schema → id, and id → how many entries use it. */
  private readonly idOfSchema = new Map<string, number>();
  private readonly schemaOfId = new Map<number, { schema: string; schemaType?: string }>();
  private readonly uses = new Map<number, number>();
  private readonly configs = new Map<string | null, string>();
  private readonly modes = new Map<string | null, string>();
  maxId = 0;

  apply(record: RegistryRecord): void {
    switch (record.keytype) {
      case 'SCHEMA':
        if (record.value) this.put(record.value);
        else this.remove(record.subject, record.version);
        return;
      case 'CONFIG':
        if (record.value) this.configs.set(record.subject, record.value.compatibilityLevel);
        else this.configs.delete(record.subject);
        return;
      case 'MODE':
        if (record.value) this.modes.set(record.subject, record.value.mode);
        else this.modes.delete(record.subject);
        return;
      case 'DELETE_SUBJECT':
        if (record.value) {
          for (const entry of this.subjects.get(record.subject)?.values() ?? []) {
            if (entry.version <= record.value.version) entry.deleted = true;
          }
        }
        return;
      case 'CLEAR_SUBJECT':
        if (record.value) {
          for (const entry of [...(this.subjects.get(record.subject)?.values() ?? [])]) {
            if (entry.version <= record.value.version) this.remove(record.subject, entry.version);
          }
        }
        return;
      case 'NOOP':
        return;
    }
  }

  private put(value: Entry): void {
    const versions = this.subjects.get(value.subject) ?? new Map<number, Entry>();
    this.subjects.set(value.subject, versions);
    const previous = versions.get(value.version);
    if (previous) this.release(previous.id);
    versions.set(value.version, { ...value });
    this.uses.set(value.id, (this.uses.get(value.id) ?? 0) + 1);
    this.schemaOfId.set(value.id, {
      schema: value.schema,
      ...(value.schemaType ? { schemaType: value.schemaType } : {}),
    });
    if (!this.idOfSchema.has(value.schema)) this.idOfSchema.set(value.schema, value.id);
    this.maxId = Math.max(this.maxId, value.id);
  }

  private remove(subject: string, version: number): void {
    const versions = this.subjects.get(subject);
    const entry = versions?.get(version);
    if (!versions || !entry) return;
    versions.delete(version);
    if (versions.size === 0) this.subjects.delete(subject);
    this.release(entry.id);
  }

  private release(id: number): void {
    const left = (this.uses.get(id) ?? 1) - 1;
    if (left > 0) {
      this.uses.set(id, left);
      return;
    }
    this.uses.delete(id);
    const schema = this.schemaOfId.get(id)?.schema;
    this.schemaOfId.delete(id);
    if (schema !== undefined && this.idOfSchema.get(schema) === id) this.idOfSchema.delete(schema);
  }

  /** Subject names; with `deleted`, also subjects whose versions are all soft-deleted. */
  subjectNames(deleted = false): string[] {
    return [...this.subjects.entries()]
      .filter(([, versions]) => deleted || [...versions.values()].some((e) => !e.deleted))
      .map(([name]) => name)
      .sort();
  }

  /** A subject's entries by ascending version; soft-deleted ones only when asked. */
  versions(subject: string, deleted = false): Entry[] {
    return [...(this.subjects.get(subject)?.values() ?? [])]
      .filter((e) => deleted || !e.deleted)
      .sort((a, b) => a.version - b.version);
  }

  hasSubject(subject: string): boolean {
    return this.subjects.has(subject);
  }

  schemaById(id: number): { schema: string; schemaType?: string } | undefined {
    return this.schemaOfId.get(id);
  }

  idOf(canonical: string): number | undefined {
    return this.idOfSchema.get(canonical);
  }

  /** (subject, version) pairs using an id. */
  usesOf(id: number, deleted = false): Entry[] {
    const out: Entry[] = [];
    for (const versions of this.subjects.values()) {
      for (const entry of versions.values())
        if (entry.id === id && (deleted || !entry.deleted)) out.push(entry);
    }
    return out.sort((a, b) => a.subject.localeCompare(b.subject) || a.version - b.version);
  }

  config(subject: string | null): string | undefined {
    return this.configs.get(subject);
  }

  mode(subject: string | null): string | undefined {
    return this.modes.get(subject);
  }

  isEmpty(): boolean {
    return this.subjects.size === 0;
  }
}
