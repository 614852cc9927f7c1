/**
 * Resources Freshchat can only list whole (no change filter): account configuration, agents,
 * agent statuses, groups, channels, outbound messages. Every pass lists them; an entity is
 * written only when its content differs from the fingerprint its offset remembers, so a pass
 * over unchanged data writes nothing.
 */
import { type ListPage, listPages } from '../paging.ts';
import { changed, emitEntities, idText, type SyncContext } from '../sync-context.ts';

interface ListSpec {
  resource: 'agents' | 'groups' | 'channels' | 'outbound_messages';
  kind: string;
  path: string;
  key: string;
  id: string;
}

type Json = Record<string, unknown>;

export function listSpecs(s: SyncContext): ListSpec[] {
  return [
    { resource: 'agents', kind: 'freshchat.agents', path: '/agents', key: 'agents', id: 'id' },
    { resource: 'groups', kind: 'freshchat.groups', path: '/groups', key: 'groups', id: 'id' },
    { resource: 'channels', kind: 'freshchat.channels', path: '/channels', key: 'channels', id: 'id' },
    {
      resource: 'outbound_messages',
      kind: 'freshchat.outbound_messages',
      path: s.settings.outboundMessagesPath,
      key: 'outbound_messages',
      id: 'message_id',
    },
  ];
}

/** One list resource, page by page; each page's changed entities are one emit. */
export async function syncList(s: SyncContext, spec: ListSpec): Promise<void> {
  const pages: AsyncGenerator<ListPage<Json>> = listPages<Json>(s.client, {
    endpoint: spec.resource,
    path: spec.path,
    key: spec.key,
    pageSize: s.settings.pageSize,
  });
  for await (const page of pages) {
    s.progress.pages++;
    if (page.totalItems !== undefined) s.progress.totals[spec.resource] = page.totalItems;
    const items = page.items.filter((i): i is Json => i !== null && typeof i === 'object');
    await emitEntities(
      s,
      spec.resource,
      spec.kind,
      changed(s, spec.resource, items, (i) => idText(i[spec.id])),
    );
    if (s.runtime.signal.aborted) return;
  }
}

/** Agent statuses: `{"states": [{id, name}]}` at a path the docs do not confirm (a setting). */
export async function syncAgentStatuses(s: SyncContext): Promise<void> {
  const path = s.settings.agentStatusesPath;
  const body = await s.client.get<{ states?: unknown }>('agent_statuses', path);
  if (body === undefined) return s.unavailable('agent_statuses', path);
  const states = (Array.isArray(body.states) ? body.states : []).filter(
    (i): i is Json => i !== null && typeof i === 'object',
  );
  await emitEntities(
    s,
    'agent_statuses',
    'freshchat.agent_statuses',
    changed(s, 'agent_statuses', states, (i) => idText(i.id)),
  );
}

/**
 * The account configuration (shape unconfirmed; nothing depends on its fields): one record
 * keyed by app_id (else "account"), written when its content changes.
 */
export async function syncAccountConfiguration(s: SyncContext): Promise<void> {
  const path = '/accounts/configuration';
  const body = await s.client.get<unknown>('account_configuration', path);
  if (body === undefined) return s.unavailable('account_configuration', path);
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    s.log.warn('account configuration is not a JSON object; skipped', { path });
    return;
  }
  const config = body as Json;
  const account = idText(config.app_id) ?? idText(config.account_id) ?? 'account';
  const [entity] = changed(s, 'account_configuration', [config], () => account);
  if (!entity) return;
  const value = { ...config, account_key: account, fetched_time: new Date().toISOString() };
  await emitEntities(s, 'account_configuration', 'freshchat.account_configuration', [{ ...entity, value }]);
}
