/** kafkajs's protocol Encoder with the growth of kafka/encoder-buffers.ts: the same bytes as written, across every growth. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import '../../kafka/encoder-buffers.ts';

interface Encoder {
  writeInt32(v: number): Encoder;
  writeBytes(v: Buffer | string): Encoder;
  writeVarIntString(v: string): Encoder;
  writeEncoder(e: Encoder): Encoder;
  buffer: Buffer;
}
const require = createRequire(import.meta.url);
const Encoder = require('kafkajs/src/protocol/encoder.js') as new (initialSize?: number) => Encoder;

test('the growth is the patched one', () => {
  const source = (Encoder.prototype as unknown as { ensureAvailable: () => void }).ensureAvailable.toString();
  assert.match(source, /allocUnsafe/);
});

test('what an Encoder hands out is exactly what was written, however often it grew', () => {
  for (let round = 0; round < 50; round++) {
    const encoder = new Encoder(1);
    const expected: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const bytes = randomBytes((i * 37 + round) % 3000);
      encoder.writeInt32(i).writeBytes(bytes);
      const head = Buffer.alloc(8);
      head.writeInt32BE(i, 0);
      head.writeInt32BE(bytes.length, 4);
      expected.push(head, bytes);
      const text = 'é'.repeat(i % 30); // up to 58 bytes: a one-byte varint
      encoder.writeVarIntString(text);
      expected.push(Buffer.from([Buffer.byteLength(text) * 2]), Buffer.from(text));
    }
    const outer = new Encoder().writeInt32(-1).writeEncoder(encoder);
    const inner = Buffer.concat(expected);
    assert.deepEqual(encoder.buffer, inner);
    assert.deepEqual(outer.buffer, Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff]), inner]));
  }
});
