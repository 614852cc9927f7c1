/**
 * The dashboard's panels: one definition each, the single source of truth for the built-in page
 * (rendered by the server with literals) and for the generated Grafana dashboard (rendered with
 * the ClickHouse datasource's macros). Each query is fixed; only `{{db}}` (the database, quoted)
 * and `{{from}}` / `{{to}}` (DateTime expressions) are filled in. They read the analytics views.
 *
 * Ranges: every panel covers whole hours — from the start of `from`'s hour to the end of `to`'s
 * hour — whether it reads an hourly view or exact times, so the tiles agree; the per-day charts
 * cover whole days.
 *
 * Shapes: `stat` returns one row with `value`; `timeseries` returns `t` (a DateTime) first and
 * numeric series after, ordered by `t`; `table` returns rows as shown.
 */
import { quoteIdent } from '../consumers/sinks/clickhouse/schema.ts';

export type PanelKind = 'stat' | 'timeseries' | 'table';

export interface Panel {
  id: string;
  title: string;
  section: 'Freshchat' | 'Pure Chat';
  kind: PanelKind;
  /** Seconds are shown as durations; ratios as percentages. */
  unit?: 'seconds' | 'ratio';
  description: string;
  sql: string;
}

const inHours = (column: string) => `${column} >= toStartOfHour({{from}}) AND ${column} <= {{to}}`;
const inDays = (column: string) => `${column} >= toDate({{from}}) AND ${column} <= toDate({{to}})`;
/** Exact times, cut at the same whole hours as the hourly views (see range.ts alignToHours). */
const inTimes = (column: string) =>
  `${column} >= toStartOfHour({{from}}) AND ${column} < toStartOfHour({{to}}) + 3600`;
const agent = `if(agent_name != '', agent_name, if(agent_id != '', agent_id, '(unassigned)'))`;
const quantiles = (column: string, name: string) =>
  `quantileExact(0.5)(${column}) AS ${name}_p50, quantileExact(0.9)(${column}) AS ${name}_p90`;
const responseBy = (dimension: string, label: string): string =>
  `SELECT if(${dimension} = '', '(none)', ${dimension}) AS ${label}, count() AS conversations, ${quantiles('first_response_seconds', 'first_response')}, ${quantiles('resolution_seconds', 'resolution')} FROM {{db}}.analytics_conversation_times WHERE ${inTimes('created_time')} GROUP BY ${label} ORDER BY conversations DESC, ${label} LIMIT 50`;

