/**
 * Conversations and their messages. Freshchat lists no conversations account-wide (SOURCES.md),
 * so they are found through users: `GET /users/{id}/conversations` → ids → `GET
 * /conversations/{id}`, then that conversation's messages down to its cursor.
 *
 * One conversation is one emit: the conversation (when its content changed), its new messages
 * in chronological order, and its offset `{resource: conversations, id}` → `{h, u, t, ids}`
 * (fingerprint, updated_time, newest message time, ids at that time). Messages are fetched only
 * when the conversation's updated_time moved (that a new message moves it is inferred, not
 * documented: FRESHCHAT_MESSAGES_EVERY_PASS checks every conversation), or on its first pass;
 * `u` moves only once its messages were read completely, so an update whose messages could
 * not be read is read again next pass.
 *
 * Each user's list and each conversation are requested on their own (perEntity): one that
 * keeps failing marks the resource incomplete and one refused with 400 is skipped, but neither
 * stops the others.
 */
import { FreshchatUnavailableError } from '../errors.ts';
import { contentHash, forEachConcurrent, idText, perEntity, type SyncContext } from '../sync-context.ts';
import { normalizeConversation } from './normalize.ts';

type Json = Record<string, unknown>;

interface ConversationOffset {
  h?: string;
  u?: string;
  t?: string;
  ids?: string[];
}

/** Every user this source has written (ids from the committed per-user offsets). */
export function knownUsers(s: SyncContext): string[] {
  return s.runtime
    .offsets({ resource: 'users' })
    .map((o) => o.partition.id)
    .filter((id): id is string => typeof id === 'string');
}

export async function syncConversations(s: SyncContext): Promise<void> {
  const users = knownUsers(s);
  s.progress.totals.users_walked = users.length;
  try {
    await forEachConcurrent(
      users,
      s.settings.concurrency,
      (user) => syncUserConversations(s, user),
      s.runtime.signal,
    );
  } finally {
    // Every conversation handed over is committed (or has failed) before the step ends.
    await s.window.drain();
  }
}

async function syncUserConversations(s: SyncContext, user: string): Promise<void> {
  const ids = await perEntity(s, 'conversations', { user }, () => userConversationIds(s, user));
  for (const id of ids ?? []) {
    if (s.runtime.signal.aborted) return;
    // A conversation with several users is listed under each: handle it once per pass.
    if (s.handled.has(id)) continue;
    s.handled.add(id);
    await perEntity(s, 'conversations', { conversation: id }, () => syncConversation(s, id));
  }
}

/**
 * A user's conversation ids. Whether this list is paged is unconfirmed: with
 * `pagination.total_pages` up to it; without, on while pages are full and bring new ids (a
 * server that ignores `page` answers the same ids again, which ends it).
 */
async function userConversationIds(s: SyncContext, user: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for (let page = 1; page < 10_000; page++) {
    const body = await s.client.get<{ conversations?: unknown; pagination?: { total_pages?: unknown } }>(
      'user_conversations',
      `/users/${encodeURIComponent(user)}/conversations`,
      { page, items_per_page: s.settings.pageSize },
    );
    s.progress.pages++;
    if (body === undefined) {
      if (page === 1) s.log.warn('user not found; skipping their conversations', { user });
      break;
    }
    const list = Array.isArray(body.conversations) ? body.conversations : [];
    const before = ids.size;
    for (const c of list as Json[]) {
      const id = idText(c?.id) ?? idText(c?.conversation_id);
      if (id) ids.add(id);
    }
    const total = body.pagination?.total_pages;
    if (typeof total === 'number' ? page >= total : list.length < s.settings.pageSize) break;
    if (list.length === 0 || ids.size === before) break;
  }
  return ids;
}

export async function syncConversation(s: SyncContext, id: string): Promise<void> {
  const raw = await s.client.get<Json>('conversation', `/conversations/${encodeURIComponent(id)}`);
  if (raw === undefined || raw === null || typeof raw !== 'object') {
    s.log.warn('conversation not found; skipped', { conversation: id });
    return;
  }
  const conversation = normalizeConversation(raw, id);
  const offset = (s.runtime.offset({ resource: 'conversations', id }) ?? {}) as ConversationOffset;
  const h = contentHash(conversation);
  const updated = typeof conversation.updated_time === 'string' ? conversation.updated_time : undefined;
  const wantMessages =
    s.enabled('messages') &&
    (offset.u === undefined || offset.u !== updated || s.backfill || s.settings.messagesEveryPass);
  const messages = wantMessages
    ? await newMessages(s, id, offset)
    : { complete: true, list: [], t: offset.t, ids: offset.ids };
  const conversationChanged = s.enabled('conversations') && offset.h !== h;
  // Each part of the cursor moves only with what it stands for: `h` once the conversation is
  // written, `u` once the messages of that update were read completely.
  const next: ConversationOffset = {
    h: s.enabled('conversations') ? h : offset.h,
    u: s.enabled('messages') && messages.complete ? updated : offset.u,
    t: messages.t,
    ids: messages.ids,
  };
  if (!conversationChanged && messages.list.length === 0 && sameOffset(next, offset)) return;
  // Not waiting for the commit: the next conversation is fetched meanwhile, and many
  // conversations share one transaction. Each one's offset still commits with its records.
  await s.window.emit(
    {
      records: [
        ...(conversationChanged ? [{ kind: 'freshchat.conversations', value: conversation }] : []),
        ...messages.list.map((value) => ({ kind: 'freshchat.messages', value })),
      ],
      offsets: [{ partition: { resource: 'conversations', id }, offset: { ...next } }],
    },
    () => {
      if (conversationChanged) s.progress.records.conversations = (s.progress.records.conversations ?? 0) + 1;
      s.progress.records.messages = (s.progress.records.messages ?? 0) + messages.list.length;
    },
  );
}

