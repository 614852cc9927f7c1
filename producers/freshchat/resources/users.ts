/**
 * Users, incrementally: `GET /users?created_from=<cursor>&created_to=<now>` page by page. Each
 * page's new or changed users are committed with their fingerprints; the `created_from` cursor
 * moves only at the end of a complete pass, so a pass cut short (a crash, a restart) lists the
 * same range again and the fingerprints skip what was already written — whatever order the API
 * lists users in. Users have no documented updated filter: an edit shows only when a pass lists
 * the user again (see FRESHCHAT_SINCE / backfill).
 */
import { listPages } from '../paging.ts';
import { changed, emitEntities, idText, type SyncContext } from '../sync-context.ts';

type Json = Record<string, unknown>;

export const USERS_CURSOR = { resource: 'users', cursor: 'created_from' };

export async function syncUsers(s: SyncContext): Promise<void> {
  const cursor = s.runtime.offset(USERS_CURSOR);
  const stored = typeof cursor?.created_from === 'string' ? cursor.created_from : undefined;
  const createdFrom = s.backfill || !stored ? s.since : stored;
  const createdTo = new Date().toISOString();
  let newest = createdFrom;
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
      const created = typeof user.created_time === 'string' ? user.created_time : undefined;
      if (created && Date.parse(created) > Date.parse(newest)) newest = created;
    }
    await emitEntities(
      s,
      'users',
      'freshchat.users',
      changed(s, 'users', users, (u) => idText(u.id)),
    );
    if (s.runtime.signal.aborted) return;
  }
  // The pass listed everything created up to `createdTo`: the next one starts at the newest
  // user seen (inclusive; the fingerprints skip those seen again).
  if (newest !== stored)
    await s.runtime.emit({
      records: [],
      offsets: [{ partition: USERS_CURSOR, offset: { created_from: newest } }],
    });
}
