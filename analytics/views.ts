/**
 * The analytics views: plain ClickHouse VIEWs over the sink's `_dedup` views (entities as their
 * latest state per key, events each once), so every number counts a record once however often
 * it was delivered or updated. SQL that ClickHouse 18.16 and current releases both accept: one
 * JOIN per SELECT (nested), no window functions, `ifNull` around Nullable conditions.
 *
 * Definitions (what a number means):
 *  - a conversation's open/resolved steps: its creation (open), its webhook resolution / reopen
 *    events at their `action_time` (not before creation), and its latest polled state at its
 *    `updated_time` (resolved, or open for any other status), in time order (at equal times:
 *    creation, events, the state). A step that changes open ↔ resolved is a resolution or a
 *    reopen; one that does not is no news. A polled `reopened` status of a conversation with no
 *    resolution / reopen event implies a resolution and a reopen at its `updated_time`. So the
 *    poller alone (no webhooks) gives resolutions at `updated_time`, and the last step is the
 *    latest status: the backlog now equals the open conversations now;
 *  - opened: conversations by the hour of their `created_time` (latest state); resolved /
 *    reopened: those steps by the hour they happened; assigned: assignment events by `action_time`;
 *  - backlog at an hour: opened + reopened − resolved up to the end of that hour;
 *  - open now: conversations (with a `created_time`, as the backlog) whose latest status is not
 *    `resolved`;
 *  - first response: seconds from a conversation's creation to its first agent message that is
 *    not a private note (`message_type` `private`);
 *    resolution: seconds from creation to its first resolution step (a resolution event, or the
 *    polled resolved state's `updated_time` — the time it last changed, an upper bound — when no
 *    event says; unknown for the resolution only implied by a polled `reopened`);
 *    medians and p90 are nearest-rank (`quantileExact`: the sorted value at floor(q·n));
 *  - Pure Chat: events by the hour (and day) the collector received them, per widget; open rate =
 *    of the sessions with `chatbox:ready` in that hour (day), the share that also had
 *    `chatbox:expand` (distinct sessions: expand fires on every open, so it is at most 100 %);
 *    visitors = distinct `visitor_id` per widget, and per day across widgets (a visitor on two
 *    widgets counts once in the total); a chat is in progress
 *    when its session's last `chat:start` is later than its last `chat:end` and at most
 *    IN_PROGRESS_HOURS old (a browser that went away never sends `chat:end`).
 */
import { quoteIdent } from '../consumers/sinks/clickhouse/schema.ts';
import type { Sources } from './sources.ts';

export const IN_PROGRESS_HOURS = 4;

export interface ViewDefinition {
  name: string;
  /** What a row holds, for the README and the migration log. */
  doc: string;
  /** The SELECT, reading the sources and (as `v.<name>`) other analytics views. */
  select: (s: Sources, v: (name: string) => string) => string;
}

/**
 * Per conversation (with a `created_time`): its open/resolved steps, each a number
 * `time · 8 + order · 2 + open` (order: 0 creation, 1 event, 2 implied resolution, 3 latest
 * state), sorted, and for each step the change it makes (+1 opened or reopened, −1 resolved, 0).
 */
const conversationSteps = (s: Sources) => `
SELECT conversation_id, created, steps, arrayMap((x, y) -> toInt8(x) - toInt8(y), opens, arrayPushFront(arrayPopBack(opens), 0)) AS changes
FROM (
  SELECT conversation_id, created, arraySort(arrayConcat([toUInt64(created) * 8 + 1], arrayFilter(x -> intDiv(x, 8) >= created, event_steps),
      if(state = 'resolved', [toUInt64(updated) * 8 + 6],
        if(state IN ('reopened', 'reopen') AND length(event_steps) = 0, [toUInt64(updated) * 8 + 4, toUInt64(updated) * 8 + 7], [toUInt64(updated) * 8 + 7])))) AS steps,
    arrayMap(x -> x % 2, steps) AS opens
  FROM (
    SELECT conversation_id, toUInt32(assumeNotNull(created_time)) AS created,
      greatest(toUInt32(ifNull(updated_time, assumeNotNull(created_time))), created) AS updated, ifNull(status, '') AS state
    FROM ${s.conversations} WHERE created_time IS NOT NULL
  ) ANY LEFT JOIN (
    SELECT conversation_id, groupArray(toUInt64(toUInt32(action_time)) * 8 + if(action = 'conversation_reopen', 3, 2)) AS event_steps
    FROM ${s.events} WHERE action IN ('conversation_resolution', 'conversation_reopen') GROUP BY conversation_id
  ) USING conversation_id
)`;

