/**
 * What each analytics view must return for a fixture, computed in JavaScript from the records
 * (not from ClickHouse): entities de-duplicated to their latest record (by record time, then
 * position), deleted keys dropped; events once per id; then the definitions in analytics/views.ts.
 * Rows are plain objects of strings and numbers, in the view's column order, sorted.
 */
import type { FixtureRecord } from './analytics-fixture.ts';

type Row = Record<string, string | number | null>;
type V = Record<string, unknown>;

const pad = (n: number) => String(n).padStart(2, '0');
export const dateTime = (ms: number) => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
};
const hourOf = (ms: number) => dateTime(Math.floor(ms / 3_600_000) * 3_600_000);
const dayOf = (ms: number) => dateTime(ms).slice(0, 10);

/** Latest value per key (by ts, then position); tombstoned keys removed. */
function latest(records: FixtureRecord[], topic: string): V[] {
  const byKey = new Map<string, { ts: number; value: V | null }>();
  for (const r of records.filter((x) => x.topic === topic)) {
    const seen = byKey.get(r.key);
    if (!seen || r.ts >= seen.ts) byKey.set(r.key, { ts: r.ts, value: r.value });
  }
  return [...byKey.values()].flatMap((e) => (e.value ? [e.value] : []));
}

/** Each event once per `field` (the first delivery). */
function once(records: FixtureRecord[], topic: string, field: string): V[] {
  const seen = new Map<string, V>();
  for (const r of records.filter((x) => x.topic === topic))
    if (r.value && !seen.has(String(r.value[field]))) seen.set(String(r.value[field]), r.value);
  return [...seen.values()];
}

/** Nearest-rank quantile: the sorted value at floor(q·n); null without values. */
export function quantile(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

function group<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) out.set(key(item), [...(out.get(key(item)) ?? []), item]);
  return out;
}

const sortRows = (rows: Row[]) => rows.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
const str = (v: unknown) => (v === null || v === undefined ? '' : String(v));
const count = <T>(items: T[], pred: (t: T) => boolean) => items.filter(pred).length;

