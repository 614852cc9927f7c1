/**
 * What every Freshchat resource sync shares in one pass: the client, the settings, the
 * runtime context (committed offsets, emit), progress counters, and small helpers — content
 * hashes for change detection and a bounded parallel loop.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../../core/log.ts';
import { canonicalJson } from '../runtime/offsets.ts';
import type { SourceContext, SourceOffset, SourcePage, SourcePartition } from '../source.ts';
import type { FreshchatClient } from './client.ts';
import type { FreshchatSettings, Resource } from './config.ts';
import { FreshchatBadRequestError, FreshchatUnavailableError } from './errors.ts';

export interface Progress {
  /** Records emitted (committed) per resource. */
  records: Record<string, number>;
  pages: number;
  /** Known totals (e.g. users' pagination.total_items), for an ETA. */
  totals: Record<string, number>;
  /** Resources that could not finish this pass, with the reason. */
  incomplete: Record<string, string>;
  /** Entities skipped for good this pass: a per-entity request refused with 400 (e.g. an odd legacy id). */
  skipped: number;
}

/**
 * Emits that do not wait for their commit, up to `size` at once: a step that walks many
 * entities (conversations) hands each one's page over and goes on, so pages queue up and the
 * runtime commits many in one transaction instead of one per entity. Order is kept (the
 * runtime commits in emit order). The first failure is thrown by the next emit and by drain;
 * drain waits for every emit of the step.
 */
export class EmitWindow {
  private readonly runtime: SourceContext;
  private readonly size: number;
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;

  constructor(runtime: SourceContext, size: number) {
    this.runtime = runtime;
    this.size = size;
  }

  async emit(page: SourcePage, onCommitted?: () => void): Promise<void> {
    while (this.inFlight.size >= this.size && this.failure === undefined) {
      this.runtime.flush?.(); // waiting for the oldest: its linger would only add to the wait
      await Promise.race(this.inFlight);
    }
    if (this.failure !== undefined) throw this.failure;
    const done: Promise<void> = this.runtime
      .emit(page, { linger: true })
      .then(onCommitted, (error: unknown) => {
        this.failure ??= error;
      })
      .finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
  }

  async drain(): Promise<void> {
    if (this.inFlight.size > 0) this.runtime.flush?.();
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
    if (this.failure !== undefined) throw this.failure;
  }
}

export interface SyncContext {
  client: FreshchatClient;
  settings: FreshchatSettings;
  runtime: SourceContext;
  /** Emits that go on without waiting for their commit (see EmitWindow). */
  window: EmitWindow;
  /** Conversations already handled in this pass. */
  handled: Set<string>;
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

interface Failures {
  /** Per-entity failures per resource this pass. */
  total: Record<string, number>;
  /** Failures since the last success per resource: the API is down rather than one entity odd. */
  inARow: Record<string, number>;
}

const failures = new WeakMap<Progress, Failures>();

function failuresOf(progress: Progress): Failures {
  let f = failures.get(progress);
  if (!f) {
    f = { total: {}, inARow: {} };
    failures.set(progress, f);
  }
  return f;
}

/** Marks a resource incomplete for this pass (its cursors stay), counting the failures. */
export function markIncomplete(progress: Progress, resource: string, reason: string): void {
  const total = failuresOf(progress).total;
  total[resource] = (total[resource] ?? 0) + 1;
  progress.incomplete[resource] =
    total[resource] === 1 ? reason : `${total[resource]} requests failed, the last: ${reason}`;
}

/** Per-entity failures in a row after which the API is taken as down and the resource gives up. */
export const FAILURES_IN_A_ROW = 5;

/**
 * Runs the requests for one entity (a user's conversation list, one conversation and its
 * messages) so that it cannot stop the others: retries used up (FreshchatUnavailableError) →
 * warn and mark the resource incomplete (its cursor for this entity stays, so the next pass
 * tries again); a 400 (an id the API refuses) → warn and count it in `progress.skipped`.
 * Anything else (401/403, a stop, Kafka) is thrown, and so is the FAILURES_IN_A_ROW-th
 * failure without a success between: then the API is down, not one entity odd, and the
 * resource stops for this pass instead of spending every entity's retries. Undefined when the
 * entity was given up.
 */
export async function perEntity<T>(
  s: SyncContext,
  resource: string,
  entity: Record<string, string>,
  fn: () => Promise<T>,
): Promise<T | undefined> {
  const inARow = failuresOf(s.progress).inARow;
  try {
    const result = await fn();
    inARow[resource] = 0;
    return result;
  } catch (error) {
    if (s.runtime.signal.aborted) throw error;
    if (error instanceof FreshchatUnavailableError) {
      inARow[resource] = (inARow[resource] ?? 0) + 1;
      if (inARow[resource] >= FAILURES_IN_A_ROW) throw error;
      s.log.warn('could not fetch one entity; the others go on, it is tried again next pass', {
        resource,
        ...entity,
        error: error.message,
      });
      markIncomplete(s.progress, resource, error.message);
      return undefined;
    }
    if (error instanceof FreshchatBadRequestError) {
      s.log.warn('Freshchat refused the request for one entity (400); skipped', {
        resource,
        ...entity,
        error: error.message,
      });
      s.progress.skipped++;
      return undefined;
    }
    throw error;
  }
}

/** A short, stable fingerprint of a JSON value (keys sorted), to tell changed entities from unchanged ones. */
export function contentHash(value: unknown): string {
  return createHash('sha1').update(canonicalJson(value)).digest('hex').slice(0, 16);
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
