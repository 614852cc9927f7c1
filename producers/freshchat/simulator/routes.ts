/**
 * The Freshchat REST v2 routes the simulator serves, as a table of [method, path, handler].
 * `{}` in a path matches one URL-decoded segment; the first match wins, so fixed paths such as
 * `agents/status` come before `agents/{}`.
 */
import { apiErrors, listEnvelope, messagesEnvelope, type Page, pageOf, paginate } from './envelope.ts';
import type { ExtractJobs } from './extract.ts';
import type { Resolved } from './options.ts';
import type { Renderer } from './render.ts';
import { parseTime } from './time.ts';
import type { World } from './world.ts';

/** UNCONFIRMED path of the agent status list (SOURCES.md, "Agent statuses"). */
export const AGENT_STATUS_PATH = '/v2/agents/status';

export interface ApiContext {
  world: World;
  render: Renderer;
  extract: ExtractJobs;
  options: Resolved;
  /** http://host:port of the simulator, for absolute links. */
  origin: () => string;
}

export interface ApiRequest {
  params: string[];
  query: URLSearchParams;
  body: unknown;
  /** Add unknown extra fields to the objects of this response (a fault). */
  extra: boolean;
}

export interface Reply {
  status: number;
  body: unknown;
}

type Handler = (ctx: ApiContext, req: ApiRequest) => Reply;

const ok = (body: unknown): Reply => ({ status: 200, body });
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

function timeParam(query: URLSearchParams, name: string): number | undefined {
  const text = query.get(name);
  if (text === null) return undefined;
  const ms = parseTime(text);
  if (ms === undefined)
    throw apiErrors.badRequest(`${name} must be an ISO-8601 time such as 2020-02-14T00:00:00.000Z`);
  return ms;
}

function sortOrder(query: URLSearchParams): 1 | -1 {
  const order = query.get('sort_order') ?? 'asc';
  if (order !== 'asc' && order !== 'desc') throw apiErrors.badRequest('sort_order must be asc or desc');
  return order === 'asc' ? 1 : -1;
}

/** A paged list of world objects by index, rendered, in the list envelope. */
function list(
  ctx: ApiContext,
  req: ApiRequest,
  [key, rel, path]: [string, string, string],
  indexes: number[],
  render: (i: number) => unknown,
): Reply {
  const page: Page = pageOf(req.query, ctx.options.pageCaps.default);
  const paged = paginate(indexes, page);
  const items = paged.items.map(render);
  const settings = {
    path,
    filters: req.query,
    rel,
    omitNextOnLastPage: ctx.options.variants.omitNextOnLastPage,
  };
  return ok(listEnvelope(key, { ...paged, items }, settings));
}

const listUsers: Handler = (ctx, req) => {
  const from = timeParam(req.query, 'created_from');
  const to = timeParam(req.query, 'created_to');
  if (ctx.options.requireUserDateFilter && from === undefined && to === undefined)
    throw apiErrors.badRequest('created_from or created_to is required');
  const order = sortOrder(req.query);
  const created = ctx.world.userCreatedMs;
  const indexes = ctx.world
    .usersByCreated()
    .filter(
      (i) =>
        (from === undefined || (created[i] as number) >= from) &&
        (to === undefined || (created[i] as number) <= to),
    );
  if (order === -1) indexes.reverse();
  return list(ctx, req, ['users', 'user', '/users'], indexes, (i) => ctx.render.user(i, req.extra));
};

const listAgents: Handler = (ctx, req) => {
  const q = req.query;
  const group = q.get('groups');
  const deactivated = q.get('is_deactivated');
  const availability = q.get('availability_status');
  if (deactivated !== null && deactivated !== 'true' && deactivated !== 'false')
    throw apiErrors.badRequest('is_deactivated must be true or false');
  if (availability !== null && availability !== 'AVAILABLE' && availability !== 'UNAVAILABLE')
    throw apiErrors.badRequest('availability_status must be AVAILABLE or UNAVAILABLE');
  const indexes = range(ctx.world.agents.length).filter((i) => {
    const a = ctx.world.agents[i] as World['agents'][0];
    return (
      (group === null || a.groups.includes(group)) &&
      (deactivated === null || String(a.is_deactivated) === deactivated) &&
      (availability === null || a.availability_status === availability)
    );
  });
  return list(ctx, req, ['agents', 'agent', '/agents'], indexes, (i) => ctx.render.agent(i, req.extra));
};

const listGroups: Handler = (ctx, req) => {
  const sortBy = req.query.get('sort_by');
  if (sortBy !== null && sortBy !== 'name') throw apiErrors.badRequest('sort_by must be name');
  const order = sortOrder(req.query);
  const indexes = range(ctx.world.groups.length);
  const name = (i: number) => ctx.world.groups[i]?.name ?? '';
  if (sortBy === 'name') indexes.sort((a, b) => order * name(a).localeCompare(name(b)));
  else if (order === -1) indexes.reverse();
  return list(ctx, req, ['groups', 'group', '/groups'], indexes, (i) => ctx.render.group(i, req.extra));
};

const listChannels: Handler = (ctx, req) =>
  list(ctx, req, ['channels', 'channel', '/channels'], range(ctx.world.channels.length), (i) =>
    ctx.render.channel(i, req.extra),
  );

