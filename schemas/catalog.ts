/**
 * Every record kind chatstream produces: its topic, key, retention and the Avro schema
 * versions under `schemas/<source>/<kind>/v<N>.avsc`. One source of truth for topic creation,
 * schema registration, `schemas check` and the generated TypeScript types.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Level } from './compatibility.ts';

export const SCHEMAS_DIR = dirname(fileURLToPath(import.meta.url));

export interface RecordKind {
  /** `<source>.<kind>`, e.g. freshchat.users (a configured prefix may stand in front). */
  topic: string;
  /** Field whose value is the Kafka record key. */
  key: string;
  /** Entity topics are compacted (latest per key); event topics keep a retention. */
  retention: 'compact' | 'time';
  /** Compatibility level of the subject `<topic>-value`. */
  compatibility: Level;
  /** Fields holding the source's event time, first present wins: the Kafka record timestamp. */
  time: readonly string[];
  /**
   * The field that identifies one record: the key for entities (latest state per key); for
   * events the event's own id, so the same event delivered twice counts once downstream.
   */
  identity: string;
}

const entity = (topic: string, key: string, time: string[] = []): RecordKind => ({
  topic,
  key,
  retention: 'compact',
  compatibility: 'BACKWARD',
  time,
  identity: key,
});
const event = (topic: string, key: string, time: string[], identity = key): RecordKind => ({
  topic,
  key,
  retention: 'time',
  compatibility: 'BACKWARD',
  time,
  identity,
});

export const RECORD_KINDS: RecordKind[] = [
  entity('freshchat.users', 'id', ['updated_time', 'created_time']),
  entity('freshchat.agents', 'id'),
  entity('freshchat.groups', 'id'),
  entity('freshchat.channels', 'id', ['updated_time']),
  entity('freshchat.conversations', 'conversation_id', ['updated_time', 'created_time']),
  event('freshchat.messages', 'id', ['created_time']),
  event('freshchat.conversation_events', 'conversation_id', ['action_time'], 'event_id'),
  entity('freshchat.outbound_messages', 'message_id', ['created_on']),
  entity('freshchat.account_configuration', 'account_key', ['fetched_time']),
  entity('freshchat.agent_statuses', 'id'),
  event('freshchat.report_rows', 'row_id', ['extracted_time']),
  // Browser clocks are the visitor's: the record time (and "latest" in the views) is when the
  // collector received the event; occurred_time / observed_time keep the browser's time.
  event('purechat.events', 'session_id', ['received_time'], 'event_id'),
  entity('purechat.visitors', 'visitor_id', ['received_time']),
  entity('purechat.widget_settings', 'widget_id', ['received_time']),
  entity('purechat.transcripts', 'transcript_id', ['ended_time', 'started_time']),
];

export interface SchemaVersion {
  version: number;
  path: string;
  text: string;
}

export function subjectOf(topic: string, prefix = ''): string {
  return `${prefix}${topic}-value`;
}

export function kindDir(kind: RecordKind, root = SCHEMAS_DIR): string {
  return join(root, ...kind.topic.split('.'));
}

/** The kind's schema versions, oldest first (v1.avsc, v2.avsc, …; gaps are an error). */
export function schemaVersions(kind: RecordKind, root = SCHEMAS_DIR): SchemaVersion[] {
  const dir = kindDir(kind, root);
  if (!existsSync(dir)) return [];
  const versions = readdirSync(dir)
    .map((file) => /^v(\d+)\.avsc$/.exec(file))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  return versions.map((version) => {
    const path = join(dir, `v${version}.avsc`);
    return { version, path, text: readFileSync(path, 'utf8') };
  });
}

export function latestSchema(kind: RecordKind, root = SCHEMAS_DIR): SchemaVersion {
  const versions = schemaVersions(kind, root);
  const latest = versions.at(-1);
  if (!latest) throw new Error(`no schema for ${kind.topic} under ${kindDir(kind, root)}`);
  return latest;
}

export function kindOf(topic: string): RecordKind {
  const kind = RECORD_KINDS.find((k) => k.topic === topic);
  if (!kind) throw new Error(`unknown record kind ${topic}`);
  return kind;
}
