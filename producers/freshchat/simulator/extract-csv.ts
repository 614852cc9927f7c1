/**
 * The Extract API's report vocabulary and file format: the 12 CONFIRMED event names, the
 * columns of each report (UNCONFIRMED: the simulator's guess, kept in this one table), and
 * RFC 4180 CSV.
 */
import { REPORT_EVENTS } from '../config.ts';

/** The 12 confirmed event names: one list, shared with the poller's settings. */
export const EXTRACT_EVENTS = REPORT_EVENTS;

export type ExtractEvent = (typeof EXTRACT_EVENTS)[number];

const columns = (names: string): string[] => names.split(' ');

export const COLUMNS: Record<ExtractEvent, string[]> = {
  'Conversation-Created': columns(
    'conversation_id freshchat_conversation_id created_at user_id channel_id channel_name first_message',
  ),
  'Conversation-Agent-Assigned': columns(
    'conversation_id assigned_at agent_id agent_email from_agent_id assignor_type assignor_id',
  ),
  'Conversation-Group-Assigned': columns(
    'conversation_id assigned_at group_id group_name from_group_id assignor_type assignor_id',
  ),
  'Message-Sent': columns(
    'message_id conversation_id created_at agent_id agent_email message_type message_source message_content',
  ),
  'First-Response-Time': columns(
    'conversation_id interaction_id user_message_at first_response_at agent_id first_response_time_seconds',
  ),
  'Response-Time': columns(
    'conversation_id message_id agent_id user_message_at responded_at response_time_seconds',
  ),
  'Resolution-Time': columns(
    'conversation_id interaction_id interaction_started_at resolved_at resolver_id resolution_time_seconds',
  ),
  'Conversation-Resolution-Label': columns(
    'conversation_id resolved_at agent_id label_category label_subcategory label_item',
  ),
  'Conversation-Resolved': columns(
    'conversation_id resolved_at resolver_type resolver_id agent_id group_id channel_id',
  ),
  'Agent-Activity': columns('agent_id agent_email status started_at ended_at duration_seconds'),
  'Agent-Intelliassign-Activity': columns(
    'agent_id agent_email intelliassign_status started_at ended_at duration_seconds',
  ),
  'CSAT-Score': columns('conversation_id agent_id submitted_at rating comment'),
};

export type Cell = string | number;

const quote = (cell: Cell): string => {
  const text = String(cell);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

/** RFC 4180: CRLF line ends, fields with comma, quote or line break quoted, quotes doubled. */
export function toCsv(header: string[], rows: Cell[][]): string {
  return [header, ...rows].map((row) => `${row.map(quote).join(',')}\r\n`).join('');
}