const listOutbound: Handler = (ctx, req) => {
  const requestId = req.query.get('request_id');
  const all = ctx.world.outbound;
  const indexes = range(all.length).filter((i) => requestId === null || all[i]?.request_id === requestId);
  return list(ctx, req, ['outbound_messages', 'message', '/outbound-messages'], indexes, (i) =>
    structuredClone(all[i]),
  );
};

function userOf(ctx: ApiContext, id: string): number {
  const index = ctx.world.userIndex(id);
  if (index === undefined) throw apiErrors.userNotFound();
  return index;
}

function conversationOf(ctx: ApiContext, id: string): number {
  const index = ctx.world.conversationIndex(id, ctx.options.variants.numericConversationIds);
  if (index === undefined) throw apiErrors.conversationNotFound();
  return index;
}

const userConversations: Handler = (ctx, req) => {
  const user = userOf(ctx, req.params[0] as string);
  const mine = ctx.world.conversations.filter((c) => c.userIndex === user).map((c) => c.index);
  const item = (i: number) => ({ id: ctx.world.conversations[i]?.record.conversation_id });
  if (!ctx.options.variants.userConversationsPaged) return ok({ conversations: mine.map(item) });
  const path = `/users/${encodeURIComponent(req.params[0] as string)}/conversations`;
  return list(ctx, req, ['conversations', 'conversation', path], mine, item);
};

const listMessages: Handler = (ctx, req) => {
  const conv = ctx.world.conversations[
    conversationOf(ctx, req.params[0] as string)
  ] as World['conversations'][0];
  const page = pageOf(req.query, ctx.options.pageCaps.messages);
  const fromTime = timeParam(req.query, 'from_time');
  const { messagesOrder, honourFromTime, omitNextOnLastPage, messagesPagination } = ctx.options.variants;
  const messages = ctx.world.messages;
  const time = (i: number) => messages[i]?.created_time ?? '';
  let indexes = [...conv.messages].sort((a, b) => (time(a) < time(b) ? -1 : time(a) > time(b) ? 1 : a - b));
  if (honourFromTime && fromTime !== undefined)
    indexes = indexes.filter((i) => Date.parse(time(i)) >= fromTime);
  if (messagesOrder === 'newest-first') indexes.reverse();
  const paged = paginate(indexes, page);
  const items = paged.items.map((i) => ctx.render.message(i, req.extra));
  const path = `/conversations/${encodeURIComponent(conv.record.conversation_id)}/messages`;
  const settings = {
    path,
    filters: req.query,
    rel: 'message',
    omitNextOnLastPage,
    withPagination: messagesPagination,
  };
  return ok(messagesEnvelope({ ...paged, items }, settings));
};

const getAgent: Handler = (ctx, req) => {
  const index = ctx.world.agentIndex(req.params[0] as string);
  if (index === undefined) throw apiErrors.agentNotFound();
  return ok(ctx.render.agent(index, req.extra));
};

const ROUTES: [string, string, Handler][] = [
  ['GET', '/v2/accounts/configuration', (ctx) => ok(structuredClone(ctx.world.account))],
  ['GET', AGENT_STATUS_PATH, (ctx) => ok({ states: structuredClone(ctx.world.agentStatuses) })],
  ['GET', '/v2/users', listUsers],
  ['GET', '/v2/users/{}', (ctx, req) => ok(ctx.render.user(userOf(ctx, req.params[0] as string), req.extra))],
  ['GET', '/v2/users/{}/conversations', userConversations],
  ['GET', '/v2/agents', listAgents],
  ['GET', '/v2/agents/{}', getAgent],
  ['GET', '/v2/groups', listGroups],
  ['GET', '/v2/channels', listChannels],
  [
    'GET',
    '/v2/conversations/{}',
    (ctx, req) => ok(ctx.render.conversation(conversationOf(ctx, req.params[0] as string), req.extra)),
  ],
  ['GET', '/v2/conversations/{}/messages', listMessages],
  ['GET', '/v2/outbound-messages', listOutbound],
  ['POST', '/v2/reports/raw', (ctx, req) => ctx.extract.create(req.body)],
  ['GET', '/v2/reports/raw/{}', (ctx, req) => ok(ctx.extract.poll(req.params[0] as string, ctx.origin()))],
];

const COMPILED = ROUTES.map(([method, pattern, handler]) => ({
  name: `${method} ${pattern}`,
  method,
  regex: new RegExp(`^${pattern.replace(/\{\}/g, '([^/]+)')}/?$`),
  handler,
}));

export interface Match {
  /** `GET /v2/users/{}`: the route's name in stats. */
  name: string;
  handler: Handler;
  params: string[];
}

/** The route for a request, or undefined (a 404 for the caller). */
export function matchRoute(method: string, path: string): Match | undefined {
  const route = COMPILED.find((r) => r.method === method && r.regex.test(path));
  if (!route) return undefined;
  const params = (path.match(route.regex) ?? []).slice(1).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      throw apiErrors.badRequest(`Malformed URL segment: ${p}`);
    }
  });
  return { name: route.name, handler: route.handler, params };
}