export const PANELS: Panel[] = [
  {
    id: 'conversations_opened',
    title: 'Conversations opened',
    section: 'Freshchat',
    kind: 'stat',
    description: 'Conversations created in the range (each once, latest state).',
    sql: `SELECT sum(opened) AS value FROM {{db}}.analytics_conversations_hourly WHERE ${inHours('hour')}`,
  },
  {
    id: 'open_now',
    title: 'Open now',
    section: 'Freshchat',
    kind: 'stat',
    description: 'Conversations (with a creation time, as the backlog) whose latest status is not resolved.',
    sql: 'SELECT sum(open) AS value FROM {{db}}.analytics_open_conversations',
  },
  {
    id: 'messages',
    title: 'Messages',
    section: 'Freshchat',
    kind: 'stat',
    description: 'Messages created in the range (each once).',
    sql: `SELECT sum(messages) AS value FROM {{db}}.analytics_messages_hourly WHERE ${inHours('hour')}`,
  },
  {
    id: 'first_response_median',
    title: 'First response (median)',
    section: 'Freshchat',
    kind: 'stat',
    unit: 'seconds',
    description:
      'Median seconds from creation to the first agent message, conversations created in the range.',
    sql: `SELECT quantileExact(0.5)(first_response_seconds) AS value FROM {{db}}.analytics_conversation_times WHERE ${inTimes('created_time')}`,
  },
  {
    id: 'conversations_hourly',
    title: 'Conversations per hour (UTC)',
    section: 'Freshchat',
    kind: 'timeseries',
    description: 'Opened, assigned, resolved and reopened per hour.',
    sql: `SELECT hour AS t, opened, assigned, resolved, reopened FROM {{db}}.analytics_conversations_hourly WHERE ${inHours('hour')} ORDER BY t`,
  },
  {
    id: 'backlog',
    title: 'Backlog (UTC hours)',
    section: 'Freshchat',
    kind: 'timeseries',
    description: 'Conversations open at the end of each hour (opened + reopened − resolved so far).',
    sql: `SELECT hour AS t, backlog FROM {{db}}.analytics_backlog_hourly WHERE ${inHours('hour')} ORDER BY t`,
  },
  {
    id: 'open_by_agent',
    title: 'Open conversations by agent and group',
    section: 'Freshchat',
    kind: 'table',
    description: 'Now, per assigned agent and group.',
    sql: `SELECT ${agent} AS agent, if(group_name != '', group_name, if(group_id != '', group_id, '(none)')) AS team, open FROM {{db}}.analytics_open_conversations ORDER BY open DESC, agent, team LIMIT 50`,
  },
  {
    id: 'response_times_daily',
    title: 'First response and resolution time per day (UTC)',
    section: 'Freshchat',
    kind: 'timeseries',
    unit: 'seconds',
    description: 'Median and p90 (nearest rank), conversations by the UTC day they were created.',
    sql: `SELECT toDateTime(day) AS t, first_response_p50, first_response_p90, resolution_p50, resolution_p90 FROM {{db}}.analytics_response_times_daily WHERE ${inDays('day')} ORDER BY t`,
  },
  {
    id: 'response_by_channel',
    title: 'Response times by channel',
    section: 'Freshchat',
    kind: 'table',
    unit: 'seconds',
    description: 'Conversations created in the range.',
    sql: responseBy('channel_id', 'channel'),
  },
  {
    id: 'response_by_group',
    title: 'Response times by group',
    section: 'Freshchat',
    kind: 'table',
    unit: 'seconds',
    description: 'Conversations created in the range, by their assigned group.',
    sql: responseBy('group_id', 'team'),
  },
  {
    id: 'response_by_agent',
    title: 'Response times by agent',
    section: 'Freshchat',
    kind: 'table',
    unit: 'seconds',
    description: 'Conversations created in the range, by their assigned agent.',
    sql: responseBy('agent_id', 'agent'),
  },
  {
    id: 'messages_hourly',
    title: 'Messages per hour by actor (UTC)',
    section: 'Freshchat',
    kind: 'timeseries',
    description: 'User, agent and system messages per hour.',
    sql: `SELECT hour AS t, user_messages, agent_messages, system_messages FROM {{db}}.analytics_messages_hourly WHERE ${inHours('hour')} ORDER BY t`,
  },
  {
    id: 'messages_per_conversation',
    title: 'Messages per conversation',
    section: 'Freshchat',
    kind: 'table',
    description: 'Average per conversation by actor type, conversations whose first message is in the range.',
    sql: `SELECT count() AS conversations, round(avg(messages), 2) AS messages, round(avg(user_messages), 2) AS user, round(avg(agent_messages), 2) AS agent, round(avg(system_messages), 2) AS system FROM {{db}}.analytics_messages_per_conversation WHERE ${inTimes('first_time')} HAVING conversations > 0`,
  },
  {
    id: 'agent_activity',
    title: 'Agent activity',
    section: 'Freshchat',
    kind: 'table',
    description: 'Messages agents sent in the range and the days they were active.',
    sql: `SELECT ${agent} AS agent, sum(messages) AS messages, count() AS active_days FROM {{db}}.analytics_agent_activity_daily WHERE ${inDays('day')} GROUP BY agent ORDER BY messages DESC, agent LIMIT 50`,
  },
  {
    id: 'agent_availability',
    title: 'Agent availability',
    section: 'Freshchat',
    kind: 'table',
    description: 'Now: availability status and open conversations per agent.',
    sql: `SELECT ${agent} AS agent, if(availability_status = '', '(unknown)', availability_status) AS availability, if(is_deactivated = 1, 'yes', 'no') AS deactivated, open_conversations FROM {{db}}.analytics_agent_availability ORDER BY open_conversations DESC, agent LIMIT 100`,
  },
  {
    id: 'chats_in_progress',
    title: 'Chats in progress',
    section: 'Pure Chat',
    kind: 'stat',
    description: 'Chats started and not ended (started in the last 4 hours).',
    sql: 'SELECT count() AS value FROM {{db}}.analytics_purechat_in_progress',
  },
  {
    id: 'chats_started',
    title: 'Chats started',
    section: 'Pure Chat',
    kind: 'stat',
    description: 'chat:start events in the range, all widgets.',
    sql: `SELECT sum(chats_started) AS value FROM {{db}}.analytics_purechat_hourly WHERE ${inHours('hour')}`,
  },
  {
    id: 'purechat_hourly',
    title: 'Chats per hour (UTC)',
    section: 'Pure Chat',
    kind: 'timeseries',
    description: 'Chats started, ended and offline e-mails per hour, all widgets.',
    sql: `SELECT hour AS t, sum(chats_started) AS started, sum(chats_ended) AS ended, sum(emails) AS emails FROM {{db}}.analytics_purechat_hourly WHERE ${inHours('hour')} GROUP BY t ORDER BY t`,
  },
  {
    id: 'purechat_widgets',
    title: 'Widgets',
    section: 'Pure Chat',
    kind: 'table',
    unit: 'ratio',
    description:
      'Per widget in the range: chats, e-mails and the open rate (of the sessions that loaded the chat box, per hour, the share that opened it).',
    sql: `SELECT widget_id AS widget, sum(chats_started) AS started, sum(chats_ended) AS ended, sum(emails) AS emails, if(sum(ready_sessions) > 0, round(sum(opened_sessions) / sum(ready_sessions), 3), 0) AS open_rate FROM {{db}}.analytics_purechat_hourly WHERE ${inHours('hour')} GROUP BY widget ORDER BY started DESC, widget LIMIT 50`,
  },
  {
    id: 'purechat_visitors',
    title: 'Visitors per day (UTC)',
    section: 'Pure Chat',
    kind: 'timeseries',
    description: 'Distinct visitors per UTC day, all widgets (a visitor on two widgets counts once).',
    sql: `SELECT toDateTime(day) AS t, visitors FROM {{db}}.analytics_purechat_visitors_daily WHERE ${inDays('day')} ORDER BY t`,
  },
];

export function panelById(id: string): Panel | undefined {
  return PANELS.find((p) => p.id === id);
}

/** The panel's query with its placeholders filled: `db` is quoted here; from/to are SQL expressions. */
export function renderPanelSql(panel: Panel, fill: { database: string; from: string; to: string }): string {
  return panel.sql
    .replaceAll('{{db}}', quoteIdent(fill.database))
    .replaceAll('{{from}}', fill.from)
    .replaceAll('{{to}}', fill.to);
}
