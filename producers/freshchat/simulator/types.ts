/**
 * The shapes the simulator serves (SOURCES.md part 1 and 2) and its public option types.
 * Entity fields use Freshchat's names; key order follows the documented samples.
 */
import type { Logger } from '../../../core/log.ts';

export type MessagePart = Record<string, unknown>;

export interface User {
  id: string;
  created_time: string;
  email: string;
  first_name: string;
  last_name: string;
  phone: string;
  avatar: { url: string };
  reference_id: string;
  properties: { name: string; value: string }[];
  social_profiles: { type: string; id: string }[];
}

export interface AgentStatus {
  id: string;
  name: string;
}

export interface Agent {
  id: string;
  first_name: string;
  last_name: string;
  email: string;
  phone: string;
  avatar: { url: string };
  biography: string;
  groups: string[];
  role_id: string;
  is_deactivated: boolean;
  availability_status: 'AVAILABLE' | 'UNAVAILABLE';
  agent_status: AgentStatus;
  routing_type: 'OCR' | 'INTELLIASSIGN' | 'DISABLED';
  skill_id: string;
  freshid_uuid: string;
  locale: string;
  timezone: string;
  social_profiles: { type: string; id: string }[];
  get_ocr_available: number;
}

/** A group as stored; the API adds `agents` (its members) when serving it. */
export interface Group {
  id: string;
  name: string;
  description: string;
  routing_type: string;
}

export interface Channel {
  id: string;
  name: string;
  icon: { url: string };
  enabled: boolean;
  public: boolean;
  locale: string;
  tags: string[];
  updated_time: string;
  welcome_message: { message_parts: MessagePart[] };
  assign_to_group: { id: string; name: string; agents: unknown[] };
}

export type ConversationStatus = 'new' | 'assigned' | 'resolved' | 'reopened';

export interface Conversation {
  conversation_id: string;
  conversation_internal_id: number;
  app_id: string;
  status: ConversationStatus;
  channel_id: string;
  skill_id: number;
  properties: Record<string, string> | { name: string; value: string }[];
  url: string;
  org_contact_id: string;
  created_time: string;
  updated_time: string;
  user_id: string;
  assigned_agent_id?: string;
  assigned_group_id?: string;
  agents: { id: string }[];
  users: { id: string }[];
}

export type ActorType = 'user' | 'agent' | 'system';

export interface Message {
  id: string;
  created_time: string;
  conversation_id: string;
  freshchat_conversation_id: string;
  freshchat_channel_id: string;
  app_id: string;
  channel_id: string;
  actor_type: ActorType;
  actor_id: string;
  org_actor_id: string;
  user_id: string;
  interaction_id: string;
  message_type: 'normal' | 'private';
  message_source: string;
  message_parts: MessagePart[];
  reply_parts: MessagePart[];
  in_reply_to?: { message_id: string };
  meta_data?: Record<string, string>;
  restrictResponse: boolean;
  botsPrivateNote: boolean;
  isBotsInput: boolean;
  bots_input: boolean;
}

export interface OutboundMessage {
  message_id: string;
  request_id: string;
  from: { phone_number: string };
  to: { phone_number: string }[];
  data: Record<string, unknown>;
  provider: 'whatsapp';
  status: 'Accepted' | 'Sent' | 'Delivered' | 'Failed';
  failure_code?: string;
  failure_reason?: string;
  created_on: number;
}

export interface AccountConfiguration {
  app_id: string;
  account_id: string;
  account_name: string;
  domain: string;
  timezone: string;
  locale: string;
  created_time: string;
}

export interface WebhookPayload {
  actor: { actor_type: ActorType; actor_id: string };
  action: 'message_create' | 'conversation_assignment' | 'conversation_resolution' | 'conversation_reopen';
  action_time: string;
  data: Record<string, unknown>;
}

export interface WorldSnapshot {
  accountConfiguration: AccountConfiguration;
  users: User[];
  agents: Agent[];
  groups: (Group & { agents: Agent[] })[];
  channels: Channel[];
  agentStatuses: AgentStatus[];
  conversations: Conversation[];
  messages: Message[];
  outboundMessages: OutboundMessage[];
}

