/**
 * Reading Avro's binary encoding in place, exactly as avsc reads it (its Tap), for the
 * generated transcoders (transcode.ts, transcode-json.ts): varints, and the check that a
 * string's bytes can be copied as they are.
 */
import { isUtf8 } from 'node:buffer';
import { MAX_EMPTY_ITEMS } from '../../avro-bounds.ts';

/**
 * The end position of the last varint read by `readLong` (generated code reads it back), and
 * how many more items that take no bytes the record being transcoded may hold (reset per row).
 */
export const state = { p: 0, empty: MAX_EMPTY_ITEMS };

/**
 * Reads a zigzag varint at pos exactly as avsc's Tap.readLong does (bytes past the end read
 * as 0, so the final length check catches them); the new position goes to `state.p`.
 */
export function readLong(buf: Buffer, start: number): number {
  let pos = start;
  let n = 0;
  let k = 0;
  let b: number;
  let h: number;
  do {
    b = buf[pos++] as number;
    h = b & 0x80;
    n |= (b & 0x7f) << k;
    k += 7;
  } while (h && k < 28);
  if (h) {
    let f = n;
    let fk = 268_435_456;
    do {
      b = buf[pos++] as number;
      f += (b & 0x7f) * fk;
      fk *= 128;
    } while (b & 0x80);
    state.p = pos;
    return (f % 2 ? -(f + 1) : f) / 2;
  }
  state.p = pos;
  return (n >> 1) ^ -(n & 1);
}

/** True when bytes a … e are text a copy keeps as it is: ASCII, or else valid UTF-8. */
export function cleanText(buf: Buffer, a: number, e: number): boolean {
  for (let i = a; i < e; i++) if ((buf[i] as number) >= 0x80) return isUtf8(buf.subarray(a, e));
  return true;
}

/** avsc's bound for a long it decodes without losing digits. */
export const SAFE_LONG = 9_007_199_254_740_990;
