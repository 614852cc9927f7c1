/** What every source reports, on the process's Prometheus registry (labels: source, topic). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { countsByTopic } from './batch.ts';
import type { EncodeResult } from './encoder.ts';

export interface SourceMetrics {
  records: Counter<'source' | 'topic'>;
  deadLetters: Counter<'source' | 'topic'>;
  transactions: Counter<'source'>;
  transactionSeconds: Histogram<'source'>;
  retries: Counter<'source'>;
  fieldsAdded: Counter<'source'>;
  lastCommit: Gauge<'source'>;
  pending: Gauge<'source'>;
}

/** prom-client refuses a second metric of the same name: reuse the one a runner registered first. */
function once<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function sourceMetrics(registry: Registry): SourceMetrics {
  const registers = [registry];
  return {
    records: once(
      registry,
      'chatstream_source_records_total',
      () =>
        new Counter({
          name: 'chatstream_source_records_total',
          help: 'Records committed to Kafka.',
          labelNames: ['source', 'topic'],
          registers,
        }),
    ),
    deadLetters: once(
      registry,
      'chatstream_source_dead_letters_total',
      () =>
        new Counter({
          name: 'chatstream_source_dead_letters_total',
          help: 'Source records sent to the dead-letter topic.',
          labelNames: ['source', 'topic'],
          registers,
        }),
    ),
    transactions: once(
      registry,
      'chatstream_source_transactions_total',
      () =>
        new Counter({
          name: 'chatstream_source_transactions_total',
          help: 'Kafka transactions committed.',
          labelNames: ['source'],
          registers,
        }),
    ),
    transactionSeconds: once(
      registry,
      'chatstream_source_transaction_seconds',
      () =>
        new Histogram({
          name: 'chatstream_source_transaction_seconds',
          help: 'Time to send and commit one transaction.',
          labelNames: ['source'],
          buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
          registers,
        }),
    ),
    retries: once(
      registry,
      'chatstream_source_retries_total',
      () =>
        new Counter({
          name: 'chatstream_source_retries_total',
          help: 'Retried attempts after retriable failures (Kafka, registry).',
          labelNames: ['source'],
          registers,
        }),
    ),
    fieldsAdded: once(
      registry,
      'chatstream_source_schema_fields_added_total',
      () =>
        new Counter({
          name: 'chatstream_source_schema_fields_added_total',
          help: 'Fields added to schemas by evolution.',
          labelNames: ['source'],
          registers,
        }),
    ),
    lastCommit: once(
      registry,
      'chatstream_source_last_commit_timestamp_seconds',
      () =>
        new Gauge({
          name: 'chatstream_source_last_commit_timestamp_seconds',
          help: 'When the source last committed records and cursors (Unix time): the age of its cursors.',
          labelNames: ['source'],
          registers,
        }),
    ),
    pending: once(
      registry,
      'chatstream_source_pending_records',
      () =>
        new Gauge({
          name: 'chatstream_source_pending_records',
          help: 'Records handed to the runtime and not yet committed.',
          labelNames: ['source'],
          registers,
        }),
    ),
  };
}

/** What one committed transaction adds: records and dead letters per topic, its time, the cursor age. */
export function recordCommit(
  m: SourceMetrics,
  source: string,
  pages: { encoded?: EncodeResult }[],
  started: bigint,
): void {
  for (const [topic, { ok, rejected }] of countsByTopic(pages)) {
    if (ok) m.records.inc({ source, topic }, ok);
    if (rejected) m.deadLetters.inc({ source, topic }, rejected);
  }
  m.transactions.inc({ source });
  m.transactionSeconds.observe({ source }, Number(process.hrtime.bigint() - started) / 1e9);
  m.lastCommit.set({ source }, Date.now() / 1000);
}
