/**
 * Page-based paging as Freshchat lists have it: `page` from 1 and `items_per_page`, never by
 * following `links` hrefs (they are relative, sometimes with an odd `/v1` prefix). A list ends
 * at `pagination.total_pages` when the answer has it (a short page in the middle — a server
 * that caps `items_per_page` below ours — does not end it), else on a short page; an empty page
 * or a 404 / 400 WRONG_PAGE after the first page (the list shrank under us) ends it too.
 *
 * The generator returns normally only when the list provably ended. An answer that cannot be
 * paged on — not an object, without the list key, the same page again (a server ignoring
 * `page`) — throws FreshchatUnavailableError, so the resource is marked incomplete and its
 * cursor does not move.
 */
import type { FreshchatClient, Query } from './client.ts';
import { FreshchatUnavailableError, isJsonObject } from './errors.ts';

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
  const firstPage = options.startPage ?? 1;
  let previousFirst: string | undefined;
  let lastTotalPages: number | undefined;
  for (let page = firstPage; page < MAX_PAGES; page++) {
    const body = await client.get<Envelope>(endpoint, path, {
      ...options.query,
      page,
      items_per_page: pageSize,
    });
    if (body === undefined) {
      if (page === firstPage) throw new EndpointUnavailable(path);
      // 404 / WRONG_PAGE: the end of a list whose size we do not know; but where the previous
      // page promised more, a page is missing, and the list cannot be taken as complete.
      if (lastTotalPages !== undefined && page <= lastTotalPages)
        throw new FreshchatUnavailableError(`GET ${path} page ${page} of ${lastTotalPages} answered 404`);
      return;
    }
    if (!isJsonObject(body) || !Array.isArray(body[key]))
      throw new FreshchatUnavailableError(
        `GET ${path} page ${page} answered without a "${key}" list: ${JSON.stringify(body).slice(0, 200)}`,
      );
    const items = body[key] as T[];
    const first = items.length > 0 ? JSON.stringify(items[0]) : undefined;
    if (first !== undefined && first === previousFirst)
      throw new FreshchatUnavailableError(
        `GET ${path} answered page ${page} with the items of page ${page - 1}: the server seems to ignore \`page\``,
      );
    previousFirst = first;
    const pagination = isJsonObject(body.pagination) ? body.pagination : {};
    const totalPages = numberOr(pagination.total_pages);
    lastTotalPages = totalPages;
    yield { items, page, totalPages, totalItems: numberOr(pagination.total_items) };
    if (items.length === 0) return;
    if (totalPages !== undefined ? page >= totalPages : items.length < pageSize) return;
  }
  throw new FreshchatUnavailableError(`GET ${path} did not end within ${MAX_PAGES} pages`);
}

function numberOr(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
