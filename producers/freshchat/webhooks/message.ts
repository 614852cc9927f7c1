/**
 * A Freshchat message as the `freshchat.messages` topic carries it: the object the REST API and
 * the message_create webhook both return, unchanged except that ids are strings and the legacy
 * (2018) `msg_parts` become `message_parts`. The poller can share this so a message seen by both
 * paths is identical downstream. Unknown fields are kept; the schema contract decides.
 */
import { WebhookPayloadError } from './errors.ts';
import { idOf, isObject, type JsonObject } from './values.ts';

const ID_FIELDS = [
  'id',
  'conversation_id',
  'freshchat_conversation_id',
  'freshchat_channel_id',
  'app_id',
  'channel_id',
  'actor_id',
  'org_actor_id',
  'user_id',
  'interaction_id',
];
const REQUIRED_IDS = ['id', 'conversation_id'];

/** `[{part_type, properties}]` → `[{text: {content}}]` for text, `{[part_type]: properties}` otherwise. */
export function convertLegacyParts(parts: unknown, field: string): JsonObject[] {
  if (!Array.isArray(parts)) throw new WebhookPayloadError(field, 'must be an array');
  return parts.map((part, i) => {
    const type = isObject(part) ? part.part_type : undefined;
    if (!isObject(part) || typeof type !== 'string' || type === '')
      throw new WebhookPayloadError(`${field}[${i}].part_type`, 'must be a non-empty string');
    const properties = part.properties ?? null;
    if (type === 'text')
      return { text: { content: isObject(properties) ? (properties.text ?? null) : null } };
    return { [type]: properties };
  });
}

/** The message ready for the topic; `field` is its place in the payload, for error messages. */
export function normalizeMessage(message: JsonObject, field = 'message'): JsonObject {
  const out: JsonObject = { ...message };
  for (const key of ID_FIELDS) if (typeof out[key] === 'number') out[key] = idOf(out[key]);
  for (const key of REQUIRED_IDS)
    if (idOf(out[key]) === null)
      throw new WebhookPayloadError(`${field}.${key}`, 'must be a non-empty string');
  if (isObject(out.in_reply_to) && typeof out.in_reply_to.message_id === 'number')
    out.in_reply_to = { ...out.in_reply_to, message_id: idOf(out.in_reply_to.message_id) };
  if (out.message_parts === undefined && out.msg_parts !== undefined) {
    out.message_parts = convertLegacyParts(out.msg_parts, `${field}.msg_parts`);
    delete out.msg_parts;
  }
  return out;
}
