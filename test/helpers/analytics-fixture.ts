/**
 * A small, deterministic Freshchat + Pure Chat dataset for the analytics views, written through
 * the real ClickHouse sink (`writeBatch`, what the runner calls) as Kafka records: entity
 * updates (a conversation's later states, an agent's new availability), redeliveries (the same
 * record at a later offset), duplicate events (the same event id twice) and a tombstone. The
 * expected answers are computed from these records in analytics-expected.ts.
 */
import type { AvroRecordSchema, SinkRecord } from '../../consumers/sink.ts';
import type { ClickHouseSink } from '../../consumers/sinks/clickhouse/sink.ts';
import { kindOf, latestSchema } from '../../schemas/catalog.ts';

export interface FixtureRecord {
  topic: string;
  key: string;
  /** null: a tombstone. */
  value: Record<string, unknown> | null;
  /** Kafka record time (ms). */
  ts: number;
}

const S = 1000;
const MIN = 60 * S;
/** 2025-06-01 08:00 UTC: far from "now", so only the in-progress chats depend on the clock. */
export const DAY0 = Date.UTC(2025, 5, 1, 8);
const status = (i: number) => (i % 3 === 0 ? 'resolved' : i % 3 === 1 ? 'assigned' : 'new');
const agentOf = (i: number) => (i % 4 === 0 ? null : `a${i % 3}`);

function freshchat(): FixtureRecord[] {
  const out: FixtureRecord[] = [];
  const agent = (id: string, first: string, last: string | null, availability: string, ts: number) =>
    out.push({
      topic: 'freshchat.agents',
      key: id,
      value: {
        id,
        first_name: first,
        last_name: last,
        availability_status: availability,
        is_deactivated: false,
      },
      ts,
    });
  agent('a0', 'Ann', 'Lee', 'AVAILABLE', DAY0);
  agent('a1', 'Bob', null, 'UNAVAILABLE', DAY0);
  agent('a2', 'Cy', 'Ode', 'AVAILABLE', DAY0);
  agent('a1', 'Bob', 'Ray', 'AVAILABLE', DAY0 + 5 * MIN); // an update: the latest wins
  for (const [id, name] of [
    ['g0', 'Support'],
    ['g1', 'Sales'],
  ])
    out.push({ topic: 'freshchat.groups', key: id as string, value: { id, name }, ts: DAY0 });

  for (let i = 0; i < 12; i++) {
    const id = `c${i}`;
    const created = DAY0 + i * 37 * MIN + (i >= 8 ? 86_400 * S : 0);
    const base = { conversation_id: id, created_time: created, channel_id: `ch${i % 2}`, user_id: `u${i}` };
    out.push({
      topic: 'freshchat.conversations',
      key: id,
      value: { ...base, status: 'new', updated_time: created },
      ts: created,
    });
    // The poller's last read: updated_time is the conversation's last change (its last event).
    const lastEvent = status(i) === 'resolved' ? (i === 6 ? 800 : 600) * (i + 1) * S : 0;
    const updated = created + Math.max(20 * MIN, lastEvent);
    const final = {
      ...base,
      status: status(i),
      assigned_agent_id: agentOf(i),
      assigned_group_id: `g${i % 2}`,
      updated_time: updated,
    };
    out.push({ topic: 'freshchat.conversations', key: id, value: final, ts: updated });
    if (i === 2) out.push({ topic: 'freshchat.conversations', key: id, value: final, ts: updated + MIN });

    const step = (i + 1) * MIN;
    const messages = 1 + (i % 4);
    for (let j = 0; j < messages; j++) {
      const actor = j % 2 === 0 ? 'user' : 'agent';
      const value = {
        id: `m${i}_${j}`,
        conversation_id: id,
        created_time: created + (j + 1) * step,
        actor_type: actor,
        actor_id: actor === 'user' ? `u${i}` : (agentOf(i) ?? 'a0'),
        ...(i === 7 ? {} : { message_type: 'normal' }), // some payloads lack message_type
      };
      const copies = i === 3 ? 2 : 1; // webhook and poll both deliver conversation 3's messages
      for (let k = 0; k < copies; k++)
        out.push({ topic: 'freshchat.messages', key: value.id, value, ts: value.created_time + k * S });
    }
    if (i % 3 !== 1) {
      // An agent's private note before any reply: not a response (i % 4 === 0 has no reply at all).
      const value = {
        id: `m${i}_note`,
        conversation_id: id,
        created_time: created + step / 2,
        actor_type: 'agent',
        actor_id: agentOf(i) ?? 'a0',
        message_type: 'private',
      };
      out.push({ topic: 'freshchat.messages', key: value.id, value, ts: value.created_time });
    }
    if (i % 5 === 0) {
      const value = {
        id: `m${i}_sys`,
        conversation_id: id,
        created_time: created + 30 * MIN,
        actor_type: 'system',
        actor_id: null,
      };
      out.push({ topic: 'freshchat.messages', key: value.id, value, ts: value.created_time });
    }

    const event = (n: number, action: string, at: number) => ({
      topic: 'freshchat.conversation_events',
      key: id,
      value: { event_id: `e${i}_${n}`, action, action_time: at, conversation_id: id, status: action },
      ts: at,
    });
    if (agentOf(i)) out.push(event(0, 'conversation_assignment', created + 30 * (i + 1) * S));
    if (i === 1) out.push({ ...event(0, 'conversation_assignment', created + 60 * S), ts: created + 61 * S });
    if (status(i) === 'resolved') out.push(event(1, 'conversation_resolution', created + 600 * (i + 1) * S));
    if (i === 6) {
      out.push(event(2, 'conversation_reopen', created + 700 * (i + 1) * S));
      out.push(event(3, 'conversation_resolution', created + 800 * (i + 1) * S));
      out.push(event(3, 'conversation_resolution', created + 800 * (i + 1) * S)); // redelivered
    }
  }
  pollOnly(out);
  // Conversation 16 has no created_time (a payload without it): in neither open now nor the backlog.
  const late = DAY0 + 2 * 86_400 * S;
  out.push({
    topic: 'freshchat.conversations',
    key: 'c16',
    value: {
      conversation_id: 'c16',
      created_time: null,
      channel_id: 'ch1',
      user_id: 'u16',
      status: 'assigned',
      assigned_agent_id: 'a2',
      assigned_group_id: 'g1',
      updated_time: late,
    },
    ts: late,
  });
  // Conversation 11 is deleted: it leaves the conversation views (its messages stay events).
  out.push({ topic: 'freshchat.conversations', key: 'c11', value: null, ts: DAY0 + 3 * 86_400 * S });
  return out;
}

