/**
 * Users, incrementally: `GET /users?created_from=<cursor>&created_to=<now>` page by page. Each
 * page's new or changed users are committed with their fingerprints; the `created_from` cursor
 * moves only when the list provably ended (listPages returned: total_pages reached, or a short
 * or empty page without total_pages), so a pass cut short (a crash, a restart, an answer that
 * cannot be paged on) lists the same range again and the fingerprints skip what was already
 * written — whatever order the API lists users in. Users have no documented updated filter: an
 * edit shows only when a pass lists the user again (see FRESHCHAT_SINCE / backfill).
 *
 * A backfill lists from --since; it moves the cursor only when it started at or before it, so
 * a backfill from a later date never jumps the cursor over users it did not list.
 */
import { listPages } from '../paging.ts';
import { changed, emitEntities, idText, type SyncContext } from '../sync-context.ts';

type Json = Record<string, unknown>;

export const USERS_CURSOR = { resource: 'users', cursor: 'created_from' };

/** An ISO-8601 time as UTC with a `Z` (a `+05:30` offset is never sent back raw); undefined if unparsable. */
export function isoUtc(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

export async function syncUsers(s: SyncContext): Promise<void> {
  const cursor = s.runtime.offset(USERS_CURSOR);
  const stored = isoUtc(cursor?.created_from);
  const createdFrom = s.backfill || !stored ? s.since : stored;
  const createdTo = new Date().toISOString();
  let newest = Date.parse(createdFrom);
  for await (const page of listPages<Json>(s.client, {
    endpoint: 'users',
    path: '/users',
    key: 'users',
    pageSize: s.settings.pageSize,
    query: { created_from: createdFrom, created_to: createdTo },
  })) {
    s.progress.pages++;
    if (page.totalItems !== undefined) s.progress.totals.users = page.totalItems;
    const users = page.items.filter((u): u is Json => u !== null && typeof u === 'object');
    for (const user of users) {
      const created = isoUtc(user.created_time);
      if (created && Date.parse(created) > newest) newest = Date.parse(created);
    }
    await emitEntities(
      s,
      'users',
      'freshchat.users',
      changed(s, 'users', users, (u) => idText(u.id)),
    );
    if (s.runtime.signal.aborted) return;
  }
  // The list ended: everything created in [createdFrom, createdTo] was listed. The next pass
  // starts at the newest user seen (inclusive; the fingerprints skip those seen again) — unless
  // this was a backfill from after the cursor, which did not list [stored, since).
  if (stored !== undefined && Date.parse(createdFrom) > Date.parse(stored)) return;
  const next = new Date(Math.max(newest, stored === undefined ? newest : Date.parse(stored))).toISOString();
  if (next !== cursor?.created_from)
    await s.runtime.emit({
      records: [],
      offsets: [{ partition: USERS_CURSOR, offset: { created_from: next } }],
    });
}
