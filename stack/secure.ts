/**
 * The local stack's secure mode (`CHATSTREAM_STACK_SECURE=true` or `stack up --secure`): who
 * may log in where, and the settings a client needs, as `stack up` prints them. The stack's
 * own processes (the registry, readiness probes) keep using Kafka's loopback PLAINTEXT
 * listener; clients use the `SASL_SSL` one, ClickHouse's HTTPS port and the registry's HTTPS.
 *
 * Credentials: the configured ones when set (CHATSTREAM_KAFKA_SASL_USERNAME / _PASSWORD,
 * CHATSTREAM_CLICKHOUSE_PASSWORD, CHATSTREAM_REGISTRY_USER / _PASSWORD), otherwise a user
 * `chatstream` with a generated password in `<home>/tls/<service>.password`, which the printed
 * settings name with `_FILE` so that no secret is ever printed.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CoreConfig } from '../core/settings.ts';
import { certificatePaths, readSecret, type StackCertificates, stackSecretFile } from './tls.ts';

/** Once a stack ran secure it stays secure (until `stack reset`): its marker file. */
function markerOf(config: CoreConfig): string {
  return join(config.stack.home, 'tls', 'secure-mode');
}

export function isSecureStack(config: CoreConfig): boolean {
  return config.stack.secure || existsSync(markerOf(config));
}

/** True once this stack home was marked secure (the flag alone does not count). */
export function markedSecure(config: CoreConfig): boolean {
  return existsSync(markerOf(config));
}

/** Records that this stack runs secure, so `status`, `down` and a later `up` know without the flag. */
export function markSecure(config: CoreConfig): void {
  mkdirSync(join(config.stack.home, 'tls'), { recursive: true, mode: 0o700 });
  writeFileSync(markerOf(config), 'chatstream stack up --secure\n');
}

/** Takes the mark back (a first secure start that failed leaves the stack as it was). */
export function unmarkSecure(config: CoreConfig): void {
  rmSync(markerOf(config), { force: true });
}

export const STACK_USER = 'chatstream';

export interface Login {
  user: string;
  password: string;
  /** The generated password's file, when the password is not configured. */
  passwordFile?: string;
}

function login(home: string, service: string, user: string | undefined, password: string): Login {
  if (password) return { user: user ?? STACK_USER, password };
  const passwordFile = stackSecretFile(home, service);
  return { user: user ?? STACK_USER, password: readSecret(passwordFile), passwordFile };
}

export interface SecureStack {
  certificates: StackCertificates;
  kafka: Login;
  /** ClickHouse's `default` user (its password). */
  clickhouse: Login;
  registry: Login;
}

/** Undefined unless the stack runs in secure mode. Makes the password files on first use. */
export function secureStack(config: CoreConfig): SecureStack | undefined {
  if (!isSecureStack(config)) return undefined;
  const home = config.stack.home;
  return {
    certificates: certificatePaths(home),
    kafka: login(home, 'kafka', config.kafka.saslUsername, config.kafka.saslPassword),
    clickhouse: login(home, 'clickhouse', 'default', config.clickhouse.password),
    registry: login(home, 'registry', config.registry.user, config.registry.password),
  };
}

/** The password as a setting: `<VAR>_FILE=<file>` for a generated one, else a reminder (never the value). */
function password(variable: string, l: Login): [string, string] {
  return l.passwordFile ? [`${variable}_FILE`, l.passwordFile] : [variable, CONFIGURED];
}

/** Stands for a configured password in the printed settings (the value itself is never shown). */
export const CONFIGURED = '(as configured)';

/** What a client sets to use the secure stack, in order. */
export function secureClientSettings(config: CoreConfig, secure: SecureStack): [string, string][] {
  const ca = secure.certificates.ca;
  return [
    ['CHATSTREAM_KAFKA_BROKERS', `127.0.0.1:${config.kafka.securePort}`],
    ['CHATSTREAM_KAFKA_SECURITY_PROTOCOL', 'SASL_SSL'],
    ['CHATSTREAM_KAFKA_SASL_MECHANISM', 'SCRAM-SHA-512'],
    ['CHATSTREAM_KAFKA_SASL_USERNAME', secure.kafka.user],
    password('CHATSTREAM_KAFKA_SASL_PASSWORD', secure.kafka),
    ['CHATSTREAM_KAFKA_SSL_CA_LOCATION', ca],
    ['CHATSTREAM_CLICKHOUSE_URL', `https://127.0.0.1:${config.clickhouse.httpsPort}`],
    ['CHATSTREAM_CLICKHOUSE_USER', secure.clickhouse.user],
    password('CHATSTREAM_CLICKHOUSE_PASSWORD', secure.clickhouse),
    ['CHATSTREAM_CLICKHOUSE_SSL_CA_LOCATION', ca],
    ['CHATSTREAM_SCHEMA_REGISTRY_URL', `https://127.0.0.1:${config.registry.port}`],
    ['CHATSTREAM_SCHEMA_REGISTRY_USERNAME', secure.registry.user],
    password('CHATSTREAM_SCHEMA_REGISTRY_PASSWORD', secure.registry),
    ['CHATSTREAM_SCHEMA_REGISTRY_SSL_CA_LOCATION', ca],
  ];
}
