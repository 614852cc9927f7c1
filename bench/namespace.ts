/**
 * A throw-away namespace for a chatstream process under benchmark: its own topic prefix,
 * offsets and dead-letter topics and transactional id, and the cleanup that drops its topics
 * and registry subjects afterwards.
 */

import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import type { Config } from '../cli/settings.ts';
import { withAdmin } from '../kafka/client.ts';
import { registryHttp } from '../schemas/registry-client.ts';

export function benchPrefix(name: string): string {
  return `bench_${name}_${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
}

/** Environment that points a chatstream process at topics of its own. */
export function namespaceEnv(prefix: string): NodeJS.ProcessEnv {
  return {
    CHATSTREAM_KAFKA_TOPIC_PREFIX: `${prefix}.`,
    CHATSTREAM_PRODUCER_OFFSETS_TOPIC: `${prefix}._offsets`,
    CHATSTREAM_PRODUCER_DEAD_LETTER_TOPIC: `${prefix}.dl`,
    CHATSTREAM_PRODUCER_INSTANCE_ID: prefix,
    CHATSTREAM_PRODUCER_METRICS_PORT: '0',
  };
}

/** Deletes the namespace's topics and (permanently) its registry subjects; failures are ignored. */
export async function dropNamespace(config: Config, prefix: string): Promise<void> {
  await withAdmin(config, async (admin) => {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
    if (topics.length) await admin.deleteTopics({ topics });
  }).catch(() => {});
  const registry = config.schemaRegistry.url;
  try {
    const http = registryHttp(config);
    const response = await request(`${registry}/subjects`, http);
    const subjects = ((await response.body.json()) as string[]).filter((s) => s.startsWith(`${prefix}.`));
    for (const subject of subjects)
      for (const permanent of ['', '?permanent=true']) {
        const r = await request(`${registry}/subjects/${encodeURIComponent(subject)}${permanent}`, {
          ...http,
          method: 'DELETE',
        });
        await r.body.dump();
      }
  } catch {
    // the registry is optional for cleanup
  }
}
