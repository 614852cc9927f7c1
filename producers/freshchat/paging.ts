/**
 * Page-based paging as Freshchat lists have it: `page` from 1 and `items_per_page`, ending at
 * `pagination.total_pages` or on a short page — never by following `links` hrefs (they are
 * relative, sometimes with an odd `/v1` prefix). A server that ignores `page` and answers the
 * same page again is caught instead of looping forever.
 */
import type { FreshchatClient, Query } from './client.ts';

export interface ListPage<T> {
  items: T[];
  page: number;
  totalPages?: number;
  totalItems?: number;
}

export class EndpointUnavailable extends Error {
  readonly path: string;
  constructor(path: string) {
    super(`${path} answered 404: the account does not have this endpoint`);
    this.path = path;
  }
}

interface Envelope {
  pagination?: { total_pages?: number; total_items?: number };
  [key: string]: unknown;
}

const MAX_PAGES = 1_000_000;

export async function* listPages<T>(
  client: FreshchatClient,
  options: {
    endpoint: string;
    path: string;
    key: string;
    pageSize: number;
    query?: Query;
    startPage?: number;
  },
): AsyncGenerator<ListPage<T>> {
  const { endpoint, path, key, pageSize } = options;
  let previousFirst: string | undefined;
  for (let page = options.startPage ?? 1; page < MAX_PAGES; page++) {
    const body = await client.get<Envelope>(endpoint, path, {
      ...options.query,
      page,
      items_per_page: pageSize,
    });
    if (body === undefined) {
      if (page === (options.startPage ?? 1)) throw new EndpointUnavailable(path);
      return; // the list shrank under us: what is left ends here
    }
    const items = (Array.isArray(body[key]) ? body[key] : []) as T[];
    const first = items.length > 0 ? JSON.stringify(items[0]) : undefined;
    if (first !== undefined && first === previousFirst) return; // same page again: `page` is ignored
    previousFirst = first;
    const totalPages = numberOr(body.pagination?.total_pages);
    yield { items, page, totalPages, totalItems: numberOr(body.pagination?.total_items) };
    if (items.length < pageSize) return;
    if (totalPages !== undefined && page >= totalPages) return;
  }
}

function numberOr(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