const conversationTimes = (s: Sources) => `
SELECT conversation_id, toDate(created) AS day, created AS created_time, channel_id, group_id, agent_id,
  if(first_agent_ts > 0 AND first_agent_ts >= toUInt32(created), toInt64(first_agent_ts) - toInt64(toUInt32(created)), NULL) AS first_response_seconds,
  if(resolved_ts > 0, toInt64(resolved_ts) - toInt64(toUInt32(created)), NULL) AS resolution_seconds
FROM (
  SELECT * FROM (
    SELECT conversation_id, assumeNotNull(created_time) AS created, ifNull(channel_id, '') AS channel_id,
      ifNull(assigned_group_id, '') AS group_id, ifNull(assigned_agent_id, '') AS agent_id
    FROM ${s.conversations} WHERE created_time IS NOT NULL
  ) ANY LEFT JOIN (
    SELECT conversation_id, minIf(toUInt32(assumeNotNull(created_time)), ifNull(actor_type, '') = 'agent' AND ifNull(message_type, '') != 'private' AND created_time IS NOT NULL) AS first_agent_ts
    FROM ${s.messages} GROUP BY conversation_id
  ) USING conversation_id
) ANY LEFT JOIN (
  SELECT conversation_id, intDiv(arrayFirst((x, c) -> c = -1 AND intDiv(x % 8, 2) != 2, steps, changes), 8) AS resolved_ts
  FROM (${conversationSteps(s)})
) USING conversation_id`;

/** Pure Chat events per bucket (`bucket` AS `alias`), widget and session: counts and whether it had ready / expand. */
const purechatSessions = (s: Sources, bucket: string, alias: string) => `
  SELECT ${bucket} AS ${alias}, widget_id, session_id, countIf(name = 'chat:start') AS started, countIf(name = 'chat:end') AS ended,
    countIf(name = 'email:send') AS sent, max(name = 'chatbox:ready') AS has_ready, max(name = 'chatbox:expand') AS has_expand
  FROM ${s.purechat} GROUP BY ${alias}, widget_id, session_id`;

const agentNames = (s: Sources) =>
  `SELECT id AS agent_id, arrayStringConcat(arrayFilter(x -> x != '', [ifNull(first_name, ''), ifNull(last_name, '')]), ' ') AS agent_name, ifNull(availability_status, '') AS availability_status, ifNull(is_deactivated, 0) AS is_deactivated FROM ${s.agents}`;

