/**
 * The runner's one decision table: every failure it catches is exactly one of
 *  - retry: the cause is temporary (a RetriableError, a retriable kafkajs error, a network
 *    failure) → back off, keep heartbeating, try again;
 *  - dead letter: a PoisonError → this record can never be written; it goes to the
 *    dead-letter topic before any offset covers it;
 *  - rejoin: the consumer group is rebalancing (or forgot this member) → end the batch without
 *    committing and let kafkajs rejoin; the sink's stored offsets make redelivery harmless;
 *  - stop: fatal → the runner stops and the process exits non-zero with the message: the
 *    error's own exit code for a ChatstreamError (3 for credentials and settings, 5 for a service
 *    that cannot be reached at start), 3 for Kafka refusing credentials or a setting, 5 for any
 *    other Kafka failure kafkajs gives up on, and 1 for anything else (a bug, with its cause).
 */
import {
  type ChatstreamError,
  EXIT,
  FatalError,
  isChatstreamError,
  isRetriable,
  PoisonError,
  ServiceError,
} from '../../core/errors.ts';
import { kafkaAccessError } from '../../kafka/security.ts';

export type Decision =
  | { action: 'retry' }
  | { action: 'dead-letter'; error: PoisonError }
  | { action: 'rejoin' }
  | { action: 'stop'; error: ChatstreamError };

const CAUSE_DEPTH = 5;

/**
 * The error and its causes, outermost first, including the errors an aggregate carries
 * (kafkajs's retrier gives up with a KafkaJSAggregateError holding each attempt's error).
 */
function chain(error: unknown): unknown[] {
  const found: unknown[] = [];
  let level: unknown[] = [error];
  for (let depth = 0; level.length > 0 && depth < CAUSE_DEPTH; depth++) {
    const next: unknown[] = [];
    for (const current of level) {
      if (!current || found.includes(current)) continue;
      found.push(current);
      next.push((current as { cause?: unknown }).cause);
      const inner = (current as { errors?: unknown }).errors;
      if (Array.isArray(inner)) next.push(...inner.slice(0, 10));
    }
    level = next;
  }
  return found;
}

/** The kafkajs protocol error type (e.g. REBALANCE_IN_PROGRESS) in the error or its causes. */
export function kafkaType(error: unknown): string | undefined {
  for (const e of chain(error)) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string') return type;
  }
  return undefined;
}

/** kafkajs's own rebalance signals (as its runner tests them) and a member the coordinator forgot. */
const REJOIN_TYPES = new Set([
  'REBALANCE_IN_PROGRESS',
  'NOT_COORDINATOR_FOR_GROUP',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
]);

/** True when the error means "the group is rebalancing": end the batch and let kafkajs rejoin. */
export function isRejoin(error: unknown): boolean {
  const type = kafkaType(error);
  return type !== undefined && REJOIN_TYPES.has(type);
}

/** Kafka refusing credentials or a setting: exit 3, with what to check. */
const KAFKA_CONFIG_TYPES = new Map<string, string>([
  ['SASL_AUTHENTICATION_FAILED', 'check the Kafka credentials'],
  ['ILLEGAL_SASL_STATE', 'check the Kafka credentials'],
  ['UNSUPPORTED_SASL_MECHANISM', 'check the Kafka SASL mechanism'],
  ['TOPIC_AUTHORIZATION_FAILED', 'grant the sink read on its topics and write on the dead-letter topic'],
  ['GROUP_AUTHORIZATION_FAILED', 'grant the sink access to its consumer group (CHATSTREAM_SINK_GROUP)'],
  ['CLUSTER_AUTHORIZATION_FAILED', 'grant the sink access to the Kafka cluster'],
  [
    'INVALID_SESSION_TIMEOUT',
    "set CHATSTREAM_SINK_SESSION_TIMEOUT_MS within the broker's group.min.session.timeout.ms and group.max.session.timeout.ms",
  ],
  ['INVALID_GROUP_ID', 'set CHATSTREAM_SINK_GROUP to a valid group id'],
  ['INVALID_TOPIC_EXCEPTION', 'check CHATSTREAM_SINK_TOPICS and CHATSTREAM_SINK_DEAD_LETTER_TOPIC'],
  ['INVALID_REPLICATION_FACTOR', 'set CHATSTREAM_KAFKA_REPLICATION_FACTOR to at most the number of brokers'],
  ['INVALID_CONFIG', "check the topic settings against the broker's limits"],
  ['POLICY_VIOLATION', "the broker's topic policy refused a topic: check the topic settings"],
]);

function isKafkaError(error: unknown): boolean {
  return error instanceof Error && error.name.startsWith('KafkaJS');
}

/** The fatal form of an error that is neither retriable, poison nor a rebalance. */
export function fatalOf(error: unknown, context?: string): ChatstreamError {
  const links = chain(error);
  const own = links.find(isChatstreamError);
  if (own) return own;
  const access = kafkaAccessError(error);
  if (access) return access;
  const message = `${context ? `${context}: ` : ''}${(error as Error)?.message ?? String(error)}`;
  const type = kafkaType(error);
  const hint = type === undefined ? undefined : KAFKA_CONFIG_TYPES.get(type);
  if (hint || links.some((e) => (e as Error)?.name === 'KafkaJSSASLAuthenticationError'))
    return new FatalError(`Kafka refused the sink: ${message}`, {
      code: 'KAFKA_REFUSED',
      exitCode: EXIT.config,
      hint: hint ?? 'check the Kafka credentials',
      cause: error,
    });
  if (links.some(isKafkaError))
    return new ServiceError('kafka', message, {
      code: 'KAFKA_FAILED',
      hint: 'see the kafkajs error above; chatstream stack status',
      cause: error,
    });
  return new FatalError(`internal error (a bug; please report it): ${message}`, {
    code: 'INTERNAL',
    exitCode: EXIT.internal,
    cause: error,
  });
}

export function decide(error: unknown): Decision {
  if (error instanceof PoisonError) return { action: 'dead-letter', error };
  if (isRejoin(error)) return { action: 'rejoin' };
  const own = chain(error).find(isChatstreamError);
  if (own) return own.retriable ? { action: 'retry' } : { action: 'stop', error: own };
  // A certificate that does not verify is a connection error kafkajs would retry: it is a setting.
  const access = kafkaAccessError(error);
  if (access) return { action: 'stop', error: access };
  if (kafkaType(error) && KAFKA_CONFIG_TYPES.has(kafkaType(error) as string))
    return { action: 'stop', error: fatalOf(error) };
  if (isRetriable(error)) return { action: 'retry' };
  return { action: 'stop', error: fatalOf(error) };
}

/** Ends a batch without committing (the runner is stopping, failed, or the partition moved on). */
export class EndBatch extends Error {
  constructor(reason: string) {
    super(`batch ended: ${reason}`);
    this.name = 'EndBatch';
  }
}
