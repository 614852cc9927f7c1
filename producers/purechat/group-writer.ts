/**
 * The records of many requests in one write. Every request that reaches the write in the same
 * turn of the event loop joins one group, written as one page once that turn's I/O is handled
 * (setImmediate: no timer, no added wait); each request's promise settles with its group — all
 * acknowledged by Kafka together, or all refused together (each request answers 503 and its
 * sender sends it again). So nothing is answered 2xx before Kafka has it, while a busy collector
 * encodes once per group instead of once per request. (The runner then puts the groups that
 * queue while a produce is in flight into the next one: no linger is needed to batch under load.)
 */
import type { SourceRecord } from '../source.ts';

/** A group is written at once when it holds this many records. */
export const MAX_GROUP_RECORDS = 5_000;

interface Group {
  records: SourceRecord[];
  done: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
  immediate: NodeJS.Immediate;
}

export class GroupWriter {
  readonly #write: (records: SourceRecord[]) => Promise<void>;
  #group?: Group;

  /** `write` resolves once Kafka acknowledged the records. */
  constructor(write: (records: SourceRecord[]) => Promise<void>) {
    this.#write = write;
  }

  /** Resolves once these records (and their group's) are acknowledged; rejects as the group's write does. */
  add(records: SourceRecord[]): Promise<void> {
    if (this.#group && this.#group.records.length + records.length > MAX_GROUP_RECORDS) this.flush();
    const group = this.#group ?? this.open();
    for (const record of records) group.records.push(record);
    return group.done;
  }

  private open(): Group {
    let resolve: () => void = () => {};
    let reject: (error: unknown) => void = () => {};
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const immediate = setImmediate(() => this.flush());
    this.#group = { records: [], done, resolve, reject, immediate };
    return this.#group;
  }

  /** Writes the open group now (after its turn, or when it is full). */
  flush(): void {
    const group = this.#group;
    if (!group) return;
    this.#group = undefined;
    clearImmediate(group.immediate);
    // A write that throws instead of rejecting refuses the group just the same.
    new Promise<void>((resolve) => resolve(this.#write(group.records))).then(group.resolve, group.reject);
  }
}
