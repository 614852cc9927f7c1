/**
 * The seeded history the simulator starts with: users over the two weeks before "now", each
 * with conversations that ran their course (new, assigned, resolved, or resolved and reopened),
 * messages in between, and outbound WhatsApp messages. All times lie before the clock's start,
 * unless a world is so large that its history has to run past it; then the clock moves on.
 */
import { TRICKY_TEXT } from './content.ts';
import { DAY, HOUR, MINUTE, SECOND } from './time.ts';
import type { WorldSize } from './types.ts';
import type { ConversationState, World } from './world.ts';

type Fate = 'new' | 'assigned' | 'resolved' | 'reopened';

const SPAN = 14 * DAY;

/** How long a conversation's script may take at most, so it can be placed before "now". */
const budget = (messages: number): number => messages * 10 * MINUTE + 8 * HOUR;

export function buildHistory(world: World, size: WorldSize): void {
  const rng = world.rng;
  const now = world.clock.now();
  const begin = now - SPAN;
  const end = now - 10 * MINUTE;
  const slot = Math.floor(SPAN / 2 / Math.max(1, size.users));
  let last = begin;
  for (let i = 0; i < size.users; i++) {
    const previous = world.users[i - 1];
    // Every eighth user shares the previous one's created_time: the id breaks the tie.
    const created =
      previous && i % 8 === 4 ? Date.parse(previous.created_time) : begin + i * slot + rng.int(0, slot / 2);
    world.addUser(created);
    for (let c = 0; c < size.conversationsPerUser; c++) {
      const latest = Math.max(created + MINUTE, end - budget(size.messagesPerConversation));
      const start = rng.int(created + MINUTE, latest);
      last = Math.max(last, runConversation(world, i, start, size.messagesPerConversation));
    }
  }
  for (let i = 0; i < size.outboundMessages; i++)
    world.addOutbound(begin + Math.floor(((i + 1) * SPAN) / (size.outboundMessages + 1)));
  world.outbound.sort((a, b) => a.created_on - b.created_on);
  world.clock.advanceTo(last + SECOND);
}

/** Plays one conversation's script from `start`; returns the time of its last change. */
function runConversation(world: World, userIndex: number, start: number, count: number): number {
  const rng = world.rng;
  const conv = world.startConversation(userIndex, start, true);
  const userId = (world.users[userIndex] as { id: string }).id;
  const fate: Fate = rng.weighted([
    ['new', 15],
    ['assigned', 30],
    ['resolved', 40],
    ['reopened', 15],
  ]);
  let t = start + rng.int(5, 900);
  if (count === 0) return start;
  world.addMessage(conv, 'user', t, conv.index === 0 ? { text: TRICKY_TEXT } : {});
  if (fate === 'new') {
    for (let k = 1; k < count; k++) {
      t += rng.int(20 * SECOND, 10 * MINUTE);
      world.addMessage(conv, k === 1 ? 'system' : 'user', t);
    }
    return t;
  }
  t += rng.int(2 * SECOND, MINUTE);
  assignFromChannel(world, conv, t);
  const cut = fate === 'reopened' && count >= 3 ? Math.floor((count * 2) / 3) : -1;
  for (let k = 1; k < count; k++) {
    t += rng.int(20 * SECOND, 10 * MINUTE);
    if (k === cut) {
      world.resolve(conv, t, { type: 'agent', id: conv.record.assigned_agent_id as string });
      t += rng.int(HOUR, 6 * HOUR);
      world.reopen(conv, t - 3, { type: 'user', id: userId });
      world.addMessage(conv, 'user', t);
      continue;
    }
    const agentTurn = k % 2 === 1;
    const isPrivate = agentTurn && rng.chance(0.1);
    const resolvingNext = fate === 'resolved' && k === count - 1;
    world.addMessage(conv, agentTurn ? 'agent' : 'user', t, {
      isPrivate,
      ...(resolvingNext && agentTurn ? { metaData: { isResolved: 'true' } } : {}),
    });
  }
  if (fate === 'resolved' || (fate === 'reopened' && cut < 0)) {
    t += rng.int(MINUTE, 30 * MINUTE);
    world.resolve(conv, t, { type: 'agent', id: conv.record.assigned_agent_id as string });
  }
  return t;
}

/** The system assigns a conversation to its channel's group and an agent of that group. */
export function assignFromChannel(world: World, conv: ConversationState, time: number): void {
  const channel = world.channels.find((ch) => ch.id === conv.record.channel_id);
  const groupId = channel?.assign_to_group.id ?? world.rng.pick(world.groups).id;
  world.assign(conv, time, { type: 'system', id: world.systemActorId }, world.pickAgent(groupId), groupId);
}