function sameOffset(a: ConversationOffset, b: ConversationOffset): boolean {
  return (
    a.h === b.h && a.u === b.u && a.t === b.t && JSON.stringify(a.ids ?? []) === JSON.stringify(b.ids ?? [])
  );
}

const timeOf = (m: Json): number =>
  typeof m.created_time === 'string' ? Date.parse(m.created_time) : Number.NaN;

export type MessageOrder = 'newest-first' | 'oldest-first';

/**
 * The order a messages page lists in, from the items: its first and last `created_time`, or,
 * when those tie (one item, one instant), the previous page's last item against this page's
 * first. Undefined while it cannot be told.
 */
export function messageOrder(page: Json[], previousLast?: Json): MessageOrder | undefined {
  const compare = (a: Json | undefined, b: Json | undefined): MessageOrder | undefined => {
    if (!a || !b) return undefined;
    const [ta, tb] = [timeOf(a), timeOf(b)];
    if (Number.isNaN(ta) || Number.isNaN(tb) || ta === tb) return undefined;
    return ta > tb ? 'newest-first' : 'oldest-first';
  };
  return compare(page[0], page.at(-1)) ?? compare(previousLast, page[0]);
}

const MAX_MESSAGE_PAGES = 100_000;

/**
 * Messages newer than the cursor, oldest first. Freshchat is inferred to list newest first and
 * may or may not honour `from_time`; the order is read from the items (messageOrder). Newest
 * first, paging stops at the first page reaching a message older than the cursor (new messages
 * arriving meanwhile shift pages by a few items: that only repeats messages, dropped by id).
 * Oldest first (or not yet known), older messages are passed over and paging goes on to the
 * end: `pagination.total_pages`, else a short page, or an empty one.
 *
 * `complete` is false when the list could not be read (404 on its first page): the caller keeps
 * the cursor. An answer without a `messages` list throws FreshchatUnavailableError.
 */
async function newMessages(
  s: SyncContext,
  conversation: string,
  offset: ConversationOffset,
): Promise<{ complete: boolean; list: Json[]; t: string | undefined; ids: string[] | undefined }> {
  const cursorTime = offset.t === undefined ? Number.NEGATIVE_INFINITY : Date.parse(offset.t);
  const seenAtCursor = new Set(offset.ids ?? []);
  const found = new Map<string, Json>();
  const listed = new Set<string>();
  const pageSize = s.settings.messagesPageSize;
  const path = `/conversations/${encodeURIComponent(conversation)}/messages`;
  let order: MessageOrder | undefined;
  let previousLast: Json | undefined;
  for (let page = 1; ; page++) {
    if (page > MAX_MESSAGE_PAGES)
      throw new FreshchatUnavailableError(`GET ${path} did not end within ${MAX_MESSAGE_PAGES} pages`);
    const body = await s.client.get<{ messages?: unknown; pagination?: { total_pages?: unknown } }>(
      'messages',
      path,
      {
        page,
        items_per_page: pageSize,
        ...(offset.t === undefined || s.backfill ? {} : { from_time: offset.t }),
      },
    );
    s.progress.pages++;
    if (body === undefined) {
      if (page > 1) break; // the list ended (404 / WRONG_PAGE past its last page)
      s.log.warn('messages of a conversation not found; they are read again next pass', { conversation });
      return { complete: false, list: [], t: offset.t, ids: offset.ids };
    }
    if (!Array.isArray(body.messages))
      throw new FreshchatUnavailableError(
        `GET ${path} page ${page} answered without a "messages" list: ${JSON.stringify(body).slice(0, 200)}`,
      );
    const list = body.messages.filter((m): m is Json => m !== null && typeof m === 'object');
    if (list.length === 0) break;
    order ??= messageOrder(list, previousLast);
    previousLast = list.at(-1);
    let repeated = true;
    let reachedCursor = false;
    for (const message of list) {
      const id = idText(message.id);
      if (!id) continue;
      if (!listed.has(id)) repeated = false;
      listed.add(id);
      const t = timeOf(message);
      if (t < cursorTime) {
        reachedCursor = true;
        continue;
      }
      if (t === cursorTime && seenAtCursor.has(id)) continue;
      found.set(id, message);
    }
    if (repeated && page > 1) {
      // The server ignores `page`. Newest first, page 1 held the newest: nothing was missed.
      if (order === 'oldest-first')
        throw new FreshchatUnavailableError(
          `GET ${path} answered page ${page} with the messages of earlier pages (oldest first): the newest cannot be reached`,
        );
      break;
    }
    if (reachedCursor && order === 'newest-first') break;
    const total = body.pagination?.total_pages;
    if (typeof total === 'number' ? page >= total : list.length < pageSize) break;
  }
  const list = [...found.values()].sort((a, b) => (timeOf(a) || 0) - (timeOf(b) || 0));
  const last = list.at(-1);
  if (!last) return { complete: true, list, t: offset.t, ids: offset.ids };
  const lastTime = timeOf(last);
  const t = typeof last.created_time === 'string' ? last.created_time : offset.t;
  const atLast = list.filter((m) => timeOf(m) === lastTime).map((m) => String(m.id));
  // Messages at the same instant as the old cursor stay remembered too.
  const ids = lastTime === cursorTime ? [...seenAtCursor, ...atLast] : atLast;
  return { complete: true, list, t, ids };
}
