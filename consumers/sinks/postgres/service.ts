/**
 * The PostgreSQL transport (a pg pool) and its retry policy as a table of SQLSTATE classes:
 * data exceptions are bad data (isolate and dead-letter), connection and resource errors are
 * retriable, authentication and permission errors stop the sink with the message.
 */
import pg from 'pg';
import { EXIT, FatalError, isNetworkError, PoisonError, RetriableError } from '../../../core/errors.ts';
import type { SinkConfig } from '../../config.ts';

/** SQLSTATE class (first two characters) → decision. */
const BAD_DATA_CLASSES = new Set(['22', '23']); // data exception, integrity constraint violation
const RETRIABLE_CLASSES = new Set(['08', '40', '53', '57', '58']); // connection, rollback, resources, operator intervention, system
const FATAL_CLASSES = new Set(['28', '3D']); // invalid authorization, invalid catalog (database)
/** undefined_table, undefined_column: our tables changed underneath; check them again and retry. */
export const SCHEMA_CHANGED = new Set(['42P01', '42703']);

export function classifyPg(error: unknown): Error {
  const code = (error as { code?: unknown }).code;
  const message = (error as Error)?.message ?? String(error);
  if (typeof code === 'string' && code.length === 5) {
    const cls = code.slice(0, 2);
    if (BAD_DATA_CLASSES.has(cls)) return new PoisonError('bad_data', `PostgreSQL ${code}: ${message}`);
    if (FATAL_CLASSES.has(cls) || code === '42501')
      return new FatalError(`PostgreSQL ${code}: ${message}`, {
        code: 'POSTGRES_REFUSED',
        exitCode: EXIT.config,
        hint: 'check CHATSTREAM_POSTGRES_URL (user, password, database)',
        cause: error,
      });
    if (RETRIABLE_CLASSES.has(cls) || SCHEMA_CHANGED.has(code))
      return new RetriableError(`PostgreSQL ${code}: ${message}`, { cause: error });
    return new Error(`PostgreSQL ${code}: ${message}`);
  }
  if (isNetworkError(error) || /Connection terminated|timeout/i.test(message))
    return new RetriableError(`PostgreSQL unreachable: ${message}`, { cause: error });
  // Our own code failing (a TypeError, a RangeError) is a bug: retrying cannot help.
  if (error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError) return error;
  if (error instanceof PoisonError || error instanceof RetriableError || error instanceof FatalError)
    return error;
  return new RetriableError(`PostgreSQL: ${message}`, { cause: error });
}

export function createPool(config: SinkConfig): pg.Pool {
  const pool = new pg.Pool({
    connectionString: config.postgres.url,
    ...(config.postgres.password ? { password: config.postgres.password } : {}),
    max: Math.max(2, config.sink.concurrency + 1),
    connectionTimeoutMillis: 5000,
    // A server that stops answering mid-query must not hold the partition forever: the
    // query fails (retriable) after a minute, as ClickHouse's request timeout does.
    query_timeout: 60_000,
    keepAlive: true,
  });
  pool.on('error', () => {}); // idle clients dropped by the server are replaced on next use
  return pool;
}
