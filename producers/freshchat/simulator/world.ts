/**
 * The world: every object the API can serve, and the primitives that change it (new users,
 * conversations and messages; assignment, resolution, reopening). Both the seeded history
 * (history.ts) and growth (growth.ts) go through these primitives, and each status change is
 * kept in `log` with the conversation's state at that moment, for webhooks and Extract rows.
 */
import { agentText, messageParts, messageSource, replyParts, systemText, userText } from './content.ts';
import {
  makeAccount,
  makeAgent,
  makeAgentStatus,
  makeChannel,
  makeGroup,
  makeOutbound,
  makeUser,
} from './entities.ts';
import { Rng } from './random.ts';
import { DAY, HOUR, iso, SimClock } from './time.ts';
import type {
  AccountConfiguration,
  ActorType,
  Agent,
  AgentStatus,
  Channel,
  Conversation,
  ConversationStatus,
  Group,
  Message,
  OutboundMessage,
  User,
  WorldSize,
} from './types.ts';

export interface ConversationState {
  index: number;
  /** The stored fields; `updated_time` is rendered from `updatedMs`. */
  record: Omit<Conversation, 'properties' | 'updated_time'> & { properties: Record<string, string> };
  userIndex: number;
  /** Global indexes of its messages, oldest first. */
  messages: number[];
  interactionPrefix: string;
  interactionId: string;
  interactionStart: number;
  channelIndex: number;
  createdMs: number;
  updatedMs: number;
}

export type StatusKind = 'assignment' | 'resolution' | 'reopen';

export interface StatusEvent {
  kind: StatusKind;
  time: number;
  conversation: number;
  actorType: ActorType;
  actorId: string;
  /** The conversation right after the change. */
  status: ConversationStatus;
  assignedAgentId?: string;
  assignedGroupId?: string;
  fromAgentId?: string;
  fromGroupId?: string;
  interactionId: string;
  interactionStart: number;
}

export type WorldEvent = { kind: 'message'; time: number; message: number } | StatusEvent;

export interface MessageOptions {
  text?: string;
  isPrivate?: boolean;
  metaData?: Record<string, string>;
}

export class World {
  readonly rng: Rng;
  readonly clock: SimClock;
  readonly account: AccountConfiguration;
  readonly agentStatuses: AgentStatus[] = [];
  readonly groups: Group[] = [];
  readonly agents: Agent[] = [];
  readonly channels: Channel[] = [];
  readonly users: User[] = [];
  /** `created_time` of each user in ms, by index. */
  readonly userCreatedMs: number[] = [];
  readonly conversations: ConversationState[] = [];
  readonly messages: Message[] = [];
  readonly outbound: OutboundMessage[] = [];
  readonly log: WorldEvent[] = [];
  readonly systemActorId: string;
  readonly #orgIds = new Map<string, string>();
  readonly #channelNumericIds: string[] = [];
  readonly #users = new Map<string, number>();
  readonly #agents = new Map<string, number>();
  readonly #conversations = new Map<string, number>();
  readonly #numericIds = new Map<string, number>();
  #byCreated: number[] | undefined;

  /** An empty world (account, statuses, groups, agents, channels) whose clock stands at `nowMs`. */
  constructor(seed: number, size: WorldSize, nowMs: number) {
    this.rng = Rng.derive(seed, 'world');
    this.clock = new SimClock(nowMs);
    const rng = this.rng;
    const setupMs = nowMs - 30 * DAY;
    this.account = makeAccount(rng, setupMs);
    this.systemActorId = rng.uuid();
    this.#orgIds.set(this.systemActorId, rng.digits(18));
    for (let i = 0; i < size.agentStatuses; i++) this.agentStatuses.push(makeAgentStatus(rng, i));
    for (let i = 0; i < size.groups; i++) this.groups.push(makeGroup(rng, i));
    for (let i = 0; i < size.agents; i++) {
      const agent = makeAgent(rng, i, size.agents, this.groups, this.agentStatuses);
      this.agents.push(agent);
      this.#agents.set(agent.id, i);
      this.#orgIds.set(agent.id, rng.digits(rng.int(18, 19)));
    }
    for (let i = 0; i < size.channels; i++) {
      this.channels.push(makeChannel(rng, i, this.groups, setupMs + i * HOUR));
      this.#channelNumericIds.push(rng.digits(6));
    }
  }