export const VIEWS: ViewDefinition[] = [
  {
    name: 'analytics_conversations_hourly',
    doc: 'hour, opened, assigned, resolved, reopened (resolutions and reopens from the events and the polled state)',
    select: (s) => `
SELECT hour, sum(opened) AS opened, sum(assigned) AS assigned, sum(resolved) AS resolved, sum(reopened) AS reopened FROM (
  SELECT toStartOfHour(toDateTime(intDiv(step, 8), 'UTC')) AS hour, countIf(change = 1 AND step % 8 = 1) AS opened, toUInt64(0) AS assigned,
    countIf(change = -1) AS resolved, countIf(change = 1 AND step % 8 != 1) AS reopened
  FROM (${conversationSteps(s)}) ARRAY JOIN steps AS step, changes AS change WHERE change != 0 GROUP BY hour
  UNION ALL
  SELECT toStartOfHour(action_time) AS hour, toUInt64(0) AS opened, count() AS assigned, toUInt64(0) AS resolved, toUInt64(0) AS reopened
  FROM ${s.events} WHERE action = 'conversation_assignment' GROUP BY hour
) GROUP BY hour`,
  },
  {
    name: 'analytics_backlog_hourly',
    doc: 'hour, backlog (opened + reopened − resolved, cumulative)',
    select: (_s, v) => `
SELECT hour, backlog FROM (
  SELECT groupArray(hour) AS hours, arrayCumSum(groupArray(delta)) AS totals FROM (
    SELECT hour, toInt64(opened) + toInt64(reopened) - toInt64(resolved) AS delta FROM ${v('analytics_conversations_hourly')} ORDER BY hour
  )
) ARRAY JOIN hours AS hour, totals AS backlog`,
  },
  {
    name: 'analytics_open_conversations',
    doc: 'agent_id, agent_name, group_id, group_name, open (conversations not resolved, now)',
    select: (s) => `
SELECT agent_id, agent_name, group_id, ifNull(group_name, '') AS group_name, open FROM (
  SELECT * FROM (
    SELECT ifNull(assigned_agent_id, '') AS agent_id, ifNull(assigned_group_id, '') AS group_id, count() AS open
    FROM ${s.conversations} WHERE ifNull(status, '') != 'resolved' AND created_time IS NOT NULL GROUP BY agent_id, group_id
  ) ANY LEFT JOIN (${agentNames(s)}) USING agent_id
) ANY LEFT JOIN (SELECT id AS group_id, name AS group_name FROM ${s.groups}) USING group_id`,
  },
  {
    name: 'analytics_conversation_times',
    doc: 'conversation_id, day, created_time, channel_id, group_id, agent_id, first_response_seconds, resolution_seconds',
    select: conversationTimes,
  },
  {
    name: 'analytics_response_times_daily',
    doc: 'day, conversations, first_response_p50/p90, resolution_p50/p90 (seconds)',
    select: (_s, v) => `
SELECT day, count() AS conversations,
  quantileExact(0.5)(first_response_seconds) AS first_response_p50, quantileExact(0.9)(first_response_seconds) AS first_response_p90,
  quantileExact(0.5)(resolution_seconds) AS resolution_p50, quantileExact(0.9)(resolution_seconds) AS resolution_p90
FROM ${v('analytics_conversation_times')} GROUP BY day`,
  },
  {
    name: 'analytics_messages_per_conversation',
    doc: 'conversation_id, first_time, messages, user_messages, agent_messages, system_messages',
    select: (s) => `
SELECT conversation_id, min(assumeNotNull(created_time)) AS first_time, count() AS messages,
  countIf(ifNull(actor_type, '') = 'user') AS user_messages, countIf(ifNull(actor_type, '') = 'agent') AS agent_messages,
  countIf(ifNull(actor_type, '') = 'system') AS system_messages
FROM ${s.messages} WHERE created_time IS NOT NULL GROUP BY conversation_id`,
  },
  {
    name: 'analytics_messages_hourly',
    doc: 'hour, messages, user_messages, agent_messages, system_messages',
    select: (s) => `
SELECT toStartOfHour(assumeNotNull(created_time)) AS hour, count() AS messages,
  countIf(ifNull(actor_type, '') = 'user') AS user_messages, countIf(ifNull(actor_type, '') = 'agent') AS agent_messages,
  countIf(ifNull(actor_type, '') = 'system') AS system_messages
FROM ${s.messages} WHERE created_time IS NOT NULL GROUP BY hour`,
  },
  {
    name: 'analytics_agent_activity_daily',
    doc: 'day, agent_id, agent_name, messages, conversations (agent messages sent, conversations they wrote in)',
    select: (s) => `
SELECT day, agent_id, ifNull(agent_name, '') AS agent_name, messages, conversations FROM (
  SELECT toDate(assumeNotNull(created_time)) AS day, ifNull(actor_id, '') AS agent_id, count() AS messages, uniqExact(conversation_id) AS conversations
  FROM ${s.messages} WHERE ifNull(actor_type, '') = 'agent' AND created_time IS NOT NULL GROUP BY day, agent_id
) ANY LEFT JOIN (${agentNames(s)}) USING agent_id`,
  },
  {
    name: 'analytics_agent_availability',
    doc: 'agent_id, agent_name, availability_status, is_deactivated, open_conversations (now)',
    select: (s) => `
SELECT agent_id, agent_name, availability_status, is_deactivated, open_conversations FROM (${agentNames(s)})
ANY LEFT JOIN (
  SELECT ifNull(assigned_agent_id, '') AS agent_id, count() AS open_conversations
  FROM ${s.conversations} WHERE ifNull(status, '') != 'resolved' AND created_time IS NOT NULL GROUP BY agent_id
) USING agent_id`,
  },
  {
    name: 'analytics_purechat_hourly',
    doc: 'hour, widget_id, chats_started, chats_ended, emails, ready_sessions, opened_sessions (sessions with `chatbox:ready`; of those, with `chatbox:expand`)',
    select: (s) => `
SELECT hour, widget_id, sum(started) AS chats_started, sum(ended) AS chats_ended, sum(sent) AS emails,
  countIf(has_ready = 1) AS ready_sessions, countIf(has_ready = 1 AND has_expand = 1) AS opened_sessions
FROM (${purechatSessions(s, 'toStartOfHour(received_time)', 'hour')}) GROUP BY hour, widget_id`,
  },
  {
    name: 'analytics_purechat_daily',
    doc: 'day, widget_id, visitors, ready_sessions, opened_sessions, open_rate (opened_sessions / ready_sessions; 0 without ready)',
    select: (s) => `
SELECT day, widget_id, visitors, ready_sessions, opened_sessions, if(ready_sessions > 0, opened_sessions / ready_sessions, 0) AS open_rate FROM (
  SELECT day, widget_id, countIf(has_ready = 1) AS ready_sessions, countIf(has_ready = 1 AND has_expand = 1) AS opened_sessions
  FROM (${purechatSessions(s, 'toDate(received_time)', 'day')}) GROUP BY day, widget_id
) ANY LEFT JOIN (
  SELECT toDate(received_time) AS day, widget_id, uniqExact(visitor_id) AS visitors FROM ${s.purechat} GROUP BY day, widget_id
) USING day, widget_id`,
  },
  {
    name: 'analytics_purechat_visitors_daily',
    doc: 'day, visitors (distinct across widgets: a visitor on two widgets counts once)',
    select: (s) => `
SELECT toDate(received_time) AS day, uniqExact(visitor_id) AS visitors FROM ${s.purechat} GROUP BY day`,
  },
  {
    name: 'analytics_purechat_in_progress',
    doc: `widget_id, session_id, started (chats started and not ended, started in the last ${IN_PROGRESS_HOURS} h)`,
    select: (s) => `
SELECT widget_id, session_id, started FROM (
  SELECT widget_id, session_id, maxIf(toUInt32(received_time), name = 'chat:start') AS started_ts,
    maxIf(toUInt32(received_time), name = 'chat:end') AS ended_ts, toDateTime(started_ts, 'UTC') AS started
  FROM ${s.purechat} WHERE name IN ('chat:start', 'chat:end') GROUP BY widget_id, session_id
) WHERE started_ts > ended_ts AND started_ts >= toUInt32(now()) - ${IN_PROGRESS_HOURS * 3600}`,
  },
];

/** `CREATE VIEW` for one definition; `database` holds the sources and the views. */
export function createAnalyticsViewSql(database: string, view: ViewDefinition, s: Sources): string {
  const ref = (name: string) => `${quoteIdent(database)}.${quoteIdent(name)}`;
  return `CREATE VIEW ${ref(view.name)} AS ${view.select(s, ref).trim()}`;
}
