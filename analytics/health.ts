/**
 * Pipeline health for the dashboard, from the metrics the services already export (README,
 * "Metrics"): consumer lag (`chatstream_sink_lag`), records per second into Kafka
 * (`chatstream_source_records_total`), read by the sink and written by it
 * (`chatstream_sink_records_in_total` / `_out_total`), dead letters (sink and sources), and the
 * age of each producer's cursors (`chatstream_source_last_commit_timestamp_seconds`). The
 * metrics come as Prometheus text: from the registries of this process (`npm start`) or from
 * `/metrics` URLs (the standalone dashboard). Rates are the change between two reads, per
 * source: a source (URL) that was not read at the previous read, or whose counter went down (a
 * restart), adds nothing to that rate rather than its whole counter as new.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Samples of the Prometheus text exposition format (comments and malformed lines skipped). */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const l of (match[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_m, c) => (c === 'n' ? '\n' : c));
    const value = Number(match[4]);
    if (!Number.isNaN(value)) samples.push({ name: match[1] as string, labels, value });
  }
  return samples;
}

export interface HealthSnapshot {
  /** When it was read (ISO 8601). */
  updated: string;
  lag: number | null;
  producedPerSecond: number | null;
  sinkInPerSecond: number | null;
  sinkOutPerSecond: number | null;
  deadLetters: number | null;
  cursors: { source: string; ageSeconds: number }[];
  /** Metrics sources that could not be read, with why. */
  unreachable: string[];
}

interface Totals {
  produced: number | null;
  sinkIn: number | null;
  sinkOut: number | null;
}

const sum = (samples: Sample[], name: string): number | null => {
  const found = samples.filter((s) => s.name === name);
  return found.length === 0 ? null : found.reduce((a, s) => a + s.value, 0);
};

/** One read: the text of each source read (by a stable name, the URL), and the sources that failed. */
export type MetricsReader = () => Promise<{
  texts: { source: string; text: string }[];
  unreachable: string[];
}>;

/** Reads `/metrics` URLs, each within `timeoutMs`; an unreachable one is named, not fatal. */
export function scrapeUrls(urls: string[], timeoutMs = 2000): MetricsReader {
  return async () => {
    const texts: { source: string; text: string }[] = [];
    const unreachable: string[] = [];
    await Promise.all(
      urls.map(async (url) => {
        try {
          const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
          texts.push({ source: url, text: await response.text() });
        } catch (error) {
          unreachable.push(`${url}: ${(error as Error).message}`);
        }
      }),
    );
    return { texts, unreachable };
  };
}

/** Reads registries of this process (anything with prom-client's `metrics()`). */
export function readRegistries(registries: { metrics(): Promise<string> }[]): MetricsReader {
  return async () => ({
    texts: await Promise.all(
      registries.map(async (r, i) => ({ source: `registry ${i}`, text: await r.metrics() })),
    ),
    unreachable: [],
  });
}

export class PipelineHealth {
  /** The previous read: when, and each source's totals (only the sources read then). */
  private previous?: { at: number; totals: Map<string, Totals> };
  private cached?: { at: number; snapshot: Promise<HealthSnapshot> };
  private readonly reader: MetricsReader;
  private readonly cacheMs: number;

  constructor(reader: MetricsReader, cacheSeconds: number) {
    this.reader = reader;
    this.cacheMs = Math.max(1000, cacheSeconds * 1000);
  }

  /** The snapshot, read at most once per cache period however many viewers ask. */
  read(now = Date.now()): Promise<HealthSnapshot> {
    if (this.cached && now - this.cached.at < this.cacheMs) return this.cached.snapshot;
    const snapshot = this.compute(now);
    this.cached = { at: now, snapshot };
    return snapshot;
  }

  private async compute(now: number): Promise<HealthSnapshot> {
    const { texts, unreachable } = await this.reader();
    const bySource = texts.map(({ source, text }) => ({ source, samples: parsePrometheus(text) }));
    const samples = bySource.flatMap((s) => s.samples);
    const totals = new Map<string, Totals>(
      bySource.map(({ source, samples: own }) => [
        source,
        {
          produced: sum(own, 'chatstream_source_records_total'),
          sinkIn: sum(own, 'chatstream_sink_records_in_total'),
          sinkOut: sum(own, 'chatstream_sink_records_out_total'),
        },
      ]),
    );
    // Per source: only one read at the previous read too and whose counter did not go down; a
    // source that failed then (or restarted) would count its whole counter as new.
    const rate = (key: keyof Totals): number | null => {
      const previous = this.previous;
      const seconds = previous ? (now - previous.at) / 1000 : 0;
      if (!previous || seconds <= 0) return null;
      let delta: number | null = null;
      for (const [source, after] of totals) {
        const before = previous.totals.get(source)?.[key];
        const value = after[key];
        if (before === null || before === undefined || value === null || value < before) continue;
        delta = (delta ?? 0) + (value - before);
      }
      return delta === null ? null : delta / seconds;
    };
    const snapshot: HealthSnapshot = {
      updated: new Date(now).toISOString(),
      lag: sum(samples, 'chatstream_sink_lag'),
      producedPerSecond: rate('produced'),
      sinkInPerSecond: rate('sinkIn'),
      sinkOutPerSecond: rate('sinkOut'),
      deadLetters: (() => {
        const a = sum(samples, 'chatstream_sink_dead_letters_total');
        const b = sum(samples, 'chatstream_source_dead_letters_total');
        // No sample of a counter yet means none so far, once some metrics were read at all.
        return texts.length === 0 ? null : (a ?? 0) + (b ?? 0);
      })(),
      cursors: samples
        .filter((s) => s.name === 'chatstream_source_last_commit_timestamp_seconds' && s.value > 0)
        .map((s) => ({
          source: s.labels.source ?? '?',
          ageSeconds: Math.max(0, Math.round(now / 1000 - s.value)),
        })),
      unreachable,
    };
    this.previous = { at: now, totals };
    return snapshot;
  }
}
