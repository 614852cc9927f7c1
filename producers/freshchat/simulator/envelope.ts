/**
 * Freshchat's response shapes around the objects: the error body `{code, status, message}`,
 * page parameters, the list envelope `{<resource>, pagination, links}` and the messages
 * envelope `{messages, link, pagination}` (SOURCES.md 1.1, 1.2, and the messages endpoint).
 */

export class ApiError extends Error {
  readonly code: number;
  readonly status: string;

  constructor(code: number, status: string, message: string) {
    super(message);
    this.code = code;
    this.status = status;
  }

  get body(): { code: number; status: string; message: string } {
    return { code: this.code, status: this.status, message: this.message };
  }
}

export const apiErrors = {
  badRequest: (message: string) => new ApiError(400, 'BAD_REQUEST', message),
  wrongPage: () => new ApiError(400, 'WRONG_PAGE', 'The page does not exist in the search result'),
  unauthorized: () => new ApiError(401, 'UNAUTHORIZED', 'Invalid or missing API token'),
  notFound: (path: string) => new ApiError(404, 'NOT_FOUND', `No such resource: ${path}`),
  userNotFound: () => new ApiError(404, 'USER_NOT_FOUND', 'user not found'),
  agentNotFound: () => new ApiError(404, 'AGENT_NOT_FOUND', 'agent not found'),
  conversationNotFound: () => new ApiError(404, 'CONVERSATION_NOT_FOUND', 'conversation not found'),
  reportNotFound: () => new ApiError(404, 'REPORT_NOT_FOUND', 'report not found'),
  tooManyRequests: () => new ApiError(429, 'TOO_MANY_REQUESTS', 'Rate limit exceeded, retry later'),
  internal: (message = 'Internal server error') => new ApiError(500, 'INTERNAL_SERVER_ERROR', message),
  unavailable: () => new ApiError(503, 'SERVICE_UNAVAILABLE', 'Service temporarily unavailable'),
};

/** Page size when the request names none (UNCONFIRMED). */
export const DEFAULT_ITEMS_PER_PAGE = 10;

export interface Page {
  page: number;
  itemsPerPage: number;
}

/** `page` (from 1) and `items_per_page` (1..cap); anything else is a 400. */
export function pageOf(query: URLSearchParams, cap: number): Page {
  const page = query.get('page') ?? '1';
  const size = query.get('items_per_page') ?? String(Math.min(DEFAULT_ITEMS_PER_PAGE, cap));
  if (!/^\d+$/.test(page) || Number(page) < 1) throw apiErrors.wrongPage();
  if (!/^\d+$/.test(size) || Number(size) < 1 || Number(size) > cap)
    throw apiErrors.badRequest(`items_per_page must be an integer between 1 and ${cap}`);
  return { page: Number(page), itemsPerPage: Number(size) };
}

export interface Pagination {
  total_items: number;
  total_pages: number;
  current_page: number;
  items_per_page: number;
}

interface Link {
  href: string;
  rel: string;
  type: 'GET';
}

export interface Paged<T> {
  items: T[];
  pagination: Pagination;
  hasNext: boolean;
}

export function paginate<T>(all: readonly T[], { page, itemsPerPage }: Page): Paged<T> {
  const start = (page - 1) * itemsPerPage;
  const totalPages = Math.ceil(all.length / itemsPerPage);
  return {
    items: all.slice(start, start + itemsPerPage),
    pagination: {
      total_items: all.length,
      total_pages: totalPages,
      current_page: page,
      items_per_page: itemsPerPage,
    },
    hasNext: page < totalPages,
  };
}

/** A relative href such as `/users?created_from=…&items_per_page=10&page=3`; filters are kept. */
function href(path: string, filters: URLSearchParams, itemsPerPage: number, page: number): string {
  const params = new URLSearchParams(filters);
  params.delete('page');
  params.delete('items_per_page');
  params.set('items_per_page', String(itemsPerPage));
  params.set('page', String(page));
  return `${path}?${params}`;
}

export interface EnvelopeSettings {
  /** The href path, relative (e.g. `/users`). */
  path: string;
  filters: URLSearchParams;
  rel: string;
  /** UNCONFIRMED: leave out `next_page` on the last page (true) or point it past the end. */
  omitNextOnLastPage: boolean;
}

export function listEnvelope<T>(key: string, paged: Paged<T>, s: EnvelopeSettings): Record<string, unknown> {
  const { current_page: page, items_per_page: size, total_pages: total } = paged.pagination;
  const link = (p: number): Link => ({ href: href(s.path, s.filters, size, p), rel: s.rel, type: 'GET' });
  const links: Record<string, Link> = { first_page: link(1) };
  if (page > 1) links.previous_page = link(page - 1);
  if (paged.hasNext || !s.omitNextOnLastPage) links.next_page = link(page + 1);
  links.last_page = link(Math.max(1, total));
  return { [key]: paged.items, pagination: paged.pagination, links };
}

/** `{messages, link, pagination}`: `link` is the next page; left out on the last page (by default). */
export function messagesEnvelope<T>(
  paged: Paged<T>,
  s: EnvelopeSettings & { withPagination: boolean },
): Record<string, unknown> {
  const { current_page: page, items_per_page: size } = paged.pagination;
  const out: Record<string, unknown> = { messages: paged.items };
  if (paged.hasNext || !s.omitNextOnLastPage)
    out.link = { href: href(s.path, s.filters, size, page + 1), rel: s.rel, type: 'GET' };
  if (s.withPagination) out.pagination = paged.pagination;
  return out;
}
