/**
 * Growth: one step of a living account. New messages land in existing conversations (a user
 * writing into a resolved one reopens it), now and then a new conversation or user appears,
 * and conversations get assigned, reassigned and resolved. The clock moves forward a few
 * seconds per change, so new items have strictly increasing times.
 */
import { assignFromChannel } from './history.ts';
import { SECOND } from './time.ts';
import type { ConversationState, World, WorldEvent } from './world.ts';

export interface StepSettings {
  messagesPerTick: number;
  newConversationEvery: number;
  newUserEvery: number;
}

export interface Changes {
  users: number[];
  conversations: Set<number>;
  messages: number[];
  events: WorldEvent[];
}

export const noChanges = (): Changes => ({ users: [], conversations: new Set(), messages: [], events: [] });

/** Runs `fn`, collecting what it appended to the world into `changes`. */
function collect(world: World, changes: Changes, fn: () => void): void {
  const users = world.users.length;
  const messages = world.messages.length;
  const log = world.log.length;
  fn();
  for (let i = users; i < world.users.length; i++) changes.users.push(i);
  for (let i = messages; i < world.messages.length; i++) changes.messages.push(i);
  for (const event of world.log.slice(log)) {
    changes.events.push(event);
    if (event.kind !== 'message') changes.conversations.add(event.conversation);
    else {
      const id = world.messages[event.message]?.conversation_id ?? '';
      changes.conversations.add(world.conversationIndex(id, false) as number);
    }
  }
}

const later = (world: World): number => world.clock.advance(world.rng.int(SECOND, 20 * SECOND));

/** One new message in an existing conversation (mostly open ones); reopens a resolved one first. */
export function addMessage(world: World, changes: Changes): void {
  const rng = world.rng;
  if (world.conversations.length === 0) return;
  collect(world, changes, () => {
    const open = world.conversations.filter((c) => c.record.status !== 'resolved');
    const conv = rng.pick(open.length > 0 && rng.chance(0.85) ? open : world.conversations);
    const last = world.messages[conv.messages[conv.messages.length - 1] ?? -1];
    const user = { type: 'user' as const, id: conv.record.user_id };
    const t = later(world);
    if (conv.record.status === 'resolved') {
      world.reopen(conv, t, user);
      world.addMessage(conv, 'user', later(world));
    } else if (conv.record.status === 'new') {
      world.addMessage(conv, 'user', t);
    } else {
      const agentTurn = last?.actor_type === 'user' ? rng.chance(0.8) : rng.chance(0.3);
      world.addMessage(conv, agentTurn ? 'agent' : 'user', t, { isPrivate: agentTurn && rng.chance(0.05) });
    }
  });
}

/** Assigns a new conversation, reassigns or resolves an open one, or (sometimes) nothing. */
function changeStatus(world: World, changes: Changes): void {
  const rng = world.rng;
  const pick = (status: string[]): ConversationState | undefined => {
    const candidates = world.conversations.filter((c) => status.includes(c.record.status));
    return candidates.length > 0 ? rng.pick(candidates) : undefined;
  };
  const roll = rng.next();
  collect(world, changes, () => {
    if (roll < 0.35) {
      const conv = pick(['new']);
      if (conv) assignFromChannel(world, conv, later(world));
    } else if (roll < 0.6) {
      const conv = pick(['assigned', 'reopened']);
      if (conv)
        world.resolve(conv, later(world), { type: 'agent', id: conv.record.assigned_agent_id as string });
    } else if (roll < 0.7) {
      // A reassignment: the current agent hands the conversation to another agent of the group.
      const conv = pick(['assigned', 'reopened']);
      if (!conv) return;
      const { assigned_agent_id: current, assigned_group_id: groupId } = conv.record;
      const to = world.pickAgent(groupId, current);
      world.assign(conv, later(world), { type: 'agent', id: current as string }, to, groupId as string);
    }
  });
}

export function addUser(world: World, changes: Changes): void {
  collect(world, changes, () => world.addUser(later(world)));
}

/** A new conversation, usually of the newest user, opened with the user's first message. */
function addConversation(world: World, changes: Changes): void {
  const rng = world.rng;
  if (world.users.length === 0) return;
  collect(world, changes, () => {
    const userIndex = rng.chance(0.5) ? world.users.length - 1 : rng.int(0, world.users.length - 1);
    const conv = world.startConversation(userIndex, later(world));
    world.addMessage(conv, 'user', world.clock.advance(rng.int(5, 900)));
  });
}

export function step(world: World, settings: StepSettings, tick: number): Changes {
  const changes = noChanges();
  if (settings.newUserEvery > 0 && tick % settings.newUserEvery === 0) addUser(world, changes);
  if (settings.newConversationEvery > 0 && tick % settings.newConversationEvery === 0)
    addConversation(world, changes);
  for (let i = 0; i < settings.messagesPerTick; i++) addMessage(world, changes);
  changeStatus(world, changes);
  return changes;
}
