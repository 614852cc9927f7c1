/**
 * The de-duplicated views the analytics read (the ClickHouse sink's `<table>_dedup`, one per
 * topic), and how a missing one is created before the sink has written a row: from the
 * repository's latest schema, with the sink's own DDL, so the sink finds a table it would have
 * created itself (it adds or widens columns as the registered schema evolves).
 */

import type { AvroRecordSchema } from '../consumers/sink.ts';
import {
  columnsOf,
  createTableSql,
  createViewSql,
  type DedupPolicy,
  quoteIdent,
  tableName,
} from '../consumers/sinks/clickhouse/schema.ts';
import { detectCapabilities } from '../consumers/sinks/clickhouse/sink.ts';
import { latestSchema, RECORD_KINDS, type RecordKind } from '../schemas/catalog.ts';

/** The topics the analytics read, by a short name. */
export const SOURCE_TOPICS = {
  conversations: 'freshchat.conversations',
  events: 'freshchat.conversation_events',
  messages: 'freshchat.messages',
  agents: 'freshchat.agents',
  groups: 'freshchat.groups',
  purechat: 'purechat.events',
} as const;

export type SourceName = keyof typeof SOURCE_TOPICS;
/** Source name → the quoted `database`.`<table>_dedup` a query reads. */
export type Sources = Record<SourceName, string>;

export function sourceTable(topicPrefix: string, name: SourceName): string {
  return tableName(`${topicPrefix}${SOURCE_TOPICS[name]}`);
}

export function sources(database: string, topicPrefix: string): Sources {
  const entries = Object.keys(SOURCE_TOPICS).map((name) => [
    name,
    `${quoteIdent(database)}.${quoteIdent(`${sourceTable(topicPrefix, name as SourceName)}_dedup`)}`,
  ]);
  return Object.fromEntries(entries) as Sources;
}

/** The sink's read policy for a record kind (consumers/sinks/clickhouse/sink.ts decides the same way). */
export function dedupPolicyOf(kind: RecordKind): DedupPolicy {
  if (kind.retention === 'compact') return { kind: 'latest', tombstones: true };
  return kind.identity === kind.key ? { kind: 'latest' } : { kind: 'identity', field: kind.identity };
}

/** The DDL that creates a source's table and `_dedup` view as the sink would (IF NOT EXISTS). */
export function sourceDdl(
  database: string,
  topicPrefix: string,
  name: SourceName,
  version: string,
): string[] {
  const kind = RECORD_KINDS.find((k) => k.topic === SOURCE_TOPICS[name]) as RecordKind;
  const caps = detectCapabilities(version);
  const schema = JSON.parse(latestSchema(kind).text) as AvroRecordSchema;
  const policy = dedupPolicyOf(kind);
  const table = sourceTable(topicPrefix, name);
  const columns = columnsOf(schema, caps).map(({ name: n, type }) => ({ name: n, type }));
  return [createTableSql(database, table, columns, caps, policy), createViewSql(database, table, policy)];
}
