/** Every record a read-committed consumer sees in a topic now, decoded (Confluent wire format). */
import type { Config } from '../../cli/settings.ts';
import { Decoder } from '../../consumers/decoder.ts';
import { createKafka } from '../../kafka/client.ts';
import { readToEnd } from '../../kafka/read-to-end.ts';

export interface TopicRecord {
  partition: number;
  offset: string;
  key: string | null;
  timestamp: number;
  value: Record<string, unknown> | null;
  headers: Record<string, string>;
  raw: Buffer | null;
}

export async function topicRecords(
  config: Config,
  topic: string,
  options: {
    decode?: boolean;
    /** Wait for the last transaction's markers first (default); false for polling while writers run. */
    settle?: boolean;
  } = {},
): Promise<TopicRecord[]> {
  const kafka = createKafka(config, { role: 'test-reader', quiet: true });
  if (options.settle !== false) await stableEnds(kafka, topic);
  let raw: TopicRecord[] = [];
  // A topic that does not exist yet holds nothing; one created a moment ago may briefly have
  // no leader (a retriable error): read again.
  for (let attempt = 0; ; attempt++) {
    raw = [];
    try {
      await readToEnd(kafka, topic, (m, partition) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = String(v);
        raw.push({
          partition,
          offset: m.offset,
          key: m.key?.toString('utf8') ?? null,
          timestamp: Number(m.timestamp),
          value: null,
          headers,
          raw: m.value,
        });
      });
      break;
    } catch (error) {
      const type = (error as { type?: string }).type;
      if (type === 'UNKNOWN_TOPIC_OR_PARTITION') return [];
      if ((error as { retriable?: boolean }).retriable !== true || attempt >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  if (options.decode === false) return raw;
  const decoder = new Decoder(config);
  for (const r of raw) if (r.raw) r.value = (await decoder.decode(r.raw)).value;
  return raw;
}

/**
 * Waits until the topic's read-committed ends (last stable offsets) stop moving. A producer's
 * commit returns once the coordinator logged it; the markers that let read-committed readers
 * see the records are written just after. A test reading right after a writer exited could
 * otherwise stop before the last transaction (seen in CI under load).
 */
async function stableEnds(kafka: ReturnType<typeof createKafka>, topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = async () => {
      try {
        return JSON.stringify(await admin.fetchTopicOffsets(topic));
      } catch {
        return 'unknown'; // not created yet, or no leader for a moment
      }
    };
    let last = await ends();
    let sameSince = Date.now();
    // 1.5 s unchanged: under a loaded CI machine markers have taken longer than 0.6 s.
    const deadline = Date.now() + 20_000;
    while (Date.now() - sameSince < 1500 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const now = await ends();
      if (now !== last) [last, sameSince] = [now, Date.now()];
    }
  } finally {
    await admin.disconnect();
  }
}

/** Keys that occur more than once. */
export function duplicateKeys(records: { key: string | null }[]): string[] {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const { key } of records) {
    if (key === null) continue;
    if (seen.has(key)) twice.add(key);
    seen.add(key);
  }
  return [...twice];
}
