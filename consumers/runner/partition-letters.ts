/**
 * The dead letters of one batch of one topic-partition: made from the records' original bytes
 * (a rejected row finds its Kafka message by offset, through one map), kept until the batch
 * sends them, and sent in bounded chunks (letters.ts), each retried through the batch's `op`
 * (heartbeating meanwhile) until the broker acknowledged it; then counted and logged.
 */
import type { KafkaMessage } from 'kafkajs';
import type { DeadLetter } from '../../kafka/dead-letters.ts';
import type { BatchHost } from './host.ts';
import { sendLetters } from './letters.ts';

/** Runs a call as the batch does: retried while retriable, heartbeating (BatchKeepalive.op). */
type Retrying = (what: string, fn: () => Promise<void>) => Promise<void>;

export class PartitionLetters {
  private readonly host: BatchHost;
  private readonly topic: string;
  private readonly partition: number;
  private readonly messages: KafkaMessage[];
  private readonly retrying: Retrying;
  private pending: DeadLetter[] = [];
  private byOffset: Map<string, KafkaMessage> | undefined;

  constructor(
    host: BatchHost,
    batch: { topic: string; partition: number; messages: KafkaMessage[] },
    retrying: Retrying,
  ) {
    this.host = host;
    this.topic = batch.topic;
    this.partition = batch.partition;
    this.messages = batch.messages;
    this.retrying = retrying;
  }

  /** A letter for the record at offset (its message found by offset unless given). */
  letter(offset: bigint, kind: string, reason: string, message?: KafkaMessage): DeadLetter {
    if (!message) {
      this.byOffset ??= new Map(this.messages.map((m) => [m.offset, m]));
      message = this.byOffset.get(offset.toString());
    }
    return {
      key: message?.key ?? null,
      value: message?.value ?? null,
      kind,
      reason,
      // Where it came from, as headers.
      headers: {
        'dlq.topic': this.topic,
        'dlq.partition': String(this.partition),
        'dlq.offset': String(offset),
      },
    };
  }

  /** Keeps a letter until the next sendPending. */
  add(offset: bigint, kind: string, reason: string, message?: KafkaMessage): void {
    this.pending.push(this.letter(offset, kind, reason, message));
  }

  /** Sends every letter kept so far; resolves once the broker has them all. */
  async sendPending(): Promise<void> {
    if (this.pending.length === 0) return;
    const letters = this.pending;
    this.pending = [];
    await this.send(letters);
  }

  /** Sends letters in bounded chunks, each retried until acknowledged. */
  async send(letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await sendLetters(letters, (chunk) =>
      this.retrying('sending dead letters', () => this.host.sendDeadLetters(chunk)),
    );
    const counts = new Map<string, number>();
    for (const { kind } of letters) counts.set(kind, (counts.get(kind) ?? 0) + 1);
    for (const [kind, count] of counts) this.host.m.deadLetters.inc({ topic: this.topic, kind }, count);
    this.host.log.warn('records sent to the dead-letter topic', {
      topic: this.topic,
      partition: this.partition,
      count: letters.length,
      first: letters[0]?.reason,
    });
  }
}
