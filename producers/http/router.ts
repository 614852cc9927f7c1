/**
 * The route table of producers/http: what a handler receives and returns, and how a request
 * finds its route (exact path or a RegExp matching the whole path; 404 / 405 with Allow).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { httpErrors } from './errors.ts';

/** The health route every HTTP service of producers/ serves (200 healthy, 503 not). */
export const HEALTHZ_PATH = '/healthz';

export interface HttpRequest {
  method: string;
  /** The path as sent (not percent-decoded), without the query. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The exact bytes received; never re-encoded. */
  rawBody: Buffer;
  remoteAddress: string;
  /** RegExp groups, percent-decoded: named groups by name, all groups by position ("1", "2", …). */
  params: Record<string, string>;
}

export interface HttpResponse {
  status: number;
  /** Buffer and string are sent as they are; anything else is serialized as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Route {
  method: string;
  /** An exact path, or a RegExp that must match the whole path. */
  path: string | RegExp;
  handler: (req: HttpRequest) => Promise<HttpResponse>;
}

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw httpErrors.badPath(segment);
  }
}

function matchPath(pattern: string | RegExp, path: string): Record<string, string> | undefined {
  if (typeof pattern === 'string') return pattern === path ? {} : undefined;
  pattern.lastIndex = 0;
  const match = pattern.exec(path);
  if (match?.[0] !== path) return undefined;
  const params: Record<string, string> = {};
  match.slice(1).forEach((value, i) => {
    if (value !== undefined) params[String(i + 1)] = decode(value);
  });
  for (const [name, value] of Object.entries(match.groups ?? {}))
    if (value !== undefined) params[name] = decode(value);
  return params;
}

/** The route for method + path; throws HttpError 404 (no such path) or 405 (path known, method not). */
export function matchRoute(routes: readonly Route[], method: string, path: string): RouteMatch {
  const allow: string[] = [];
  for (const route of routes) {
    const params = matchPath(route.path, path);
    if (!params) continue;
    const routeMethod = route.method.toUpperCase();
    if (routeMethod === method) return { route, params };
    if (!allow.includes(routeMethod)) allow.push(routeMethod);
  }
  if (allow.length === 0) throw httpErrors.notFound(path);
  throw httpErrors.methodNotAllowed(method, path, allow);
}
