/** The collector's own metrics, beside the runner's (chatstream_source_*): requests, events, bad rows. */
import { Counter, type Registry } from 'prom-client';
import type { CollectorCounters } from './collector.ts';

export function collectorCounters(registry: Registry): CollectorCounters {
  const get = <T>(name: string, make: () => T): T =>
    (registry.getSingleMetric(name) as T | undefined) ?? make();
  const registers = [registry];
  const requests = get(
    'chatstream_purechat_requests_total',
    () =>
      new Counter({
        name: 'chatstream_purechat_requests_total',
        help: 'Requests to POST /v1/events, by answer status.',
        labelNames: ['status'],
        registers,
      }),
  );
  const events = get(
    'chatstream_purechat_events_total',
    () =>
      new Counter({
        name: 'chatstream_purechat_events_total',
        help: 'Events of accepted requests: accepted (stored in Kafka) or duplicate (accepted moments before, not written again).',
        labelNames: ['outcome'],
        registers,
      }),
  );
  const badRows = get(
    'chatstream_purechat_bad_rows_total',
    () =>
      new Counter({
        name: 'chatstream_purechat_bad_rows_total',
        help: 'Refused request bodies written to the bad-rows topic (stored=true) or lost because Kafka was down (stored=false).',
        labelNames: ['stored'],
        registers,
      }),
  );
  // A labelled inc hashes its labels on every call: each series' child is looked up once.
  const byStatus = new Map<number, { inc: (n?: number) => void }>();
  const status = (code: number) => {
    let child = byStatus.get(code);
    if (!child) {
      child = requests.labels({ status: String(code) });
      byStatus.set(code, child);
    }
    return child;
  };
  const accepted = events.labels({ outcome: 'accepted' });
  const duplicate = events.labels({ outcome: 'duplicate' });
  return {
    request: (code) => status(code).inc(),
    events: (outcome, n) => {
      if (n > 0) (outcome === 'accepted' ? accepted : duplicate).inc(n);
    },
    badRow: (stored) => badRows.inc({ stored: String(stored) }),
  };
}