/**
 * Conversations 12–15: 12 with webhook events (resolved, then reopened, polled as `reopened`);
 * 13–15 seen by the poller only (no events): resolved, `reopened`, assigned. An event of a
 * conversation the poller never saw, and one from before its conversation's creation.
 */
function pollOnly(out: FixtureRecord[]): void {
  const day = DAY0 + 86_400 * S + 8 * 60 * MIN; // 2025-06-02 16:00, after conversations 8–10
  const conversation = (n: number, created: number, status: string, updated: number) => {
    const id = `c${n}`;
    const value = { conversation_id: id, created_time: created, channel_id: 'ch0', user_id: `u${n}` };
    out.push({
      topic: 'freshchat.conversations',
      key: id,
      value: { ...value, status: 'new', updated_time: created },
      ts: created,
    });
    out.push({
      topic: 'freshchat.conversations',
      key: id,
      value: { ...value, status, assigned_agent_id: 'a2', assigned_group_id: 'g1', updated_time: updated },
      ts: updated,
    });
  };
  const event = (id: string, conversation: string, action: string, at: number) =>
    out.push({
      topic: 'freshchat.conversation_events',
      key: conversation,
      value: { event_id: id, action, action_time: at, conversation_id: conversation, status: action },
      ts: at,
    });
  conversation(12, day, 'reopened', day + 30 * MIN);
  event('e12_0', 'c12', 'conversation_resolution', day + 10 * MIN);
  event('e12_1', 'c12', 'conversation_reopen', day + 30 * MIN);
  conversation(13, day + 20 * MIN, 'resolved', day + 65 * MIN);
  conversation(14, day + 40 * MIN, 'reopened', day + 130 * MIN);
  conversation(15, day + 50 * MIN, 'assigned', day + 55 * MIN);
  event('e99_0', 'c99', 'conversation_resolution', day + 15 * MIN); // never polled: not counted
  event('e0_early', 'c0', 'conversation_resolution', DAY0 - 5 * MIN); // before c0 was created
}

