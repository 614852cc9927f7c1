/**
 * The pipeline's schema-registry client: @kafkajs/confluent-schema-registry (encode, decode,
 * register) configured from the settings, plus the two admin calls it lacks (subject config).
 */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { request } from 'undici';
import type { CoreConfig } from '../core/settings.ts';
import type { Level } from './compatibility.ts';
import type { RegistryPort } from './evolution.ts';

export function createRegistryClient(config: CoreConfig): SchemaRegistry {
  const { url, username, password } = config.schemaRegistry;
  return new SchemaRegistry({ host: url, ...(username ? { auth: { username, password } } : {}) });
}

export function registryPort(client: SchemaRegistry): RegistryPort {
  return {
    async register(subject, schema) {
      return (await client.register({ type: SchemaType.AVRO, schema }, { subject })).id;
    },
  };
}

function headers(config: CoreConfig): Record<string, string> {
  const { username, password } = config.schemaRegistry;
  return {
    'Content-Type': 'application/vnd.schemaregistry.v1+json',
    ...(username
      ? { Authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` }
      : {}),
  };
}

/** The subject's own compatibility level, or undefined when it follows the global one. */
export async function subjectCompatibility(config: CoreConfig, subject: string): Promise<Level | undefined> {
  const response = await request(`${config.schemaRegistry.url}/config/${encodeURIComponent(subject)}`, {
    headers: headers(config),
  });
  const body = (await response.body.json()) as {
    compatibilityLevel?: Level;
    error_code?: number;
    message?: string;
  };
  if (response.statusCode === 404) return undefined;
  if (response.statusCode !== 200)
    throw new Error(`GET /config/${subject}: ${response.statusCode} ${body.message ?? ''}`);
  return body.compatibilityLevel;
}

export async function setSubjectCompatibility(
  config: CoreConfig,
  subject: string,
  level: Level,
): Promise<void> {
  const response = await request(`${config.schemaRegistry.url}/config/${encodeURIComponent(subject)}`, {
    method: 'PUT',
    headers: headers(config),
    body: JSON.stringify({ compatibility: level }),
  });
  const body = (await response.body.json()) as { message?: string };
  if (response.statusCode !== 200)
    throw new Error(`PUT /config/${subject}: ${response.statusCode} ${body.message ?? ''}`);
}
