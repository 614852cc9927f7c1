/**
 * The one place that builds kafkajs clients: brokers, client id, TLS and SASL from the
 * configuration (kafka/security.ts), kafkajs's own log lines routed into chatstream's
 * structured logger. Every producer, consumer and admin client in chatstream comes from here.
 */
import {
  type Admin,
  Kafka,
  type KafkaConfig,
  logLevel as KafkaLogLevel,
  type LogEntry,
  type Producer,
  type ProducerConfig,
} from 'kafkajs';
import { createLogger } from '../core/log.ts';
import type { CoreConfig } from '../core/settings.ts';
import { checkKafkaAccess } from './access.ts';
import { murmur2Partitioner } from './partitioner.ts';
import { kafkaSecurity } from './security.ts';

const log = createLogger('kafkajs');

// kafkajs 2.2.4 arms a timer with a negative delay on Node >= 23, which Node reports as a
// TimeoutNegativeWarning on every client; it is harmless (Node uses 1 ms). Hide only that one.
const defaultWarningListeners = process.listeners('warning');
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name === 'TimeoutNegativeWarning') return;
  for (const listener of defaultWarningListeners) listener(warning);
});

function logCreator() {
  return ({ level, log: entry }: LogEntry) => {
    const { message, timestamp: _t, logger: _l, ...fields } = entry;
    // kafkajs logs each error *response* (e.g. "coordinator is loading") before retrying it;
    // a failure that outlasts the retries reaches the caller as an exception.
    if (message.startsWith('Response ')) log.debug(message, fields);
    // Transactional producers bound their retries on purpose: a failed transaction is aborted.
    else if (message.startsWith('Limiting retries for the idempotent producer')) log.debug(message, fields);
    // An attempt kafkajs is about to retry (e.g. CONCURRENT_TRANSACTIONS right after a commit);
    // if the retries run out, the caller gets the error and decides.
    else if ('retryCount' in fields) log.debug(message, fields);
    else if (level <= KafkaLogLevel.ERROR) log.error(message, fields);
    else if (level === KafkaLogLevel.WARN) log.warn(message, fields);
    else log.debug(message, fields);
  };
}

export interface ClientOptions {
  /** Appended to the configured client id, e.g. "stack-check". */
  role?: string;
  /** kafkajs's own logging; NOTHING for probes that expect failures. */
  quiet?: boolean;
  /** No TLS or SASL whatever the settings: the local stack's own loopback PLAINTEXT listener. */
  plaintext?: boolean;
  overrides?: Partial<KafkaConfig>;
}

export function createKafka(config: CoreConfig, options: ClientOptions = {}): Kafka {
  return new Kafka({
    clientId: options.role ? `${config.kafka.clientId}-${options.role}` : config.kafka.clientId,
    brokers: config.kafka.brokers,
    ...(options.plaintext ? {} : kafkaSecurity(config)),
    logLevel: options.quiet ? KafkaLogLevel.NOTHING : KafkaLogLevel.WARN,
    logCreator,
    ...options.overrides,
  });
}

/**
 * A producer that partitions like Confluent's Java clients (murmur2 of the key), so a key
 * lands in the same partition whichever client wrote it.
 */
export function createProducer(kafka: Kafka, config: ProducerConfig = {}): Producer {
  return kafka.producer({ createPartitioner: murmur2Partitioner, ...config });
}

/** Runs fn with a connected admin client, always disconnecting it. */
export async function withAdmin<T>(config: CoreConfig, fn: (admin: Admin) => Promise<T>): Promise<T> {
  await checkKafkaAccess(config);
  const admin = createKafka(config, { role: 'admin' }).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}
