/**
 * The rows of each Extract report, derived from the world: those whose time falls in
 * [from, to), oldest first, one cell per column of COLUMNS (extract-csv.ts). Values the world
 * does not hold (labels, CSAT, agent activity) are derived from the seed, so they are the
 * same on every run.
 */
import { CSAT_COMMENTS, RESOLUTION_LABELS } from './content.ts';
import type { Cell, ExtractEvent } from './extract-csv.ts';
import { hashFraction } from './random.ts';
import { HOUR, iso, MINUTE } from './time.ts';
import type { Agent, Message } from './types.ts';
import type { StatusEvent, World } from './world.ts';

export interface Row {
  time: number;
  cells: Cell[];
}

const textOf = (m: Message): string =>
  (m.message_parts.find((p) => 'text' in p)?.text as { content?: string } | undefined)?.content ?? '';
const seconds = (ms: number): number => Math.round(ms / 1000);

function resolutions(world: World): StatusEvent[] {
  return world.log.filter((e): e is StatusEvent => e.kind === 'resolution');
}

function conversationRows(world: World): Row[] {
  return world.conversations.map((conv) => {
    const c = conv.record;
    const first = world.messages[conv.messages[0] ?? -1];
    const channel = world.channels.find((ch) => ch.id === c.channel_id);
    return {
      time: conv.createdMs,
      cells: [
        c.conversation_id,
        String(c.conversation_internal_id),
        c.created_time,
        c.user_id,
        c.channel_id,
        channel?.name ?? '',
        first ? textOf(first) : '',
      ],
    };
  });
}

function assignmentRows(world: World, byGroup: boolean): Row[] {
  const rows: Row[] = [];
  for (const e of world.log) {
    if (e.kind !== 'assignment') continue;
    const id = (world.conversations[e.conversation] as World['conversations'][0]).record.conversation_id;
    if (byGroup && e.assignedGroupId && e.assignedGroupId !== e.fromGroupId) {
      const group = world.groups.find((g) => g.id === e.assignedGroupId);
      rows.push({
        time: e.time,
        cells: [
          id,
          iso(e.time),
          e.assignedGroupId,
          group?.name ?? '',
          e.fromGroupId ?? '',
          e.actorType,
          e.actorId,
        ],
      });
    } else if (!byGroup && e.assignedAgentId) {
      const agent = world.agents[world.agentIndex(e.assignedAgentId) ?? -1];
      rows.push({
        time: e.time,
        cells: [
          id,
          iso(e.time),
          e.assignedAgentId,
          agent?.email ?? '',
          e.fromAgentId ?? '',
          e.actorType,
          e.actorId,
        ],
      });
    }
  }
  return rows;
}

const emailOf = (world: World, agentId: string): string =>
  world.agents[world.agentIndex(agentId) ?? -1]?.email ?? '';

function messageRows(world: World): Row[] {
  return world.messages
    .filter((m) => m.actor_type === 'agent')
    .map((m) => ({
      time: Date.parse(m.created_time),
      cells: [
        m.id,
        m.conversation_id,
        m.created_time,
        m.actor_id,
        emailOf(world, m.actor_id),
        m.message_type,
        m.message_source,
        textOf(m),
      ],
    }));
}

/** First-Response-Time (first agent reply per interaction) or Response-Time (every agent reply). */
function responseRows(world: World, firstOnly: boolean): Row[] {
  const rows: Row[] = [];
  for (const conv of world.conversations) {
    let waitingSince: number | undefined;
    const answered = new Set<string>();
    for (const index of conv.messages) {
      const m = world.messages[index] as Message;
      const t = Date.parse(m.created_time);
      if (m.actor_type === 'user') waitingSince ??= t;
      if (m.actor_type !== 'agent' || m.message_type === 'private' || waitingSince === undefined) continue;
      if (!firstOnly)
        rows.push({
          time: t,
          cells: [
            m.conversation_id,
            m.id,
            m.actor_id,
            iso(waitingSince),
            m.created_time,
            seconds(t - waitingSince),
          ],
        });
      else if (!answered.has(m.interaction_id))
        rows.push({
          time: t,
          cells: [
            m.conversation_id,
            m.interaction_id,
            iso(waitingSince),
            m.created_time,
            m.actor_id,
            seconds(t - waitingSince),
          ],
        });
      answered.add(m.interaction_id);
      waitingSince = undefined;
    }
  }
  return rows;
}

