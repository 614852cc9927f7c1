import { Readable } from 'node:stream';
import { loadSettings } from '../../core/config.ts';
import type { FreshchatClient } from '../../producers/freshchat/client.ts';
import { freshchatSettings } from '../../producers/freshchat/config.ts';
import type { MessageOrder } from '../../producers/freshchat/resources/conversations.ts';
import { EmitWindow, type SyncContext } from '../../producers/freshchat/sync-context.ts';
import type { SourceContext, SourceOffset, SourcePage, SourcePartition } from '../../producers/source.ts';
import { quiet } from './simulator.ts';

export { quiet };

export type Route = (query: Record<string, unknown>, body?: unknown) => unknown;

/** A fake client answering by "METHOD path" (a function of the query, or a value); undefined = 404. */
export function routedClient(routes: Record<string, unknown>, requests: string[] = []): FreshchatClient {
  const answer = async (method: string, path: string, query: Record<string, unknown>, body?: unknown) => {
    requests.push(`${method} ${path}${query.page === undefined ? '' : ` page=${query.page}`}`);
    const route = routes[`${method} ${path}`];
    const value = typeof route === 'function' ? await (route as Route)(query, body) : route;
    if (value instanceof Error) throw value;
    return value;
  };
  return {
    origin: 'http://api.test/v2',
    get: (_e: string, path: string, query: Record<string, unknown> = {}) => answer('GET', path, query),
    post: (_e: string, path: string, body: unknown) => answer('POST', path, {}, body),
    download: async (url: string) => {
      const route = routes[`DOWNLOAD ${url}`];
      return typeof route === 'function' ? (route as () => Readable)() : Readable.from([String(route)]);
    },
  } as unknown as FreshchatClient;
}

export interface Harness {
  s: SyncContext;
  pages: SourcePage[];
  offset(partition: SourcePartition): SourceOffset | undefined;
}

export function harness(
  client: FreshchatClient,
  options: {
    offsets?: [SourcePartition, SourceOffset][];
    backfill?: boolean;
    since?: string;
    env?: Record<string, string>;
  } = {},
): Harness {
  const key = (p: SourcePartition) => JSON.stringify(Object.entries(p).sort());
  const store = new Map<string, { partition: SourcePartition; offset: SourceOffset }>();
  for (const [partition, offset] of options.offsets ?? []) store.set(key(partition), { partition, offset });
  const pages: SourcePage[] = [];
  const runtime: SourceContext = {
    offset: (p) => store.get(key(p))?.offset,
    offsets: (match) =>
      [...store.values()].filter((e) => Object.entries(match).every(([k, v]) => e.partition[k] === v)),
    emit: async (page) => {
      pages.push(structuredClone(page));
      for (const o of page.offsets ?? [])
        if (o.offset === null) store.delete(key(o.partition));
        else store.set(key(o.partition), { partition: o.partition, offset: o.offset });
    },
    signal: new AbortController().signal,
    log: quiet,
  };
  const { freshchat: settings } = loadSettings({ freshchat: freshchatSettings }, { env: options.env ?? {} });
  const s: SyncContext = {
    client,
    settings,
    runtime,
    window: new EmitWindow(runtime, 4),
    handled: new Set(),
    log: quiet,
    since: options.since ?? '2025-01-01T00:00:00.000Z',
    backfill: options.backfill ?? false,
    progress: { records: {}, pages: 0, totals: {}, incomplete: {}, skipped: 0 },
    enabled: () => true,
    unavailable: () => undefined,
  };
  return { s, pages, offset: runtime.offset };
}

export const written = (pages: SourcePage[], kind: string) =>
  pages.flatMap((p) => p.records.filter((r) => r.kind === kind).map((r) => r.value));

// Messages 1..12 of conversation c1, one a minute.
export const at = (i: number) => new Date(Date.parse('2025-06-01T00:00:00.000Z') + i * 60_000).toISOString();
export const message = (i: number) => ({ id: `m${i}`, created_time: at(i), conversation_id: 'c1' });

/** The messages endpoint of a server listing oldest or newest first, ignoring from_time. */
export function messagesRoute(count: number, order: MessageOrder, withPagination = false): Route {
  return (query) => {
    const all = Array.from({ length: count }, (_, i) => message(i + 1));
    if (order === 'newest-first') all.reverse();
    const size = Number(query.items_per_page);
    const page = Number(query.page);
    const messages = all.slice((page - 1) * size, page * size);
    return withPagination
      ? { messages, pagination: { total_pages: Math.ceil(count / size), current_page: page } }
      : { messages };
  };
}

export function conversationRoutes(messages: Route | unknown, updated = at(99)): Record<string, unknown> {
  return {
    'GET /users/u1/conversations': { conversations: [{ id: 'c1' }] },
    'GET /conversations/c1': { conversation_id: 'c1', status: 'new', updated_time: updated },
    'GET /conversations/c1/messages': messages,
  };
}

export const USER_U1: [SourcePartition, SourceOffset] = [{ resource: 'users', id: 'u1' }, { h: 'x' }];

/** A conversation c1 of user u1 whose cursor stands at message 10. */
export const CURSOR_AT_10: [SourcePartition, SourceOffset][] = [
  USER_U1,
  [
    { resource: 'conversations', id: 'c1' },
    { h: 'old', u: at(10), t: at(10), ids: ['m10'] },
  ],
];
