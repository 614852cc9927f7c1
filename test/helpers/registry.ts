/** A registry instance of its own (real Kafka, its own topic, a free port) and a tiny HTTP client. */

import { type Config, loadConfig } from '../../cli/settings.ts';
import { createLogger } from '../../core/log.ts';
import { type RunningRegistry, startRegistry } from '../../registry/run.ts';
import { uniqueName } from './names.ts';

export async function startTestRegistry(
  overrides: Partial<Config['registry']> = {},
): Promise<RunningRegistry & { topic: string; config: Config }> {
  const base = loadConfig();
  const topic = overrides.topic ?? uniqueName('_schemas_test');
  const config: Config = { ...base, registry: { ...base.registry, port: 0, topic, ...overrides } };
  const running = await startRegistry(config, createLogger('test-registry'));
  return { ...running, topic, config };
}

export interface Reply {
  status: number;
  contentType: string | null;
  body: unknown;
}

export async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body: text ? JSON.parse(text) : undefined,
  };
}