function purechat(now: number): FixtureRecord[] {
  const out: FixtureRecord[] = [];
  let n = 0;
  const add = (session: number, name: string, at: number, copies = 1) => {
    const value = {
      event_id: `pe${n++}`,
      name,
      session_id: `s${session}`,
      visitor_id: session === 3 ? null : `v${session % 3}`,
      widget_id: `w${session % 2}`,
      received_time: at,
      occurred_time: at - S,
    };
    for (let k = 0; k < copies; k++)
      out.push({ topic: 'purechat.events', key: value.session_id, value, ts: at + k * S });
  };
  for (let s = 0; s < 4; s++) {
    const t = DAY0 + s * 50 * MIN;
    const copies = s === 0 ? 2 : 1; // session 0's events were all sent twice
    add(s, 'chatbox:ready', t, copies);
    if (s !== 2) add(s, 'chatbox:ready', t + 2 * MIN, copies);
    if (s % 2 === 0) add(s, 'chatbox:expand', t + 3 * MIN, copies);
    if (s !== 3) add(s, 'chat:start', t + 4 * MIN, copies);
    if (s < 2) add(s, 'chat:end', t + 40 * MIN, copies);
    if (s === 3) add(s, 'email:send', t + 5 * MIN, copies);
  }
  // Session 9 (visitor v0, also on widget w0 as session 0, so on two widgets that day; widget
  // w1): the chat box loads once and is opened three times, twice in its hour and once in the
  // next hour (where it had no ready: that hour has no session to open).
  const t9 = DAY0 + 3 * 60 * MIN; // 11:00
  add(9, 'chatbox:ready', t9);
  add(9, 'chatbox:expand', t9 + 5 * MIN);
  add(9, 'chatbox:expand', t9 + 20 * MIN, 2);
  add(9, 'chatbox:expand', t9 + 70 * MIN);
  // Today: session 4 is chatting now; session 5 started and ended; session 6 started 5 h ago.
  add(4, 'chatbox:ready', now - 12 * MIN);
  add(4, 'chat:start', now - 10 * MIN, 2);
  add(5, 'chat:start', now - 20 * MIN);
  add(5, 'chat:end', now - 15 * MIN);
  add(6, 'chat:start', now - 5 * 3600 * S);
  return out;
}

/** The dataset; `now` (whole seconds) places the in-progress chats. */
export function fixture(now: number): FixtureRecord[] {
  return [...freshchat(), ...purechat(now)];
}

/** Writes the records with the real sink, per topic in order, as Kafka would hand them over. */
export async function writeFixture(
  sink: ClickHouseSink,
  prefix: string,
  records: FixtureRecord[],
): Promise<void> {
  const topics = [...new Set(records.map((r) => r.topic))];
  for (const topic of topics) {
    const schema = JSON.parse(latestSchema(kindOf(topic)).text) as AvroRecordSchema;
    const batch: SinkRecord[] = records
      .filter((r) => r.topic === topic)
      .map((r, offset) => ({
        topic: `${prefix}${topic}`,
        partition: 0,
        offset: BigInt(offset),
        timestamp: r.ts,
        key: r.key,
        value: r.value as Record<string, unknown>,
        schemaId: 1_900_000_000 + topics.indexOf(topic),
        schema,
        bytes: 100,
      }));
    await sink.writeBatch({
      group: 'analytics-fixture',
      topic: `${prefix}${topic}`,
      partition: 0,
      records: batch,
    });
  }
}
