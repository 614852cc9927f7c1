/**
 * The sink runner's metrics (names documented in the README). The runner counts in local
 * variables and adds to these once per chunk, never per record.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface SinkMetrics {
  recordsIn: Counter<'topic'>;
  recordsOut: Counter<'topic'>;
  batches: Counter<'topic'>;
  deadLetters: Counter<'topic' | 'kind'>;
  retries: Counter<'sink'>;
  flushSeconds: Histogram<'topic'>;
  lag: Gauge<'topic' | 'partition'>;
}

/** The runner's metrics, registered on `registry`. */
export function sinkMetrics(registry: Registry): SinkMetrics {
  const registers = [registry];
  return {
    recordsIn: new Counter({
      name: 'chatstream_sink_records_in_total',
      help: 'Records read from Kafka.',
      labelNames: ['topic'],
      registers,
    }),
    recordsOut: new Counter({
      name: 'chatstream_sink_records_out_total',
      help: 'Records written to the sink.',
      labelNames: ['topic'],
      registers,
    }),
    batches: new Counter({
      name: 'chatstream_sink_batches_total',
      help: 'Batches written to the sink.',
      labelNames: ['topic'],
      registers,
    }),
    deadLetters: new Counter({
      name: 'chatstream_sink_dead_letters_total',
      help: 'Records sent to the dead-letter topic.',
      labelNames: ['topic', 'kind'],
      registers,
    }),
    retries: new Counter({
      name: 'chatstream_sink_retries_total',
      help: 'Retried attempts after retriable failures.',
      labelNames: ['sink'],
      registers,
    }),
    flushSeconds: new Histogram({
      name: 'chatstream_sink_flush_seconds',
      help: 'Time to write one batch to the sink.',
      labelNames: ['topic'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    lag: new Gauge({
      name: 'chatstream_sink_lag',
      help: 'Records between the last processed offset and the end of the partition.',
      labelNames: ['topic', 'partition'],
      registers,
    }),
  };
}