export function expectedViews(records: FixtureRecord[], now: number): Record<string, Row[]> {
  const conversations = latest(records, 'freshchat.conversations');
  const agents = latest(records, 'freshchat.agents');
  const groups = latest(records, 'freshchat.groups');
  const messages = latest(records, 'freshchat.messages');
  const events = once(records, 'freshchat.conversation_events', 'event_id');
  const pc = once(records, 'purechat.events', 'event_id');
  const agentName = (id: string) => {
    const a = agents.find((x) => x.id === id);
    return a ? [a.first_name, a.last_name].filter((x) => x).join(' ') : '';
  };
  // Conversations without a created_time are in no conversation view (open now as the backlog).
  const created = conversations.filter((c) => c.created_time !== null && c.created_time !== undefined);
  const open = created.filter((c) => c.status !== 'resolved');

  // Each conversation's life, replayed: creation opens it; its resolution / reopen events (not
  // before creation) and its polled latest state (resolved or not, at updated_time) say whether
  // it is open from then on; a polled `reopened` without such events was resolved and reopened at
  // updated_time. At equal times: creation, events, implied resolution, state.
  type Step = { t: number; rank: number; open: boolean };
  const life = (c: V) => {
    const created = c.created_time as number;
    const updated = Math.max(created, (c.updated_time as number | undefined) ?? created);
    const own = events.filter(
      (e) =>
        e.conversation_id === c.conversation_id &&
        (e.action === 'conversation_resolution' || e.action === 'conversation_reopen'),
    );
    const steps: Step[] = [{ t: created, rank: 0, open: true }];
    for (const e of own)
      if ((e.action_time as number) >= created)
        steps.push({ t: e.action_time as number, rank: 1, open: e.action === 'conversation_reopen' });
    const reopened = c.status === 'reopened' || c.status === 'reopen';
    if (reopened && own.length === 0) steps.push({ t: updated, rank: 2, open: false });
    steps.push({ t: updated, rank: 3, open: c.status !== 'resolved' });
    steps.sort((a, b) => a.t - b.t || a.rank - b.rank);
    let open = false;
    const changes: { t: number; kind: 'opened' | 'resolved' | 'reopened'; implied: boolean }[] = [];
    for (const s of steps) {
      if (s.open !== open)
        changes.push({
          t: s.t,
          kind: s.rank === 0 ? 'opened' : s.open ? 'reopened' : 'resolved',
          implied: s.rank === 2,
        });
      open = s.open;
    }
    return changes;
  };
  const lives = new Map(created.map((c) => [c.conversation_id, life(c)]));

  const hourly = new Map<string, { opened: number; assigned: number; resolved: number; reopened: number }>();
  const bump = (ms: number, field: 'opened' | 'assigned' | 'resolved' | 'reopened') => {
    const h = hourOf(ms);
    const row = hourly.get(h) ?? { opened: 0, assigned: 0, resolved: 0, reopened: 0 };
    row[field] += 1;
    hourly.set(h, row);
  };
  for (const changes of lives.values()) for (const ch of changes) bump(ch.t, ch.kind);
  for (const e of events)
    if (e.action === 'conversation_assignment') bump(e.action_time as number, 'assigned');
  let backlog = 0;
  const backlogRows = [...hourly.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([hour, r]) => {
      backlog += r.opened + r.reopened - r.resolved;
      return { hour, backlog };
    });

  const times = created.map((c) => {
    const created = c.created_time as number;
    const agentMsgs = messages
      .filter(
        (m) =>
          m.conversation_id === c.conversation_id && m.actor_type === 'agent' && m.message_type !== 'private',
      )
      .map((m) => m.created_time as number);
    const firstAgent = agentMsgs.length ? Math.min(...agentMsgs) : undefined;
    const resolution = lives.get(c.conversation_id)?.find((ch) => ch.kind === 'resolved' && !ch.implied);
    return {
      conversation_id: str(c.conversation_id),
      day: dayOf(created),
      created_time: dateTime(created),
      channel_id: str(c.channel_id),
      group_id: str(c.assigned_group_id),
      agent_id: str(c.assigned_agent_id),
      first_response_seconds:
        firstAgent !== undefined && firstAgent >= created ? (firstAgent - created) / 1000 : null,
      resolution_seconds: resolution ? (resolution.t - created) / 1000 : null,
    };
  });
  const nonNull = (xs: (number | null)[]) => xs.filter((x): x is number => x !== null);

  const msgByHour = group(messages, (m) => hourOf(m.created_time as number));
  const agentMsgs = messages.filter((m) => m.actor_type === 'agent');
  const pcHour = group(pc, (e) => `${hourOf(e.received_time as number)}|${e.widget_id}`);
  const pcDay = group(pc, (e) => `${dayOf(e.received_time as number)}|${e.widget_id}`);
  const sessions = group(
    pc.filter((e) => e.name === 'chat:start' || e.name === 'chat:end'),
    (e) => `${e.widget_id}|${e.session_id}`,
  );
  /** Sessions (distinct) with chatbox:ready in the bucket, and of those the ones with chatbox:expand in it. */
  const openRate = (es: V[]) => {
    const with_ = (name: string) => new Set(es.filter((e) => e.name === name).map((e) => e.session_id));
    const ready = with_('chatbox:ready');
    const expanded = with_('chatbox:expand');
    return { ready_sessions: ready.size, opened_sessions: [...ready].filter((s) => expanded.has(s)).length };
  };
  const visitors = (es: V[]) => new Set(es.map((e) => e.visitor_id).filter((v) => v)).size;
  const maxTime = (es: V[], name: string) =>
    Math.max(
      0,
      ...es.filter((e) => e.name === name).map((e) => Math.floor((e.received_time as number) / 1000)),
    );

  return {
    analytics_conversations_hourly: sortRows([...hourly].map(([hour, r]) => ({ hour, ...r }))),
    analytics_backlog_hourly: sortRows(backlogRows),
    analytics_open_conversations: sortRows(
      [...group(open, (c) => `${str(c.assigned_agent_id)}|${str(c.assigned_group_id)}`)].map(([k, cs]) => {
        const [agentId, groupId] = k.split('|') as [string, string];
        return {
          agent_id: agentId,
          agent_name: agentName(agentId),
          group_id: groupId,
          group_name: str(groups.find((g) => g.id === groupId)?.name),
          open: cs.length,
        };
      }),
    ),
    analytics_conversation_times: sortRows(times),
    analytics_response_times_daily: sortRows(
      [...group(times, (t) => t.day)].map(([day, ts]) => ({
        day,
        conversations: ts.length,
        first_response_p50: quantile(nonNull(ts.map((t) => t.first_response_seconds)), 0.5),
        first_response_p90: quantile(nonNull(ts.map((t) => t.first_response_seconds)), 0.9),
        resolution_p50: quantile(nonNull(ts.map((t) => t.resolution_seconds)), 0.5),
        resolution_p90: quantile(nonNull(ts.map((t) => t.resolution_seconds)), 0.9),
      })),
    ),
    analytics_messages_per_conversation: sortRows(
      [...group(messages, (m) => str(m.conversation_id))].map(([conversationId, ms]) => ({
        conversation_id: conversationId,
        first_time: dateTime(Math.min(...ms.map((m) => m.created_time as number))),
        messages: ms.length,
        user_messages: count(ms, (m) => m.actor_type === 'user'),
        agent_messages: count(ms, (m) => m.actor_type === 'agent'),
        system_messages: count(ms, (m) => m.actor_type === 'system'),
      })),
    ),
    analytics_messages_hourly: sortRows(
      [...msgByHour].map(([hour, ms]) => ({
        hour,
        messages: ms.length,
        user_messages: count(ms, (m) => m.actor_type === 'user'),
        agent_messages: count(ms, (m) => m.actor_type === 'agent'),
        system_messages: count(ms, (m) => m.actor_type === 'system'),
      })),
    ),
    analytics_agent_activity_daily: sortRows(
      [...group(agentMsgs, (m) => `${dayOf(m.created_time as number)}|${str(m.actor_id)}`)].map(([k, ms]) => {
        const [day, agentId] = k.split('|') as [string, string];
        return {
          day,
          agent_id: agentId,
          agent_name: agentName(agentId),
          messages: ms.length,
          conversations: new Set(ms.map((m) => m.conversation_id)).size,
        };
      }),
    ),
    analytics_agent_availability: sortRows(
      agents.map((a) => ({
        agent_id: str(a.id),
        agent_name: agentName(str(a.id)),
        availability_status: str(a.availability_status),
        is_deactivated: a.is_deactivated ? 1 : 0,
        open_conversations: count(open, (c) => c.assigned_agent_id === a.id),
      })),
    ),
    analytics_purechat_hourly: sortRows(
      [...pcHour].map(([k, es]) => {
        const [hour, widgetId] = k.split('|') as [string, string];
        return {
          hour,
          widget_id: widgetId,
          chats_started: count(es, (e) => e.name === 'chat:start'),
          chats_ended: count(es, (e) => e.name === 'chat:end'),
          emails: count(es, (e) => e.name === 'email:send'),
          ...openRate(es),
        };
      }),
    ),
    analytics_purechat_daily: sortRows(
      [...pcDay].map(([k, es]) => {
        const [day, widgetId] = k.split('|') as [string, string];
        const rate = openRate(es);
        return {
          day,
          widget_id: widgetId,
          visitors: visitors(es),
          ...rate,
          open_rate: rate.ready_sessions > 0 ? rate.opened_sessions / rate.ready_sessions : 0,
        };
      }),
    ),
    analytics_purechat_visitors_daily: sortRows(
      [...group(pc, (e) => dayOf(e.received_time as number))].map(([day, es]) => ({
        day,
        visitors: visitors(es),
      })),
    ),
    analytics_purechat_in_progress: sortRows(
      [...sessions].flatMap(([k, es]) => {
        const [widgetId, sessionId] = k.split('|') as [string, string];
        const started = maxTime(es, 'chat:start');
        const ended = maxTime(es, 'chat:end');
        return started > ended && started >= Math.floor(now / 1000) - 4 * 3600
          ? [{ widget_id: widgetId, session_id: sessionId, started: dateTime(started * 1000) }]
          : [];
      }),
    ),
  };
}
