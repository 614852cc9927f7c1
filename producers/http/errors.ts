/**
 * The error a route handler throws to answer with a given status, and the one JSON error body
 * every failure served by producers/http has:
 *
 *   {"error": {"code": "UPPER_SNAKE", "message": "...", "details"?: ...}}
 *
 * Local to producers/http for now; it moves into core/errors.ts with the project-wide error model.
 */

export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  /** Extra response headers (Allow, Retry-After, …). */
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: string,
    message: string,
    details?: unknown,
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.details = details;
    this.headers = headers;
  }
}

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export function errorBody(code: string, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

export const httpErrors = {
  notFound: (path: string) => new HttpError(404, 'NOT_FOUND', `No route for ${path}`),
  methodNotAllowed: (method: string, path: string, allow: string[]) =>
    new HttpError(
      405,
      'METHOD_NOT_ALLOWED',
      `${method} is not allowed on ${path}`,
      { allow },
      {
        Allow: allow.join(', '),
      },
    ),
  badPath: (segment: string) =>
    new HttpError(400, 'BAD_PATH', `Malformed URL: "${segment}" is not valid percent-encoding`),
  payloadTooLarge: (limit: number, declared?: number) =>
    new HttpError(
      413,
      'PAYLOAD_TOO_LARGE',
      `The request body is larger than ${limit} bytes`,
      declared === undefined ? { limit } : { limit, declared },
    ),
  internal: () => new HttpError(500, 'INTERNAL', 'Internal server error'),
};
