/**
 * From stored objects to the exact JSON the API serves: fresh copies in the documented key
 * order, conversation `properties` as an object or an array, the fields added with
 * `addField`, and unknown extra fields when asked for. The API, `snapshot()` and webhooks all
 * render through here, so they always agree.
 */
import { iso } from './time.ts';
import type { Agent, Conversation, Group, Message, Resource, User, WorldSnapshot } from './types.ts';
import type { ConversationState, StatusEvent, World } from './world.ts';

type Value = (index: number) => unknown;

/** Stored objects are plain JSON, so a JSON round trip is a (fast) deep copy. */
const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value));

/** Unknown fields a newer Freshchat might send; clients must pass them through or ignore them. */
const extras = (index: number): Record<string, unknown> => ({
  x_experiment: { bucket: index % 2 === 0 ? 'a' : 'b', rollout: 0.25 },
  x_feature_flags: ['beta_inbox'],
});

export interface RenderSettings {
  propertiesAs: 'object' | 'array';
  /** Extra fields on every object (the `extraFields` option). */
  extraFields: boolean;
}

export class Renderer {
  readonly #world: World;
  readonly #settings: RenderSettings;
  readonly #fields = new Map<Resource, Map<string, Value>>();

  constructor(world: World, settings: RenderSettings) {
    this.#world = world;
    this.#settings = settings;
  }

  addField(resource: Resource, name: string, value: Value): void {
    const fields = this.#fields.get(resource) ?? new Map<string, Value>();
    fields.set(name, value);
    this.#fields.set(resource, fields);
  }

  /** Adds the added fields and, when asked, the unknown extras to a rendered object. */
  #finish<T extends object>(resource: Resource, index: number, object: T, extra: boolean): T {
    const out = object as Record<string, unknown>;
    for (const [name, value] of this.#fields.get(resource) ?? []) out[name] = value(index);
    if (extra || this.#settings.extraFields) Object.assign(out, extras(index));
    return object;
  }

  user(index: number, extra = false): User {
    return this.#finish('users', index, clone(this.#world.users[index] as User), extra);
  }

  agent(index: number, extra = false): Agent {
    return this.#finish('agents', index, clone(this.#world.agents[index] as Agent), extra);
  }

  group(index: number, extra = false): Group & { agents: Agent[] } {
    const group = this.#world.groups[index] as Group;
    const agents: Agent[] = [];
    this.#world.agents.forEach((a, i) => {
      if (a.groups.includes(group.id)) agents.push(this.agent(i, extra));
    });
    return this.#finish('groups', index, { ...clone(group), agents }, extra);
  }

  channel(index: number, extra = false) {
    return this.#finish('channels', index, clone(this.#world.channels[index] as World['channels'][0]), extra);
  }

  #properties(conv: ConversationState): Conversation['properties'] {
    const properties = conv.record.properties;
    if (this.#settings.propertiesAs === 'object') return { ...properties };
    return Object.entries(properties).map(([name, value]) => ({ name, value }));
  }

  conversation(index: number, extra = false): Conversation {
    const conv = this.#world.conversations[index] as ConversationState;
    const c = conv.record;
    const out: Conversation = {
      conversation_id: c.conversation_id,
      conversation_internal_id: c.conversation_internal_id,
      app_id: c.app_id,
      status: c.status,
      channel_id: c.channel_id,
      skill_id: c.skill_id,
      properties: this.#properties(conv),
      url: c.url,
      org_contact_id: c.org_contact_id,
      created_time: c.created_time,
      updated_time: iso(conv.updatedMs),
      user_id: c.user_id,
      ...(c.assigned_agent_id ? { assigned_agent_id: c.assigned_agent_id } : {}),
      ...(c.assigned_group_id ? { assigned_group_id: c.assigned_group_id } : {}),
      agents: clone(c.agents),
      users: clone(c.users),
    };
    return this.#finish('conversations', index, out, extra);
  }

  /** The short conversation object inside status webhooks, as it was at the event. */
  conversationAt(event: StatusEvent): Record<string, unknown> {
    const c = (this.#world.conversations[event.conversation] as ConversationState).record;
    const out: Record<string, unknown> = {
      conversation_id: c.conversation_id,
      app_id: c.app_id,
      status: event.status,
      channel_id: c.channel_id,
      ...(event.assignedAgentId ? { assigned_agent_id: event.assignedAgentId } : {}),
      ...(event.assignedGroupId ? { assigned_group_id: event.assignedGroupId } : {}),
      skill_id: 0,
      sla_policy_id: 0,
      sla_breached: false,
    };
    return this.#finish('conversations', event.conversation, out, false);
  }

  message(index: number, extra = false): Message {
    return this.#finish('messages', index, clone(this.#world.messages[index] as Message), extra);
  }

  snapshot(): WorldSnapshot {
    const w = this.#world;
    const all = <T>(items: readonly unknown[], render: (i: number) => T): T[] =>
      items.map((_, i) => render(i));
    return {
      accountConfiguration: clone(w.account),
      users: all(w.users, (i) => this.user(i)),
      agents: all(w.agents, (i) => this.agent(i)),
      groups: all(w.groups, (i) => this.group(i)),
      channels: all(w.channels, (i) => this.channel(i)),
      agentStatuses: clone(w.agentStatuses),
      conversations: all(w.conversations, (i) => this.conversation(i)),
      messages: all(w.messages, (i) => this.message(i)),
      outboundMessages: clone(w.outbound),
    };
  }
}
