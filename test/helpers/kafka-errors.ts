/** kafkajs' own errors, made as kafkajs makes them, for tests of what the code decides on them. */
import kafkajs from 'kafkajs';

const ProtocolError = kafkajs.KafkaJSProtocolError as unknown as new (e: object) => Error;

/** Broker code 6, as a broker that just restarted answers for a partition it is still loading. */
export function notLeaderError(): Error {
  return new ProtocolError({
    type: 'NOT_LEADER_FOR_PARTITION',
    code: 6,
    retriable: true,
    message: 'This server is not the leader for that topic-partition',
  });
}
