/**
 * The Freshchat backfill bench's walks (bench/cases/freshchat-backfill.ts): the bare loop (a),
 * which makes the poller's requests and only parses the answers, and the floor (f), the same
 * walk with a kafkajs record per entity.
 */
import type { Message } from 'kafkajs';
import { Pool } from 'undici';
import type { Config } from '../cli/settings.ts';
import { createKafka, createProducer, withAdmin } from '../kafka/client.ts';
import { benchPrefix, dropNamespace } from './namespace.ts';
import { cpuMeter } from './processes.ts';

export const SINCE = '2000-01-01T00:00:00.000Z';

/** The poller's defaults (FRESHCHAT_PAGE_SIZE, FRESHCHAT_MESSAGES_PAGE_SIZE). */
const PAGE_SIZE = 100;
const MESSAGES_PAGE_SIZE = 50;
export const RESOURCES =
  'account_configuration,users,conversations,messages,agents,agent_statuses,groups,channels,outbound_messages';

type Json = Record<string, unknown>;
type Query = Record<string, string | number>;

export interface Walk {
  records: number;
  requests: number;
}

/** What the walk hands on: each page's entities, by resource. */
type Emit = (resource: string, entities: Json[]) => void;

const RESOURCE_NAMES = RESOURCES.split(',');
const EMPTY = Buffer.alloc(0);

export interface SimAddress {
  url: string;
  apiKey: string;
}

/**
 * (a): the poller's requests (producers/freshchat/source.ts order) with nothing but JSON.parse.
 * Lists one after the other, then users' conversations with `concurrency` users at once, each
 * user's conversations in turn — as syncConversations does.
 */
export async function bareWalk(
  baseUrl: string,
  apiKey: string,
  concurrency: number,
  emit: Emit = () => {},
): Promise<Walk> {
  const url = new URL(baseUrl);
  const pool = new Pool(url.origin, { connections: concurrency, keepAliveTimeout: 30_000 });
  const headers = { authorization: `Bearer ${apiKey}`, accept: 'application/json' };
  const walk: Walk = { records: 0, requests: 0 };
  const get = async (path: string, query: Query = {}): Promise<Json> => {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) search.set(k, String(v));
    const response = await pool.request({
      method: 'GET',
      path: `${url.pathname}${path}${search.size ? `?${search}` : ''}`,
      headers,
    });
    const text = await response.body.text();
    walk.requests++;
    if (response.statusCode !== 200) throw new Error(`GET ${path} answered ${response.statusCode}`);
    return JSON.parse(text) as Json;
  };
  const items = (body: Json, key: string) => (Array.isArray(body[key]) ? (body[key] as Json[]) : []);
  async function* pages(path: string, key: string, pageSize: number, query: Query = {}) {
    for (let page = 1; ; page++) {
      const body = await get(path, { ...query, page, items_per_page: pageSize });
      const list = items(body, key);
      yield list;
      const total = (body.pagination as { total_pages?: number } | undefined)?.total_pages;
      if (list.length < pageSize || (typeof total === 'number' && page >= total)) return;
    }
  }
  const list = async (path: string, key: string, query: Query = {}) => {
    const all: Json[] = [];
    for await (const page of pages(path, key, PAGE_SIZE, query)) {
      emit(key, page);
      all.push(...page);
    }
    walk.records += all.length;
    return all;
  };

  try {
    emit('account_configuration', [await get('/accounts/configuration')]);
    walk.records++;
    for (const [path, key] of [
      ['/agents', 'agents'],
      ['/groups', 'groups'],
      ['/channels', 'channels'],
    ] as const)
      await list(path, key);
    const states = items(await get('/agents/status'), 'states');
    emit('agent_statuses', states);
    walk.records += states.length;
    const users = await list('/users', 'users', {
      created_from: SINCE,
      created_to: new Date().toISOString(),
    });
    const queue = users.map((u) => String(u.id))[Symbol.iterator]();
    const worker = async () => {
      for (let next = queue.next(); !next.done; next = queue.next()) {
        const body = await get(`/users/${encodeURIComponent(next.value)}/conversations`, {
          page: 1,
          items_per_page: PAGE_SIZE,
        });
        for (const c of items(body, 'conversations')) {
          const id = encodeURIComponent(String(c.id));
          emit('conversations', [await get(`/conversations/${id}`)]);
          walk.records++;
          for await (const page of pages(`/conversations/${id}/messages`, 'messages', MESSAGES_PAGE_SIZE)) {
            emit('messages', page);
            walk.records += page.length;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    await list('/outbound-messages', 'outbound_messages');
  } finally {
    await pool.close();
  }
  return walk;
}

/**
 * (f): (a) plus writing a record per entity to Kafka with kafkajs, keyed by its id — the least
 * any kafkajs backfill does. Its value is the entity's JSON text (`json`) or, lower still,
 * nothing (`empty`: what kafkajs costs per record, whatever the encoding). No schema, Avro,
 * cursors or transactions; the producer is connected and the topics exist before the clock
 * starts (the CLI pays both in its time); sends of ≥ 2,000 records, one after the other, acks
 * from all in-sync replicas. A lower bound on a backfill that fetches and produces on one
 * thread with kafkajs: if (f) is under the goal, no such backfill meets it here.
 */
export async function floorWalk(
  config: Config,
  sim: SimAddress,
  concurrency: number,
  values: 'json' | 'empty',
  pids: { simulator?: number; kafka?: number } = {},
): Promise<{ walk: Walk; seconds: number; cpu: Record<'loop' | 'simulator' | 'kafka', number | undefined> }> {
  const prefix = benchPrefix('fcfl');
  const topicOf = (resource: string) => `${prefix}.${resource}`;
  const producer = createProducer(createKafka(config, { role: 'bench' }));
  try {
    await withAdmin(config, (admin) =>
      admin.createTopics({
        topics: RESOURCE_NAMES.map((r) => ({ topic: topicOf(r), numPartitions: config.kafka.partitions })),
        waitForLeaders: true,
      }),
    );
    await producer.connect();
    let pending = new Map<string, Message[]>();
    let queued = 0;
    let sending: Promise<unknown> = Promise.resolve();
    let failed: unknown;
    const flush = () => {
      if (queued === 0) return sending;
      const topicMessages = [...pending].map(([topic, messages]) => ({ topic, messages }));
      [pending, queued] = [new Map(), 0];
      sending = sending.then(() =>
        producer.sendBatch({ topicMessages, acks: -1 }).catch((error: unknown) => {
          failed ??= error;
        }),
      );
      return sending;
    };
    const emit: Emit = (resource, entities) => {
      const topic = topicOf(resource);
      const messages = pending.get(topic) ?? [];
      pending.set(topic, messages);
      for (const entity of entities)
        messages.push({
          key: String(entity.id ?? ''),
          value: values === 'json' ? JSON.stringify(entity) : EMPTY,
        });
      queued += entities.length;
      if (queued >= 2_000) flush();
    };
    const meter = cpuMeter({ loop: process.pid, simulator: pids.simulator, kafka: pids.kafka });
    const started = process.hrtime.bigint();
    const walk = await bareWalk(sim.url, sim.apiKey, concurrency, emit);
    await flush();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = meter();
    if (failed) throw failed;
    return { walk, seconds, cpu };
  } finally {
    await producer.disconnect();
    await dropNamespace(config, prefix);
  }
}
