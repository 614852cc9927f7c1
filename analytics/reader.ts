/**
 * The dashboard's ClickHouse client: the read-only user (CHATSTREAM_CLICKHOUSE_READONLY_USER /
 * _PASSWORD), built by the project's one client factory so the URL scheme, the CA bundle and the
 * client certificate (CHATSTREAM_CLICKHOUSE_SSL_*) apply as they do to the sink.
 *
 * Only when ClickHouse does not know that user (a stack started before it existed) does the
 * dashboard query as the writer with `readonly=2` on every query, saying so once. Every other
 * refusal is a setting to fix, exit 3 naming it: a wrong read-only password, a certificate that
 * does not verify, a read-only user that can write. ClickHouse unreachable is retriable.
 *
 *   192 UNKNOWN_USER (≤ 20.x)                          → fall back to the writer, readonly=2
 *   516 AUTHENTICATION_FAILED (newer: unknown user or
 *       wrong password, on purpose the same message)  → ask system.users as the writer: absent
 *                                                        → fall back; present → wrong password
 *   193 WRONG_PASSWORD, 194 REQUIRED_PASSWORD          → exit 3, CHATSTREAM_CLICKHOUSE_READONLY_PASSWORD
 *   other auth / access codes                          → exit 3, CHATSTREAM_CLICKHOUSE_READONLY_USER
 *   TLS certificate                                    → exit 3, CHATSTREAM_CLICKHOUSE_SSL_CA_LOCATION
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { createClickHouseClient } from '../consumers/sinks/clickhouse/connection.ts';
import { quoteString } from '../consumers/sinks/clickhouse/schema.ts';
import { classify, FATAL_CODES, serverCode } from '../consumers/sinks/clickhouse/service.ts';
import { EXIT, FatalError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { CoreConfig } from '../core/settings.ts';

export type ReaderMode = 'readonly-user' | 'writer-readonly-setting';

const USER_SETTING = 'CHATSTREAM_CLICKHOUSE_READONLY_USER';
const PASSWORD_SETTING = 'CHATSTREAM_CLICKHOUSE_READONLY_PASSWORD';

function readerClient(
  config: CoreConfig,
  user: string,
  password: string,
  readonly: boolean,
): ClickHouseClient {
  return createClickHouseClient(config, {
    username: user,
    password,
    request_timeout: 30_000,
    compression: { request: false, response: false },
    clickhouse_settings: readonly ? { readonly: '2' } : {},
  });
}

const fatal = (setting: string, message: string, hint: string, cause?: unknown) =>
  new FatalError(`${setting}: ${message}`, {
    code: 'CLICKHOUSE_READONLY_USER',
    exitCode: EXIT.config,
    hint,
    cause,
  });

async function rows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  const result = await client.query({ query, format: 'JSONEachRow' });
  return (await result.json()) as T[];
}

/** 516: does the user exist? Asked as the writer (system.users exists on every server that sends 516). */
async function userExists(config: CoreConfig, user: string, cause: unknown): Promise<boolean> {
  const writer = createClickHouseClient(config, { request_timeout: 30_000 });
  try {
    const found = await rows<{ n: string }>(
      writer,
      `SELECT count() AS n FROM system.users WHERE name = ${quoteString(user)}`,
    );
    return Number(found[0]?.n) > 0;
  } catch (error) {
    const classified = classify(error);
    if (classified instanceof FatalError) throw classified;
    throw fatal(
      USER_SETTING,
      `ClickHouse refused "${user}" (516) and whether that user exists could not be read (${classified.message.split('\n')[0]})`,
      `check ${USER_SETTING} and ${PASSWORD_SETTING}`,
      cause,
    );
  } finally {
    await writer.close().catch(() => undefined);
  }
}

/** What a failed probe as the read-only user means: fall back (true), or an error to throw. */
async function decide(config: CoreConfig, user: string, error: unknown): Promise<true | Error> {
  const classified = classify(error);
  const code = serverCode(error);
  if (code === 192) return true;
  if (code === 516) {
    if (!(await userExists(config, user, error))) return true;
    return fatal(
      PASSWORD_SETTING,
      `ClickHouse refused the password of "${user}" (516 AUTHENTICATION_FAILED)`,
      `set ${PASSWORD_SETTING} to that user's password`,
      error,
    );
  }
  if (code === 193 || code === 194)
    return fatal(
      PASSWORD_SETTING,
      `ClickHouse refused the password of "${user}" (${code} ${FATAL_CODES.get(code)})`,
      `set ${PASSWORD_SETTING} to that user's password`,
      error,
    );
  if (code !== undefined && FATAL_CODES.has(code))
    return fatal(
      USER_SETTING,
      `ClickHouse refused "${user}" (${code} ${FATAL_CODES.get(code)})`,
      `give ${USER_SETTING} a user that may read CHATSTREAM_CLICKHOUSE_DATABASE`,
      error,
    );
  return classified; // a certificate (fatal, names the CA setting) or unreachable (retriable)
}

/** Connects as the read-only user, or (only when it does not exist) as the writer with readonly=2. */
export async function connectReader(
  config: CoreConfig,
  log: Logger,
): Promise<{ client: ClickHouseClient; mode: ReaderMode; settable: boolean }> {
  const { readonlyUser, readonlyPassword, user, password } = config.clickhouse;
  const reader = readerClient(config, readonlyUser, readonlyPassword, false);
  let row: { value: string } | undefined;
  try {
    [row] = await rows<{ value: string }>(
      reader,
      "SELECT value FROM system.settings WHERE name = 'readonly'",
    );
  } catch (error) {
    await reader.close().catch(() => undefined);
    const decision = await decide(config, readonlyUser, error);
    if (decision !== true) throw decision;
    log.warn(
      `the read-only ClickHouse user "${readonlyUser}" cannot be used; querying as "${user}" with readonly=2 on every query`,
      {
        reason: (error as Error).message.split('\n')[0],
        fix: `restart the local stack (it writes the user into users.xml) or create the user with a readonly profile and set ${USER_SETTING} / ${PASSWORD_SETTING}`,
      },
    );
    return {
      client: readerClient(config, user, password, true),
      mode: 'writer-readonly-setting',
      settable: true,
    };
  }
  if (row?.value === '0') {
    await reader.close();
    throw fatal(
      USER_SETTING,
      `"${readonlyUser}" can write (its profile has readonly=0)`,
      'give that user a profile with readonly=2 (or 1)',
    );
  }
  // readonly=1 refuses every per-query setting: its profile's max_execution_time applies instead.
  return { client: reader, mode: 'readonly-user', settable: row?.value !== '1' };
}
