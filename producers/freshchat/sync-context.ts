/**
 * What every Freshchat resource sync shares in one pass: the client, the settings, the
 * runtime context (committed offsets, emit), progress counters, and small helpers — content
 * hashes for change detection and a bounded parallel loop.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../../core/log.ts';
import type { SourceContext, SourceOffset, SourcePartition } from '../source.ts';
import type { FreshchatClient } from './client.ts';
import type { FreshchatSettings, Resource } from './config.ts';

export interface Progress {
  /** Records emitted (committed) per resource. */
  records: Record<string, number>;
  pages: number;
  /** Known totals (e.g. users' pagination.total_items), for an ETA. */
  totals: Record<string, number>;
  /** Resources that could not finish this pass, with the reason. */
  incomplete: Record<string, string>;
}

export interface SyncContext {
  client: FreshchatClient;
  settings: FreshchatSettings;
  runtime: SourceContext;
  log: Logger;
  /** Start of a first sync (ISO-8601): users' created_from, the first report window. */
  since: string;
  /** A backfill re-lists from `since` whatever the cursors say (fingerprints still skip what is unchanged). */
  backfill: boolean;
  progress: Progress;
  enabled(resource: Resource): boolean;
  /** Warns once per pass that the account lacks an endpoint (404 on the list itself). */
  unavailable(resource: string, path: string): void;
}

/** A short, stable fingerprint of a JSON value (keys sorted), to tell changed entities from unchanged ones. */
export function contentHash(value: unknown): string {
  return createHash('sha1').update(stableJson(value)).digest('hex').slice(0, 16);
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value as object).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Runs fn over items with at most `limit` at once; the first error stops new work and is thrown. */
export async function forEachConcurrent<T>(
  items: Iterable<T>,
  limit: number,
  fn: (item: T) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const iterator = items[Symbol.iterator]();
  let failed: unknown;
  const worker = async () => {
    for (let next = iterator.next(); !next.done; next = iterator.next()) {
      if (failed !== undefined || signal?.aborted) return;
      try {
        await fn(next.value);
      } catch (error) {
        failed ??= error;
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
  if (failed !== undefined) throw failed;
}

/** Emits records of one kind with their per-entity offsets (`{resource, id} → {h: hash, …}`). */
export async function emitEntities(
  s: SyncContext,
  resource: string,
  kind: string,
  entities: { id: string; value: Record<string, unknown>; offset: SourceOffset }[],
  extraOffsets: { partition: SourcePartition; offset: SourceOffset | null }[] = [],
): Promise<void> {
  if (entities.length === 0 && extraOffsets.length === 0) return;
  await s.runtime.emit({
    records: entities.map((e) => ({ kind, value: e.value })),
    offsets: [
      ...entities.map((e) => ({ partition: { resource, id: e.id }, offset: e.offset })),
      ...extraOffsets,
    ],
  });
  s.progress.records[resource] = (s.progress.records[resource] ?? 0) + entities.length;
}

/** Entities whose content differs from what the committed offsets remember. */
export function changed<T extends Record<string, unknown>>(
  s: SyncContext,
  resource: string,
  items: T[],
  idOf: (item: T) => string | undefined,
): { id: string; value: T; offset: SourceOffset }[] {
  const out: { id: string; value: T; offset: SourceOffset }[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    const id = idOf(item);
    if (id === undefined || id === '' || seen.has(id)) continue;
    seen.add(id);
    const h = contentHash(item);
    if (s.runtime.offset({ resource, id })?.h !== h) out.push({ id, value: item, offset: { h } });
  }
  return out;
}

export function idText(value: unknown): string | undefined {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
}
