/**
 * What one transaction holds, built from the pages committed together (pure): every encoded
 * record, the dead letters of the records that could not be encoded, the offsets the pages
 * move (the last per partition wins) and a marker naming the transaction.
 */
import type { Message } from 'kafkajs';
import { deadLetterMessages } from '../../kafka/dead-letters.ts';
import type { RefusedInput, SourcePage, SourcePartition } from '../source.ts';
import type { EncodeResult, RejectedRecord } from './encoder.ts';
import { offsetKey, offsetMessage } from './offsets.ts';
import type { TopicMessages } from './transactions.ts';

/** The marker partition: its offset names the last committed transaction of the source. */
export const MARKER: SourcePartition = { _transaction: 'last' };

export interface BatchTopics {
  offsets: string;
  deadLetters: string;
}

export function transactionMessages(
  source: string,
  pages: { page: SourcePage; encoded?: EncodeResult }[],
  topics: BatchTopics,
  /** Names the transaction in a marker; undefined: no marker (idempotent delivery). */
  transaction: string | undefined,
  now = new Date(),
): TopicMessages[] {
  const byTopic = new Map<string, Message[]>();
  const add = (topic: string, message: Message) => {
    const list = byTopic.get(topic);
    if (list) list.push(message);
    else byTopic.set(topic, [message]);
  };
  const offsets = new Map<string, { partition: SourcePartition; offset: Record<string, unknown> | null }>();
  for (const { page, encoded } of pages) {
    for (const r of encoded?.encoded ?? [])
      add(r.topic, { key: r.key, value: r.value, timestamp: String(r.timestamp) });
    for (const m of deadLetters(source, encoded?.rejected ?? [], now)) add(topics.deadLetters, m);
    for (const r of page.refused ?? []) add(r.topic, refusedMessage(source, r, now));
    for (const o of page.offsets ?? []) offsets.set(offsetKey(source, o.partition), o);
  }
  for (const o of offsets.values()) add(topics.offsets, offsetMessage(source, o.partition, o.offset));
  if (transaction !== undefined)
    add(topics.offsets, offsetMessage(source, MARKER, { transaction, time: now.toISOString() }));
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

function deadLetters(source: string, rejected: RejectedRecord[], now: Date): Message[] {
  return deadLetterMessages(
    rejected.map((r) => ({
      key: r.key,
      value: truncated(JSON.stringify(r.value) ?? 'null'),
      kind: 'rejected',
      reason: r.reason,
      headers: { 'dlq.topic': r.topic },
    })),
    { 'dlq.source': source },
    now,
  );
}

function refusedMessage(source: string, r: RefusedInput, now: Date): Message {
  const [message] = deadLetterMessages(
    [{ key: r.key, value: r.value, kind: r.kind, reason: r.reason, headers: r.headers ?? {} }],
    { 'dlq.source': source },
    now,
  );
  return message as Message;
}

/** A dead letter's JSON, cut to fit one Kafka record (a record too large is one reason to be here). */
export function truncated(json: string, limitBytes = 512 * 1024): string {
  const bytes = Buffer.from(json);
  if (bytes.length <= limitBytes) return json;
  // Cut on bytes (non-Latin text takes up to 4 per character); a split character is dropped.
  const head = bytes
    .subarray(0, limitBytes)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
  return `${head}… (truncated from ${bytes.length} bytes)`;
}

/** Records and dead letters per topic, for the metrics. */
export function countsByTopic(
  pages: { encoded?: EncodeResult }[],
): Map<string, { ok: number; rejected: number }> {
  const counts = new Map<string, { ok: number; rejected: number }>();
  const at = (topic: string) => {
    let c = counts.get(topic);
    if (!c) {
      c = { ok: 0, rejected: 0 };
      counts.set(topic, c);
    }
    return c;
  };
  for (const { encoded } of pages) {
    for (const r of encoded?.encoded ?? []) at(r.topic).ok++;
    for (const r of encoded?.rejected ?? []) at(r.topic).rejected++;
  }
  return counts;
}

export function countRecords(pages: { page: SourcePage }[]): number {
  return pages.reduce((n, p) => n + p.page.records.length, 0);
}