function resolutionRows(world: World, event: ExtractEvent, seed: number): Row[] {
  return resolutions(world).flatMap((e): Row[] => {
    const c = (world.conversations[e.conversation] as World['conversations'][0]).record;
    const at = iso(e.time);
    const key = `${e.conversation}:${e.time}`;
    if (event === 'Resolution-Time')
      return [
        {
          time: e.time,
          cells: [
            c.conversation_id,
            e.interactionId,
            iso(e.interactionStart),
            at,
            e.actorId,
            seconds(e.time - e.interactionStart),
          ],
        },
      ];
    if (event === 'Conversation-Resolved')
      return [
        {
          time: e.time,
          cells: [
            c.conversation_id,
            at,
            e.actorType,
            e.actorId,
            e.assignedAgentId ?? '',
            e.assignedGroupId ?? '',
            c.channel_id,
          ],
        },
      ];
    if (event === 'Conversation-Resolution-Label') {
      const label = RESOLUTION_LABELS[
        Math.floor(hashFraction(seed, `label:${key}`) * RESOLUTION_LABELS.length)
      ] as string[];
      return [{ time: e.time, cells: [c.conversation_id, at, e.assignedAgentId ?? '', ...label] }];
    }
    // CSAT-Score: most resolutions get a rating a few minutes later.
    const roll = hashFraction(seed, `csat:${key}`);
    if (roll >= 0.6) return [];
    const submitted = e.time + Math.floor(roll * 100) * MINUTE + MINUTE;
    const comment = CSAT_COMMENTS[
      Math.floor(hashFraction(seed, `comment:${key}`) * CSAT_COMMENTS.length)
    ] as string;
    return [
      {
        time: submitted,
        cells: [
          c.conversation_id,
          e.assignedAgentId ?? '',
          iso(submitted),
          1 + Math.floor(roll * 8.33),
          comment,
        ],
      },
    ];
  });
}

/** Agent sessions: for each agent and slot of the world's lifetime, a seeded status spell. */
function activityRows(world: World, seed: number, from: number, to: number, intelliassign: boolean): Row[] {
  const slot = intelliassign ? 2 * HOUR : HOUR;
  const begin = Math.max(from, Date.parse(world.account.created_time));
  const end = Math.min(to, world.clock.now());
  const statuses = intelliassign
    ? ['ACTIVE', 'PAUSED']
    : ['AVAILABLE', 'UNAVAILABLE', ...world.agentStatuses.map((s) => s.name)];
  const rows: Row[] = [];
  for (let s = Math.floor(begin / slot) * slot; s < end; s += slot) {
    world.agents.forEach((agent: Agent) => {
      const roll = hashFraction(seed, `${intelliassign ? 'ia' : 'act'}:${agent.id}:${s}`);
      if (roll >= 0.5) return;
      const start = s + Math.floor(roll * 2 * (slot / 2));
      const duration = Math.floor(hashFraction(seed, `len:${agent.id}:${s}`) * (slot / 2)) + MINUTE;
      const status = statuses[
        Math.floor(hashFraction(seed, `st:${agent.id}:${s}`) * statuses.length)
      ] as string;
      rows.push({
        time: start,
        cells: [agent.id, agent.email, status, iso(start), iso(start + duration), seconds(duration)],
      });
    });
  }
  return rows;
}

/** The report's rows with a time in [from, to), oldest first. */
export function extractRows(
  world: World,
  seed: number,
  event: ExtractEvent,
  from: number,
  to: number,
): Row[] {
  let rows: Row[];
  if (event === 'Conversation-Created') rows = conversationRows(world);
  else if (event === 'Conversation-Agent-Assigned') rows = assignmentRows(world, false);
  else if (event === 'Conversation-Group-Assigned') rows = assignmentRows(world, true);
  else if (event === 'Message-Sent') rows = messageRows(world);
  else if (event === 'First-Response-Time' || event === 'Response-Time')
    rows = responseRows(world, event === 'First-Response-Time');
  else if (event === 'Agent-Activity' || event === 'Agent-Intelliassign-Activity')
    rows = activityRows(world, seed, from, to, event === 'Agent-Intelliassign-Activity');
  else rows = resolutionRows(world, event, seed);
  return rows.filter((r) => r.time >= from && r.time < to).sort((a, b) => a.time - b.time);
}
