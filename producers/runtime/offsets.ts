/**
 * Source offsets, kept the way Kafka Connect keeps them: a compacted topic whose record key
 * names the source partition — `["<source>",{"resource":"users"}]`, canonical JSON — and whose
 * value is the cursor as JSON (null = deleted); the latest value per key wins.
 *
 * Offsets are written only inside the runner's transactions, together with the records they
 * cover, and read back with read-committed isolation up to the last stable offset: what a
 * restarted source sees is exactly what the sinks can see.
 */
import type { Admin, Kafka, Message } from 'kafkajs';
import type { Logger } from '../../core/log.ts';
import { readToEnd } from '../../kafka/read-to-end.ts';
import { createTopics } from '../../kafka/topics.ts';
import type { SourceOffset, SourcePartition } from '../source.ts';

/** JSON with object keys sorted, so equal partitions always give the same key bytes. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function offsetKey(source: string, partition: SourcePartition): string {
  return canonicalJson([source, partition]);
}

export function parseOffsetKey(key: string): { source: string; partition: SourcePartition } | undefined {
  try {
    const parsed = JSON.parse(key) as unknown;
    if (
      Array.isArray(parsed) &&
      parsed.length === 2 &&
      typeof parsed[0] === 'string' &&
      parsed[1] &&
      typeof parsed[1] === 'object' &&
      !Array.isArray(parsed[1])
    )
      return { source: parsed[0], partition: parsed[1] as SourcePartition };
  } catch {
    // not one of ours: skipped by the caller
  }
  return undefined;
}

export function offsetMessage(
  source: string,
  partition: SourcePartition,
  offset: SourceOffset | null,
): Message {
  return { key: offsetKey(source, partition), value: offset === null ? null : JSON.stringify(offset) };
}

/** The committed offsets of one source, by canonical key. */
export class OffsetMap {
  private readonly entries = new Map<string, { partition: SourcePartition; offset: SourceOffset }>();
  readonly source: string;

  constructor(source: string) {
    this.source = source;
  }

  get size(): number {
    return this.entries.size;
  }

  get(partition: SourcePartition): SourceOffset | undefined {
    return this.entries.get(offsetKey(this.source, partition))?.offset;
  }

  set(partition: SourcePartition, offset: SourceOffset | null): void {
    const key = offsetKey(this.source, partition);
    if (offset === null) this.entries.delete(key);
    else this.entries.set(key, { partition, offset });
  }

  /** Offsets whose partition has every field of `match`. */
  matching(match: SourcePartition): { partition: SourcePartition; offset: SourceOffset }[] {
    const wanted = Object.entries(match);
    return [...this.entries.values()].filter(({ partition }) => wanted.every(([k, v]) => partition[k] === v));
  }
}

export async function ensureOffsetsTopic(
  admin: Admin,
  topic: string,
  replicationFactor: number,
): Promise<void> {
  if ((await admin.listTopics()).includes(topic)) return;
  await createTopics(admin, [
    {
      topic,
      numPartitions: 1,
      replicationFactor,
      configEntries: [
        { name: 'cleanup.policy', value: 'compact' },
        { name: 'min.compaction.lag.ms', value: String(60 * 60 * 1000) },
      ],
    },
  ]);
}

/**
 * Reads the offsets topic to its last stable offset (read committed) and returns the source's
 * latest offsets. Call it after the source's transactional producer is initialised: that aborts
 * any transaction a crashed predecessor left open.
 */
export async function loadOffsets(
  kafka: Kafka,
  topic: string,
  source: string,
  log: Logger,
): Promise<OffsetMap> {
  const map = new OffsetMap(source);
  let records = 0;
  await readToEnd(kafka, topic, (message) => {
    const parsed = message.key && parseOffsetKey(message.key.toString('utf8'));
    if (!parsed || parsed.source !== source) return;
    let value: SourceOffset | null = null;
    if (message.value) {
      try {
        value = JSON.parse(message.value.toString('utf8')) as SourceOffset;
      } catch {
        log.warn('skipping an offset record that is not JSON', { topic, offset: message.offset });
        return;
      }
    }
    records++;
    map.set(parsed.partition, value);
  });
  log.info('source offsets loaded', { source, topic, records, partitions: map.size });
  return map;
}