  /** User indexes in ascending `created_time`, ties by id (kept until a user is added). */
  usersByCreated(): number[] {
    const key = (i: number) => `${this.users[i]?.created_time}|${this.users[i]?.id}`;
    this.#byCreated ??= this.users
      .map((_, i) => i)
      .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    return this.#byCreated;
  }

  userIndex(id: string): number | undefined {
    return this.#users.get(id);
  }

  agentIndex(id: string): number | undefined {
    return this.#agents.get(id);
  }

  /** A conversation by its id, or (when `numeric`) by its `freshchat_conversation_id`. */
  conversationIndex(id: string, numeric: boolean): number | undefined {
    return this.#conversations.get(id) ?? (numeric ? this.#numericIds.get(id) : undefined);
  }

  addUser(time: number): User {
    const user = makeUser(this.rng, this.users.length, time);
    this.#users.set(user.id, this.users.length);
    this.#orgIds.set(user.id, this.rng.digits(this.rng.int(18, 19)));
    this.users.push(user);
    this.userCreatedMs.push(time);
    this.#byCreated = undefined;
    return user;
  }

  addOutbound(time: number): OutboundMessage {
    const message = makeOutbound(this.rng, time);
    this.outbound.push(message);
    return message;
  }

  /** Conversations 5 and 11 of every 16 get the legacy id shapes when `legacyIds` is set. */
  startConversation(userIndex: number, time: number, legacyIds = false): ConversationState {
    const rng = this.rng;
    const user = this.users[userIndex] as User;
    const index = this.conversations.length;
    const uuid = rng.uuid();
    const userUuid = user.id.includes('_alias') ? user.reference_id : user.id;
    let id = uuid;
    if (legacyIds && index % 16 === 5) id = rng.hex(32);
    if (legacyIds && index % 16 === 11) id = `${this.account.app_id}_${userUuid}_feedback`;
    if (this.#conversations.has(id)) id = uuid;
    let internal = Number(`1${rng.digits(15)}`);
    while (this.#numericIds.has(String(internal))) internal += 1;
    const channelIndex = rng.int(0, this.channels.length - 1);
    const channel = this.channels[channelIndex] as Channel;
    const prefix = rng.digits(15);
    const state: ConversationState = {
      index,
      userIndex,
      messages: [],
      interactionPrefix: prefix,
      interactionId: `${prefix}-${time}`,
      interactionStart: time,
      channelIndex,
      createdMs: time,
      updatedMs: time,
      record: {
        conversation_id: id,
        conversation_internal_id: internal,
        app_id: this.account.app_id,
        status: 'new',
        channel_id: channel.id,
        skill_id: 0,
        properties: {
          priority: rng.pick(['Low', 'Medium', 'High', 'Urgent']),
          cf_type: rng.pick(['Question', 'Problem', 'Feature request', '배송']),
        },
        url: `https://simulated-shop.myfreshworks.example/crm/messaging/a/${this.account.account_id}/inbox/open/0/conversation/${internal}`,
        org_contact_id: this.#orgIds.get(user.id) as string,
        created_time: iso(time),
        user_id: user.id,
        agents: [],
        users: [{ id: user.id }],
      },
    };
    this.conversations.push(state);
    this.#conversations.set(id, index);
    this.#numericIds.set(String(internal), index);
    return state;
  }

  /** An active agent, preferably one in `groupId` and other than `except`. */
  pickAgent(groupId?: string, except?: string): Agent {
    const active = this.agents.filter((a) => !a.is_deactivated && a.id !== except);
    const pool = active.length > 0 ? active : this.agents;
    const inGroup = pool.filter((a) => groupId !== undefined && a.groups.includes(groupId));
    return this.rng.pick(inGroup.length > 0 ? inGroup : pool);
  }

  addMessage(conv: ConversationState, actor: ActorType, time: number, options: MessageOptions = {}): Message {
    const rng = this.rng;
    const c = conv.record;
    const user = this.users[conv.userIndex] as User;
    const actorId =
      actor === 'user'
        ? user.id
        : actor === 'agent'
          ? (c.assigned_agent_id ?? this.pickAgent(c.assigned_group_id).id)
          : this.systemActorId;
    const content =
      options.text ??
      (actor === 'user'
        ? userText(rng)
        : actor === 'agent'
          ? agentText(rng, options.isPrivate)
          : systemText(rng));
    const previous = this.messages[conv.messages[conv.messages.length - 1] ?? -1];
    const inReplyTo = actor !== 'system' && previous && previous.actor_type !== actor && rng.chance(0.25);
    const botInput = actor === 'system' && rng.chance(0.5);
    const message: Message = {
      id: rng.uuid(),
      created_time: iso(time),
      conversation_id: c.conversation_id,
      freshchat_conversation_id: String(c.conversation_internal_id),
      freshchat_channel_id: this.#channelNumericIds[conv.channelIndex] as string,
      app_id: c.app_id,
      channel_id: c.channel_id,
      actor_type: actor,
      actor_id: actorId,
      org_actor_id: this.#orgIds.get(actorId) ?? c.org_contact_id,
      user_id: user.id,
      interaction_id: conv.interactionId,
      message_type: options.isPrivate ? 'private' : 'normal',
      message_source: messageSource(rng, actor),
      message_parts:
        options.isPrivate || options.text ? [{ text: { content } }] : messageParts(rng, actor, content),
      reply_parts: replyParts(rng, actor),
      ...(inReplyTo ? { in_reply_to: { message_id: previous.id } } : {}),
      ...(options.metaData ? { meta_data: options.metaData } : {}),
      restrictResponse: false,
      botsPrivateNote: false,
      isBotsInput: botInput,
      bots_input: botInput,
    };
    conv.messages.push(this.messages.length);
    this.log.push({ kind: 'message', time, message: this.messages.length });
    this.messages.push(message);
    this.#touch(conv, time);
    return message;
  }

  assign(
    conv: ConversationState,
    time: number,
    by: { type: ActorType; id: string },
    agent: Agent,
    groupId: string,
  ) {
    const c = conv.record;
    const from = { fromAgentId: c.assigned_agent_id, fromGroupId: c.assigned_group_id };
    c.assigned_agent_id = agent.id;
    c.assigned_group_id = groupId;
    if (!c.agents.some((a) => a.id === agent.id)) c.agents.push({ id: agent.id });
    return this.#change(conv, 'assignment', time, by, 'assigned', from);
  }

  resolve(conv: ConversationState, time: number, by: { type: ActorType; id: string }): StatusEvent {
    return this.#change(conv, 'resolution', time, by, 'resolved');
  }

  reopen(conv: ConversationState, time: number, by: { type: ActorType; id: string }): StatusEvent {
    conv.interactionId = `${conv.interactionPrefix}-${time}`;
    conv.interactionStart = time;
    return this.#change(conv, 'reopen', time, by, 'reopened');
  }

  #change(
    conv: ConversationState,
    kind: StatusKind,
    time: number,
    by: { type: ActorType; id: string },
    status: ConversationStatus,
    from: { fromAgentId?: string | undefined; fromGroupId?: string | undefined } = {},
  ): StatusEvent {
    conv.record.status = status;
    this.#touch(conv, time);
    const c = conv.record;
    const event: StatusEvent = {
      kind,
      time,
      conversation: conv.index,
      actorType: by.type,
      actorId: by.id,
      status,
      interactionId: conv.interactionId,
      interactionStart: conv.interactionStart,
    };
    if (c.assigned_agent_id) event.assignedAgentId = c.assigned_agent_id;
    if (c.assigned_group_id) event.assignedGroupId = c.assigned_group_id;
    if (from.fromAgentId) event.fromAgentId = from.fromAgentId;
    if (from.fromGroupId) event.fromGroupId = from.fromGroupId;
    this.log.push(event);
    return event;
  }

  /** Bumps the conversation's `updated_time` (rendered from `updatedMs`). */
  #touch(conv: ConversationState, time: number): void {
    if (time > conv.updatedMs) conv.updatedMs = time;
  }
}
