/** Shared pieces of the Pure Chat tests: an isolated namespace, a collector process, events, ClickHouse. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { loadConfig } from '../../cli/settings.ts';
import { createClickHouseClient } from '../../consumers/sinks/clickhouse/connection.ts';
import { quoteIdent, tableName } from '../../consumers/sinks/clickhouse/schema.ts';
import { type CliProcess, spawnCli } from './cli.ts';
import { freePort, uniqueName } from './names.ts';

export const WIDGET_ID = '9aa40980-a367-4eaf-9c09-d1b66ccaff57';

/** Environment for a collector writing to topics of its own (a random prefix) on a free port. */
export async function purechatEnv(
  prefix = uniqueName('pc'),
  base: NodeJS.ProcessEnv = process.env,
): Promise<NodeJS.ProcessEnv> {
  return {
    ...base,
    CHATSTREAM_KAFKA_TOPIC_PREFIX: `${prefix}.`,
    CHATSTREAM_KAFKA_PARTITIONS: '2',
    CHATSTREAM_PRODUCER_OFFSETS_TOPIC: `${prefix}._offsets`,
    CHATSTREAM_PRODUCER_DEAD_LETTER_TOPIC: `${prefix}.dead_letters`,
    CHATSTREAM_PRODUCER_INSTANCE_ID: prefix,
    CHATSTREAM_LOG_FORMAT: 'json',
    CHATSTREAM_SINK_GROUP: `${prefix}-sink`,
    PURECHAT_PORT: String(await freePort()),
    PURECHAT_DEMO: 'true',
    PURECHAT_DEMO_WIDGET_ID: WIDGET_ID,
  };
}

export interface CollectorProcess {
  url: string;
  proc: CliProcess;
}

export async function getStatus(url: string): Promise<number> {
  return request(url).then(
    async (r) => {
      await r.body.text();
      return r.statusCode;
    },
    () => 0,
  );
}

/** `chatstream purechat collect` in the background, once /healthz answers 200. */
export async function startCollectorProcess(env: NodeJS.ProcessEnv): Promise<CollectorProcess> {
  const url = `http://127.0.0.1:${env.PURECHAT_PORT}`;
  const proc = spawnCli(['purechat', 'collect'], env);
  for (let i = 0; (await getStatus(`${url}/healthz`)) !== 200; i++) {
    assert.ok(i < 120 && proc.child.exitCode === null, `the collector did not start: ${proc.stderr()}`);
    await sleep(250);
  }
  return { url, proc };
}

/** One protocol v1 event, with its own id. */
export function makeEvent(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: randomUUID(),
    type: 'chat:start',
    widgetId: WIDGET_ID,
    occurredAt: new Date().toISOString(),
    visitorId: 'visitor-1',
    sessionId: 'session-1',
    pageUrl: 'https://example.com/pricing',
    referrer: null,
    args: { name: 'Joe Doe', email: 'joe@example.com', question: 'Do you ship to Mars?' },
    ...over,
  };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => { error?: { code: string; message: string; details?: unknown }; [key: string]: unknown };
}

export async function post(
  url: string,
  body: string | Buffer,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): Promise<Answer> {
  const response = await request(`${url}/v1/events`, {
    method: 'POST',
    body,
    headers,
    headersTimeout: 60_000,
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, text, json: () => JSON.parse(text) };
}

/** A ClickHouse client on the configured server, and the `_dedup` view of a topic. */
export function clickhouseOf(env: NodeJS.ProcessEnv) {
  const config = loadConfig({ env });
  const client = createClickHouseClient(config);
  const prefix = env.CHATSTREAM_KAFKA_TOPIC_PREFIX ?? '';
  const table = (topic: string, suffix = '') =>
    `${config.clickhouse.database}.${quoteIdent(`${tableName(`${prefix}${topic}`)}${suffix}`)}`;
  return {
    client,
    table,
    /** Rows of a query, [] while the table does not exist yet. */
    async rows<T = Record<string, unknown>>(query: string): Promise<T[]> {
      try {
        return (await (await client.query({ query, format: 'JSONEachRow' })).json()) as T[];
      } catch (error) {
        if (/UNKNOWN_TABLE|doesn't exist|does not exist/i.test(String((error as Error).message))) return [];
        throw error;
      }
    },
  };
}
