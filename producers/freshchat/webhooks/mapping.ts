/**
 * Freshchat webhook payload → records for Kafka (SOURCES.md part 2). Pure: no I/O.
 *
 *   message_create                              → one freshchat.messages record (the message)
 *   conversation_assignment | _resolution | _reopen → one freshchat.conversation_events record
 *   any other action                            → one conversation_events record with `raw` data
 *
 * Ids are opaque strings; timestamps stay as the source sent them (a later step converts).
 */
import { createHash } from 'node:crypto';
import { WebhookPayloadError } from './errors.ts';
import { normalizeMessage } from './message.ts';
import { flagOf, idOf, isObject, type JsonObject, own, textOf } from './values.ts';

export type WebhookRecordKind = 'freshchat.messages' | 'freshchat.conversation_events';

export interface WebhookRecord {
  kind: WebhookRecordKind;
  value: Record<string, unknown>;
}

interface ActionSpec {
  /** The key under `data` that holds this action's object. */
  dataKey: string;
  /** The payload's who-did-it pair, e.g. resolver / resolver_id. */
  by?: readonly [string, string];
  /** The key name is UNCONFIRMED: also accept the one object under data holding a `conversation`. */
  guessKey?: boolean;
}

const ACTIONS = new Map<string, ActionSpec>([
  ['message_create', { dataKey: 'message' }],
  ['conversation_resolution', { dataKey: 'resolve', by: ['resolver', 'resolver_id'] }],
  ['conversation_reopen', { dataKey: 'reopen', by: ['reopener', 'reopener_id'] }],
  ['conversation_assignment', { dataKey: 'assignment', by: ['assignor', 'assignor_id'], guessKey: true }],
]);

interface Envelope {
  action: string;
  actionTime: string | number;
  actorType: string | null;
  actorId: string | null;
}

function readEnvelope(payload: JsonObject, action: string): Envelope {
  const time = payload.action_time;
  const validTime =
    (typeof time === 'string' && !Number.isNaN(Date.parse(time))) ||
    (typeof time === 'number' && Number.isFinite(time));
  if (!validTime) throw new WebhookPayloadError('action_time', 'must be an ISO-8601 timestamp');
  const actor = payload.actor ?? {};
  if (!isObject(actor)) throw new WebhookPayloadError('actor', 'must be an object');
  return {
    action,
    actionTime: time as string | number,
    actorType: textOf(actor.actor_type),
    actorId: idOf(actor.actor_id),
  };
}

/** Same delivery → same id: sha256 of action, conversation, time and actor, 32 hex chars. */
export function eventId(
  action: string,
  conversationId: string,
  actionTime: string | number,
  actorId: string | null,
) {
  const material = JSON.stringify([action, conversationId, actionTime, actorId ?? '']);
  return createHash('sha256').update(material).digest('hex').slice(0, 32);
}

/** The conversation_events fields after the envelope ones, in schema order. */
const DETAIL_FIELDS = [
  'by',
  'by_id',
  'app_id',
  'channel_id',
  'status',
  'assigned_agent_id',
  'assigned_group_id',
  'from_agent_id',
  'from_group_id',
  'to_agent_id',
  'to_group_id',
  'interaction_id',
  'skill_id',
  'sla_policy_id',
  'sla_breached',
];

/** Every conversation_events field, in schema order; the details empty. */
function eventRecord(envelope: Envelope, conversationId: string): JsonObject {
  const { action, actionTime, actorType, actorId } = envelope;
  return {
    event_id: eventId(action, conversationId, actionTime, actorId),
    action,
    action_time: actionTime,
    conversation_id: conversationId,
    actor_type: actorType,
    actor_id: actorId,
    ...Object.fromEntries(DETAIL_FIELDS.map((field) => [field, null])),
  };
}

function dataOf(payload: JsonObject): JsonObject {
  if (!isObject(payload.data)) throw new WebhookPayloadError('data', 'must be an object');
  return payload.data;
}

function sectionOf(data: JsonObject, spec: ActionSpec): { key: string; section: JsonObject } {
  const section = own(data, spec.dataKey);
  if (isObject(section)) return { key: spec.dataKey, section };
  if (spec.guessKey) {
    const found = Object.entries(data).filter(([, value]) => isObject(value) && isObject(value.conversation));
    const [only] = found;
    if (found.length === 1 && only) return { key: only[0], section: only[1] as JsonObject };
  }
  throw new WebhookPayloadError(`data.${spec.dataKey}`, 'must be an object');
}

function conversationEvent(envelope: Envelope, data: JsonObject, spec: ActionSpec): JsonObject {
  const { key, section } = sectionOf(data, spec);
  const conversation = section.conversation;
  if (!isObject(conversation)) throw new WebhookPayloadError(`data.${key}.conversation`, 'must be an object');
  const conversationId = idOf(conversation.conversation_id);
  if (conversationId === null)
    throw new WebhookPayloadError(`data.${key}.conversation.conversation_id`, 'must be a non-empty string');
  const [byField, byIdField] = spec.by ?? ['', ''];
  return {
    ...eventRecord(envelope, conversationId),
    by: textOf(own(section, byField)),
    by_id: idOf(own(section, byIdField)),
    app_id: idOf(conversation.app_id),
    channel_id: idOf(conversation.channel_id),
    status: textOf(conversation.status),
    assigned_agent_id: idOf(conversation.assigned_agent_id),
    assigned_group_id: idOf(conversation.assigned_group_id),
    from_agent_id: idOf(section.from_agent_id),
    from_group_id: idOf(section.from_group_id),
    to_agent_id: idOf(section.to_agent_id),
    to_group_id: idOf(section.to_group_id),
    interaction_id: idOf(section.interaction_id ?? conversation.interaction_id),
    skill_id: idOf(conversation.skill_id),
    sla_policy_id: idOf(conversation.sla_policy_id),
    sla_breached: flagOf(conversation.sla_breached),
  };
}

/** The first `conversation.conversation_id` or `conversation_id` under data, breadth first. */
function findConversationId(data: unknown): string {
  const queue: unknown[] = [data];
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i];
    if (isObject(node)) {
      const id =
        (isObject(node.conversation) && idOf(node.conversation.conversation_id)) ||
        idOf(node.conversation_id);
      if (id) return id;
    }
    if (isObject(node) || Array.isArray(node)) for (const child of Object.values(node)) queue.push(child);
  }
  return '';
}

function unknownEvent(envelope: Envelope, data: unknown): JsonObject {
  return { ...eventRecord(envelope, findConversationId(data)), raw: JSON.stringify(data ?? null) };
}

/** Records for one webhook delivery; WebhookPayloadError (naming the field) when it cannot be mapped. */
export function webhookToRecords(payload: unknown): { records: WebhookRecord[] } {
  if (!isObject(payload)) throw new WebhookPayloadError('payload', 'must be a JSON object');
  const action = payload.action;
  if (typeof action !== 'string' || action === '')
    throw new WebhookPayloadError('action', 'must be a non-empty string');
  const spec = ACTIONS.get(action);
  if (spec?.dataKey === 'message') {
    const message = own(dataOf(payload), 'message');
    if (!isObject(message)) throw new WebhookPayloadError('data.message', 'must be an object');
    return { records: [{ kind: 'freshchat.messages', value: normalizeMessage(message, 'data.message') }] };
  }
  const envelope = readEnvelope(payload, action);
  const value = spec
    ? conversationEvent(envelope, dataOf(payload), spec)
    : unknownEvent(envelope, payload.data);
  return { records: [{ kind: 'freshchat.conversation_events', value }] };
}
