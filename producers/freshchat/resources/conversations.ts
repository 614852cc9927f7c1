/**
 * Conversations and their messages. Freshchat lists no conversations account-wide (SOURCES.md),
 * so they are found through users: `GET /users/{id}/conversations` → ids → `GET
 * /conversations/{id}`, then that conversation's messages, newest first, down to its cursor.
 *
 * One conversation is one emit: the conversation (when its content changed), its new messages
 * in chronological order, and its offset `{resource: conversations, id}` → `{h, u, t, ids}`
 * (fingerprint, updated_time, newest message time, ids at that time). Messages are fetched only
 * when the conversation's updated_time moved (that a new message moves it is inferred, not
 * documented: FRESHCHAT_MESSAGES_EVERY_PASS checks every conversation), or on its first pass.
 */
import { contentHash, forEachConcurrent, idText, type SyncContext } from '../sync-context.ts';
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
  await forEachConcurrent(
    users,
    s.settings.concurrency,
    (user) => syncUserConversations(s, user),
    s.runtime.signal,
  );
}

async function syncUserConversations(s: SyncContext, user: string): Promise<void> {
  const ids = new Set<string>();
  for (let page = 1; page < 10_000; page++) {
    const body = await s.client.get<{ conversations?: unknown; pagination?: { total_pages?: number } }>(
      'user_conversations',
      `/users/${encodeURIComponent(user)}/conversations`,
      { page, items_per_page: s.settings.pageSize },
    );
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
    // One page unless the answer says there are more (its paging is unconfirmed).
    const total = body.pagination?.total_pages;
    if (
      typeof total !== 'number' ||
      page >= total ||
      list.length < s.settings.pageSize ||
      ids.size === before
    )
      break;
  }
  s.progress.pages++;
  for (const id of ids) {
    if (s.runtime.signal.aborted) return;
    await syncConversation(s, id);
  }
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
    : { list: [], t: offset.t, ids: offset.ids };
  const conversationChanged = s.enabled('conversations') && offset.h !== h;
  if (!conversationChanged && messages.list.length === 0 && offset.u === updated && offset.h === h) return;
  const next: ConversationOffset = { h, u: updated, t: messages.t, ids: messages.ids };
  await s.runtime.emit({
    records: [
      ...(conversationChanged ? [{ kind: 'freshchat.conversations', value: conversation }] : []),
      ...messages.list.map((value) => ({ kind: 'freshchat.messages', value })),
    ],
    offsets: [{ partition: { resource: 'conversations', id }, offset: { ...next } }],
  });
  if (conversationChanged) s.progress.records.conversations = (s.progress.records.conversations ?? 0) + 1;
  s.progress.records.messages = (s.progress.records.messages ?? 0) + messages.list.length;
}

const timeOf = (m: Json): number =>
  typeof m.created_time === 'string' ? Date.parse(m.created_time) : Number.NaN;

/**
 * Messages newer than the cursor, oldest first. Pages come newest first; paging stops at the
 * first message older than the cursor. New messages arriving meanwhile shift pages by a few
 * items: that only repeats messages (dropped by id), never skips one.
 */
async function newMessages(
  s: SyncContext,
  conversation: string,
  offset: ConversationOffset,
): Promise<{ list: Json[]; t: string | undefined; ids: string[] | undefined }> {
  const cursorTime = offset.t === undefined ? Number.NEGATIVE_INFINITY : Date.parse(offset.t);
  const seenAtCursor = new Set(offset.ids ?? []);
  const found = new Map<string, Json>();
  const pageSize = s.settings.messagesPageSize;
  let reachedCursor = false;
  for (let page = 1; page < 100_000 && !reachedCursor; page++) {
    const body = await s.client.get<{ messages?: unknown }>(
      'messages',
      `/conversations/${encodeURIComponent(conversation)}/messages`,
      {
        page,
        items_per_page: pageSize,
        ...(offset.t === undefined || s.backfill ? {} : { from_time: offset.t }),
      },
    );
    s.progress.pages++;
    if (body === undefined) break;
    const list = (Array.isArray(body.messages) ? body.messages : []).filter(
      (m): m is Json => m !== null && typeof m === 'object',
    );
    let fresh = 0;
    for (const message of list) {
      const id = idText(message.id);
      if (!id) continue;
      const t = timeOf(message);
      if (t < cursorTime) {
        reachedCursor = true;
        continue;
      }
      if (t === cursorTime && seenAtCursor.has(id)) continue;
      if (!found.has(id)) fresh++;
      found.set(id, message);
    }
    if (list.length < pageSize || (fresh === 0 && list.length > 0 && page > 1)) break;
  }
  const list = [...found.values()].sort((a, b) => (timeOf(a) || 0) - (timeOf(b) || 0));
  const last = list.at(-1);
  if (!last) return { list, t: offset.t, ids: offset.ids };
  const lastTime = timeOf(last);
  const t = typeof last.created_time === 'string' ? last.created_time : offset.t;
  const atLast = list.filter((m) => timeOf(m) === lastTime).map((m) => String(m.id));
  // Messages at the same instant as the old cursor stay remembered too.
  const ids = lastTime === cursorTime ? [...seenAtCursor, ...atLast] : atLast;
  return { list, t, ids };
}