export interface TickResult {
  messages: Message[];
  /** Every conversation created or changed by the step, in its state after the step. */
  conversations: Conversation[];
  users: User[];
  events: WebhookPayload[];
}

export type Resource = 'users' | 'agents' | 'groups' | 'channels' | 'conversations' | 'messages';

export interface WorldSize {
  users: number;
  agents: number;
  groups: number;
  channels: number;
  conversationsPerUser: number;
  messagesPerConversation: number;
  outboundMessages: number;
  agentStatuses: number;
}

export interface Faults {
  serverErrorRate: number;
  timeoutRate: number;
  timeoutMs: number;
  unauthorized: boolean;
  extraFieldsRate?: number;
}

export type RateLimit = { requestsPerMinute: number; retryAfterSeconds?: number; headers?: boolean } | false;

/**
 * Switches for behaviour SOURCES.md marks UNCONFIRMED or INFERRED. The defaults are the
 * simulator's best guess; tests flip them to prove a client copes with the other reading.
 */
export interface Variants {
  /** INFERRED: messages come newest first. */
  messagesOrder: 'newest-first' | 'oldest-first';
  /** UNCONFIRMED: whether the messages response carries `pagination`. */
  messagesPagination: boolean;
  /** UNCONFIRMED: whether `from_time` on messages is honoured (false: ignored). */
  honourFromTime: boolean;
  /** UNCONFIRMED: whether `next_page` (and the messages `link`) are left out on the last page. */
  omitNextOnLastPage: boolean;
  /** UNCONFIRMED: whether `GET /users/{id}/conversations` is paged with an envelope. */
  userConversationsPaged: boolean;
  /** OBSERVED, not guaranteed: conversations also found by their numeric `freshchat_conversation_id`. */
  numericConversationIds: boolean;
}

export interface ExtractOptions {
  /** Polls a job answers PENDING before COMPLETED (default 1). */
  pendingPolls?: number;
  /** Rows per CSV; a bigger sub-report is served as several links (default: no limit). */
  rowsPerLink?: number;
  /** Length of each sub-report (default 24). */
  subReportHours?: number;
  /** UNCONFIRMED: the HTTP status of the job creation (default 202). */
  createStatus?: 200 | 202;
  /** UNCONFIRMED: what joins the two times in `interval` (default '_'; the help article shows a space). */
  intervalSeparator?: string;
  /** The single-link job form `{id, status, link}` instead of `links[]` (default false). */
  singleLink?: boolean;
}

export interface WebhookOptions {
  /** UNCONFIRMED value format of X-Freshchat-Payload-Version (default '1'). */
  payloadVersion?: string;
  /** UNCONFIRMED retry policy: retries after a failed delivery (default 3) and the first delay (default 50 ms, doubling). */
  retries?: number;
  retryDelayMs?: number;
  /** Per-attempt timeout (default 5000 ms). */
  timeoutMs?: number;
}

export interface SimulatorOptions {
  seed?: number;
  host?: string;
  port?: number;
  apiKey?: string;
  initial?: Partial<WorldSize>;
  pageCaps?: { default: number; messages: number };
  requireUserDateFilter?: boolean;
  conversationPropertiesAs?: 'object' | 'array';
  rateLimit?: RateLimit;
  faults?: Partial<Faults>;
  extraFields?: boolean;
  extract?: ExtractOptions;
  growth?:
    | { intervalMs: number; messagesPerTick?: number; newConversationEvery?: number; newUserEvery?: number }
    | false;
  webhookUrl?: string;
  log?: Logger;
  /** The simulated "now" after the seeded history (ISO-8601; default 2025-07-01T12:00:00.000Z). */
  startTime?: string;
  /** Switches for UNCONFIRMED behaviour (see Variants). */
  variants?: Partial<Variants>;
  /** Webhook header value and retry policy (UNCONFIRMED upstream). */
  webhooks?: WebhookOptions;
}
