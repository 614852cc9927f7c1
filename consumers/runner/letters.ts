/**
 * Dead letters in bounded sends: a burst of poison (thousands of records, each up to the size
 * the source topic allowed) must not become one producer request larger than the broker's
 * `message.max.bytes` (1 MiB by default). Letters go out in chunks of at most
 * DEAD_LETTER_CHUNK_COUNT letters and DEAD_LETTER_CHUNK_BYTES bytes (a single larger letter
 * alone); a chunk the broker still refuses as too large is halved, and a single letter that is
 * too large on its own goes out without its value (the reason says so, the headers still say
 * where it came from).
 */
import type { DeadLetter } from '../../kafka/dead-letters.ts';
import { kafkaType } from './decisions.ts';

export const DEAD_LETTER_CHUNK_COUNT = 1000;
export const DEAD_LETTER_CHUNK_BYTES = 512 * 1024;

/** Bytes a letter takes in a produce request, near enough (record overhead included). */
export function letterBytes(letter: DeadLetter): number {
  let bytes =
    64 + (letter.key?.length ?? 0) + (letter.value?.length ?? 0) + Math.min(letter.reason.length, 4000);
  for (const [name, value] of Object.entries(letter.headers)) bytes += name.length + value.length + 8;
  return bytes + 160; // the headers the queue adds: dlq.kind, dlq.time, dlq.sink, …
}

/** Consecutive chunks of at most `count` letters and `bytes` bytes (a larger single letter alone). */
export function chunkLetters(
  letters: DeadLetter[],
  count = DEAD_LETTER_CHUNK_COUNT,
  bytes = DEAD_LETTER_CHUNK_BYTES,
): DeadLetter[][] {
  const chunks: DeadLetter[][] = [];
  let chunk: DeadLetter[] = [];
  let size = 0;
  for (const letter of letters) {
    const b = letterBytes(letter);
    if (chunk.length > 0 && (chunk.length >= count || size + b > bytes)) {
      chunks.push(chunk);
      chunk = [];
      size = 0;
    }
    chunk.push(letter);
    size += b;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);

/**
 * Sends the letters chunk by chunk through `send` (which retries what is retriable); resolves
 * when the broker acknowledged every one. Chunks go out in order, one at a time.
 */
export async function sendLetters(
  letters: DeadLetter[],
  send: (chunk: DeadLetter[]) => Promise<void>,
): Promise<void> {
  for (const chunk of chunkLetters(letters)) await sendChunk(chunk, send);
}

async function sendChunk(chunk: DeadLetter[], send: (chunk: DeadLetter[]) => Promise<void>): Promise<void> {
  try {
    await send(chunk);
  } catch (error) {
    const type = kafkaType(error);
    if (type === undefined || !TOO_LARGE.has(type)) throw error;
    if (chunk.length > 1) {
      const half = Math.ceil(chunk.length / 2);
      await sendChunk(chunk.slice(0, half), send);
      await sendChunk(chunk.slice(half), send);
      return;
    }
    const [letter] = chunk as [DeadLetter];
    if (letter.value === null && letter.key === null) throw error;
    await send([
      {
        ...letter,
        key: null,
        value: null,
        reason: `${letter.reason} (the record, ${letter.value?.length ?? 0} bytes, is too large for the dead-letter topic: only its origin is kept)`,
      },
    ]);
  }
}
