/**
 * kafkajs 2.2.4 builds every request in growing buffers (protocol/encoder.js): each time one is
 * too small it takes a new one twice as large with `Buffer.alloc`, which zero-fills it, then
 * copies what was written. A produce request grows through a dozen such buffers per record
 * batch, so on the collector's path zero-filling alone was ~3 % of its CPU. The Encoder only
 * ever hands out what it wrote (`buffer` is `buf.slice(0, offset)`), so the bytes past `offset`
 * are never read: they need no zeroes. Importing this module makes the growth take
 * `Buffer.allocUnsafe` (pooled for small sizes); nothing else changes, and the bytes on the
 * wire are the same (test/unit/kafka-encoder-buffers.test.ts).
 */
import { createRequire } from 'node:module';

interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
  ensureAvailable(length: number): void;
}

const require = createRequire(import.meta.url);
const Encoder = require('kafkajs/src/protocol/encoder.js') as {
  prototype: KafkajsEncoder;
  nextPowerOfTwo(value: number): number;
};

if (typeof Encoder.prototype.ensureAvailable !== 'function' || typeof Encoder.nextPowerOfTwo !== 'function')
  throw new Error('kafkajs changed its protocol Encoder: review kafka/encoder-buffers.ts');

Encoder.prototype.ensureAvailable = function ensureAvailable(this: KafkajsEncoder, length: number): void {
  if (this.offset + length <= this.buf.length) return;
  const grown = Buffer.allocUnsafe(Encoder.nextPowerOfTwo(this.offset + length));
  this.buf.copy(grown, 0, 0, this.offset);
  this.buf = grown;
};
