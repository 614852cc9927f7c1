/**
 * The ClickHouse transport (@clickhouse/client over HTTP) and its retry policy as a table, as
 * Vector has it: errors that mean "this data is bad" are not retried (the rows are isolated and
 * dead-lettered); an unknown column means the table changed under us (its columns are read
 * again); bad credentials and a server certificate that does not verify stop the sink (exit 3);
 * connection failures and every other server error are retried.
 */
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import { EXIT, FatalError, isNetworkError, PoisonError, RetriableError } from '../../../core/errors.ts';
import type { CoreConfig } from '../../../core/settings.ts';
import { certificateError } from '../../../core/tls.ts';
import { createClickHouseClient } from './connection.ts';
import { quoteIdent } from './schema.ts';

/** Server error codes that mean the inserted data is bad (retrying the same rows cannot help). */
export const BAD_DATA_CODES = new Map<number, string>([
  [6, 'CANNOT_PARSE_TEXT'],
  [26, 'CANNOT_PARSE_QUOTED_STRING'],
  [27, 'CANNOT_PARSE_INPUT_ASSERTION_FAILED'],
  [38, 'CANNOT_PARSE_DATE'],
  [41, 'CANNOT_PARSE_DATETIME'],
  [53, 'TYPE_MISMATCH'],
  [69, 'ARGUMENT_OUT_OF_BOUND'],
  [70, 'CANNOT_CONVERT_TYPE'],
  [72, 'CANNOT_PARSE_NUMBER'],
  [117, 'INCORRECT_DATA'],
  [131, 'TOO_LARGE_STRING_SIZE'],
]);

/** Server error codes that mean the configuration is wrong: stop with the message. */
export const FATAL_CODES = new Map<number, string>([
  [192, 'UNKNOWN_USER'],
  [193, 'WRONG_PASSWORD'],
  [194, 'REQUIRED_PASSWORD'],
  [164, 'READONLY'],
  [291, 'DATABASE_ACCESS_DENIED'],
  [497, 'ACCESS_DENIED'],
  [516, 'AUTHENTICATION_FAILED'],
]);

/**
 * Server error codes for a body that ended before its rows did (or was cut in transit): retried
 * like any server error, but for a RowBinary body refused twice they mean the body itself is
 * misframed (sink.ts then writes the chunk as JSONEachRow instead).
 */
export const UNREADABLE_CODES = new Map<number, string>([
  [32, 'ATTEMPT_TO_READ_AFTER_EOF'],
  [33, 'CANNOT_READ_ALL_DATA'],
]);

/** True when the server refused an insert's body as data: bad data, or rows it could not read. */
export function refusedBody(error: unknown): boolean {
  if (error instanceof PoisonError) return true;
  const code = serverCode((error as { cause?: unknown })?.cause ?? error);
  return code !== undefined && UNREADABLE_CODES.has(code);
}

/** Codes after which the sink forgets what it knows of its tables and checks them again. */
export const SCHEMA_CHANGED_CODES = new Set([16, 47, 60, 81]); // NO_SUCH_COLUMN, UNKNOWN_IDENTIFIER, UNKNOWN_TABLE, UNKNOWN_DATABASE

/**
 * The table lacks a column the rows have: another member created it from older columns, or it
 * was dropped and created again. Not bad data: the sink reads the columns again, adds what is
 * missing and writes the rows (retriable, so the runner tries again should that not be enough).
 */
export class SchemaChangedError extends RetriableError {}

/** 16 NO_SUCH_COLUMN_IN_TABLE, or 117 INCORRECT_DATA for a JSONEachRow field the table lacks. */
export function isUnknownColumn(code: number | undefined, message: string): boolean {
  return code === 16 || (code === 117 && /Unknown field/i.test(message));
}

export function serverCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^\d+$/.test(code)) return Number(code);
  const match = /Code: (\d+)/.exec(String((error as Error)?.message ?? ''));
  return match ? Number(match[1]) : undefined;
}

/** Maps a failure to the runner's error types. */
export function classify(error: unknown): Error {
  const certificate = certificateError('ClickHouse', 'CHATSTREAM_CLICKHOUSE_SSL_CA_LOCATION', error);
  if (certificate) return certificate;
  const code = serverCode(error);
  const message = (error as Error)?.message ?? String(error);
  if (isUnknownColumn(code, message))
    return new SchemaChangedError(`ClickHouse table changed (${code}): ${message}`, { cause: error });
  if (code !== undefined && BAD_DATA_CODES.has(code))
    return new PoisonError('bad_data', `ClickHouse ${BAD_DATA_CODES.get(code)} (${code}): ${message}`);
  if (code !== undefined && FATAL_CODES.has(code))
    return new FatalError(
      `ClickHouse ${FATAL_CODES.get(code)} (${code}): ${message}; check CHATSTREAM_CLICKHOUSE_USER and CHATSTREAM_CLICKHOUSE_PASSWORD`,
      {
        code: 'CLICKHOUSE_AUTH',
        exitCode: EXIT.config,
        hint: 'set CHATSTREAM_CLICKHOUSE_USER / CHATSTREAM_CLICKHOUSE_PASSWORD to an account that may create tables in CHATSTREAM_CLICKHOUSE_DATABASE',
        cause: error,
      },
    );
  if (isNetworkError(error))
    return new RetriableError(`ClickHouse unreachable: ${message}`, { cause: error });
  return new RetriableError(`ClickHouse error${code === undefined ? '' : ` ${code}`}: ${message}`, {
    cause: error,
  });
}

export class ClickHouseService {
  readonly client: ClickHouseClient;

  constructor(config: CoreConfig) {
    this.client = createClickHouseClient(config, { request_timeout: 60_000 });
  }

  async command(sql: string): Promise<void> {
    try {
      await this.client.command({ query: sql });
    } catch (error) {
      throw classify(error);
    }
  }

  async rows<T>(sql: string): Promise<T[]> {
    try {
      const result = await this.client.query({ query: sql, format: 'JSONEachRow' });
      return (await result.json()) as T[];
    } catch (error) {
      throw classify(error);
    }
  }

  async insert(table: string, rows: Record<string, unknown>[]): Promise<void> {
    try {
      await this.client.insert({ table, values: rows, format: 'JSONEachRow' });
    } catch (error) {
      throw classify(error);
    }
  }

  /**
   * Inserts a RowBinary body (rows of these columns, in this order) through the client's
   * `exec` with the body as the values stream (`insert` takes JSON and text formats only).
   */
  async insertRowBinary(table: string, columns: string[], body: Buffer): Promise<void> {
    try {
      const { stream } = await this.client.exec({
        query: `INSERT INTO ${table} (${columns.map(quoteIdent).join(', ')}) FORMAT RowBinary`,
        values: Readable.from([body], { objectMode: false }),
      });
      stream.resume();
      await finished(stream);
    } catch (error) {
      throw classify(error);
    }
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/**
 * The database cannot be created or used (81 UNKNOWN_DATABASE from a server that refuses
 * CREATE DATABASE): a setting, exit 3. Undefined for any other failure.
 */
export function unknownDatabase(error: unknown, database: string): FatalError | undefined {
  const code = serverCode(error) ?? serverCode((error as { cause?: unknown })?.cause);
  if (code !== 81) return undefined;
  return new FatalError(`ClickHouse has no database "${database}" and did not create it`, {
    code: 'CLICKHOUSE_DATABASE',
    exitCode: EXIT.config,
    hint: 'set CHATSTREAM_CLICKHOUSE_DATABASE to a database the user may create tables in, or create it',
    cause: error,
  });
}
