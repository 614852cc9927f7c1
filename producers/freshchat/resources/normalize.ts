/**
 * Freshchat shapes that vary between accounts and API generations, brought to one form before
 * the schema contract sees them (pure):
 *  - conversation `properties` as an object, or an array of {name, value} in some accounts;
 *  - conversation `agents[]` / `users[]` (objects or ids) → `agent_ids` / `user_ids`;
 *  - a conversation without `conversation_id` gets the id it was fetched by.
 */
type Json = Record<string, unknown>;

function ids(list: unknown): string[] | undefined {
  if (!Array.isArray(list)) return undefined;
  return list
    .map((item) =>
      typeof item === 'string' || typeof item === 'number'
        ? String(item)
        : item && typeof item === 'object'
          ? String((item as Json).id ?? (item as Json).agent_id ?? (item as Json).user_id ?? '')
          : '',
    )
    .filter((id) => id !== '');
}

export function normalizeProperties(value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const item of value) {
    if (item && typeof item === 'object' && typeof (item as Json).name === 'string')
      out[(item as Json).name as string] = (item as Json).value;
  }
  return out;
}

export function normalizeConversation(raw: Json, fetchedAs: string): Json {
  const { agents, users, properties, ...rest } = raw;
  const out: Json = { ...rest };
  if (out.conversation_id === undefined || out.conversation_id === null || out.conversation_id === '')
    out.conversation_id = fetchedAs;
  if (properties !== undefined) out.properties = normalizeProperties(properties);
  const agentIds = ids(agents);
  const userIds = ids(users);
  if (agentIds) out.agent_ids = agentIds;
  if (userIds) out.user_ids = userIds;
  return out;
}
