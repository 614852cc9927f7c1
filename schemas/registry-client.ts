/**
 * The pipeline's schema-registry client: @kafkajs/confluent-schema-registry (encode, decode,
 * register) configured from the settings — URL, basic auth (Confluent Cloud's key and
 * secret), a CA bundle for an https registry — plus the two admin calls it lacks (subject
 * config). Every other HTTP call to the registry uses registryHttp() for the same settings.
 */
import { Agent as HttpsAgent } from 'node:https';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Agent, type Dispatcher, request } from 'undici';
import { EXIT, FatalError, ServiceError } from '../core/errors.ts';
import type { CoreConfig } from '../core/settings.ts';
import { certificateError, tlsOptions } from '../core/tls.ts';
import { displayUrl } from '../core/url.ts';
import type { Level } from './compatibility.ts';
import type { RegistryPort } from './evolution.ts';

/** The CA bundle for an https registry (undefined: the system's CAs). */
function registryCa(config: CoreConfig): string | undefined {
  return tlsOptions('CHATSTREAM_SCHEMA_REGISTRY', { ca: config.schemaRegistry.sslCaLocation }).ca as
    | string
    | undefined;
}

/** Headers and undici dispatcher for a raw HTTP call to the registry (auth and CA applied). */
export function registryHttp(config: CoreConfig): {
  headers: Record<string, string>;
  dispatcher?: Dispatcher;
} {
  const { username, password } = config.schemaRegistry;
  const ca = registryCa(config);
  return {
    headers: username
      ? { Authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` }
      : {},
    ...(ca ? { dispatcher: new Agent({ connect: { ca } }) } : {}),
  };
}

export function createRegistryClient(config: CoreConfig): SchemaRegistry {
  const { url, username, password } = config.schemaRegistry;
  const ca = registryCa(config);
  return new SchemaRegistry({
    host: url,
    ...(username ? { auth: { username, password } } : {}),
    ...(ca ? { agent: new HttpsAgent({ ca, keepAlive: true }) } : {}),
  });
}

export function registryPort(client: SchemaRegistry): RegistryPort {
  return {
    async register(subject, schema) {
      return (await client.register({ type: SchemaType.AVRO, schema }, { subject })).id;
    },
  };
}

function options(config: CoreConfig): { headers: Record<string, string>; dispatcher?: Dispatcher } {
  const http = registryHttp(config);
  return { ...http, headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json', ...http.headers } };
}

/** The subject's own compatibility level, or undefined when it follows the global one. */
export async function subjectCompatibility(config: CoreConfig, subject: string): Promise<Level | undefined> {
  const response = await request(
    `${config.schemaRegistry.url}/config/${encodeURIComponent(subject)}`,
    options(config),
  );
  const body = (await response.body.json()) as {
    compatibilityLevel?: Level;
    error_code?: number;
    message?: string;
  };
  if (response.statusCode === 404) return undefined;
  if (response.statusCode !== 200)
    throw Object.assign(new Error(`GET /config/${subject}: ${response.statusCode} ${body.message ?? ''}`), {
      status: response.statusCode,
    });
  return body.compatibilityLevel;
}

export async function setSubjectCompatibility(
  config: CoreConfig,
  subject: string,
  level: Level,
): Promise<void> {
  const response = await request(`${config.schemaRegistry.url}/config/${encodeURIComponent(subject)}`, {
    method: 'PUT',
    ...options(config),
    body: JSON.stringify({ compatibility: level }),
  });
  const body = (await response.body.json()) as { message?: string };
  if (response.statusCode !== 200)
    throw Object.assign(new Error(`PUT /config/${subject}: ${response.statusCode} ${body.message ?? ''}`), {
      status: response.statusCode,
    });
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH']);

/**
 * What a failed call to the registry means for a command: a certificate that does not verify
 * or refused credentials is a setting (exit 3, naming it), a registry that does not answer a
 * service (exit 5); anything else is returned as it is. URLs are shown without credentials.
 */
export function registryFailure(error: unknown, config: CoreConfig): unknown {
  const certificate = certificateError(
    'schema registry',
    'CHATSTREAM_SCHEMA_REGISTRY_SSL_CA_LOCATION',
    error,
  );
  if (certificate) return certificate;
  const status = (error as { status?: unknown }).status;
  if (status === 401 || status === 403)
    return new FatalError(`the schema registry refused our credentials (${status})`, {
      code: 'REGISTRY_AUTH',
      exitCode: EXIT.config,
      hint: 'check CHATSTREAM_SCHEMA_REGISTRY_USERNAME and CHATSTREAM_SCHEMA_REGISTRY_PASSWORD',
      cause: error,
    });
  const code =
    (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code ?? undefined;
  if (code && NETWORK_CODES.has(code))
    return new ServiceError(
      'registry',
      `the schema registry at ${displayUrl(config.schemaRegistry.url)} is not reachable (${code})`,
      {
        code: 'REGISTRY_UNREACHABLE',
        hint: 'start it with "chatstream stack up", or point CHATSTREAM_SCHEMA_REGISTRY_URL at a running one',
      },
    );
  return error;
}
