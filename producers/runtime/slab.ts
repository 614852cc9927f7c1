/** The buffer the encoder writes a page's records into (encoder.ts). */
import type avro from 'avsc';

/** A slab's size: a guess of ~1 KiB a record, within these bounds; a larger record gets a slab of its size. */
const SLAB_MIN_BYTES = 1024;
const SLAB_MAX_BYTES = 64 * 1024;

/**
 * Where the records of one encode() call are written: header and Avro body straight into a
 * shared slab, each record a view of it. One allocation per slab instead of three per record
 * (avsc's zero-filled buffer, the header, the concatenation); kafkajs copies the bytes into its
 * request anyway. A slab is never reused: the records of a page stay valid until it is
 * committed, retries included.
 */
export class Slab {
  private readonly size: number;
  private buf: Buffer;
  private pos = 0;

  constructor(records: number) {
    this.size = Math.min(SLAB_MAX_BYTES, Math.max(SLAB_MIN_BYTES, records * 1024));
    this.buf = Buffer.allocUnsafeSlow(this.size);
  }

  /** header + Avro of value, as a view of the slab; throws as avsc does on a value that does not fit the type. */
  frame(type: avro.Type, header: Buffer, value: unknown): Buffer {
    if (this.buf.length - this.pos <= header.length) this.renew(this.size);
    let end = type.encode(value, this.buf, this.pos + header.length);
    if (end < 0) {
      // avsc returns minus the bytes it lacked: a new slab takes at least the whole record.
      this.renew(this.buf.length - end - this.pos);
      end = type.encode(value, this.buf, header.length);
      if (end < 0) throw new Error(`Avro encoding needed ${-end} bytes more than it measured`);
    }
    header.copy(this.buf, this.pos);
    const framed = this.buf.subarray(this.pos, end);
    this.pos = end;
    return framed;
  }

  private renew(atLeast: number): void {
    this.buf = Buffer.allocUnsafeSlow(Math.max(this.size, atLeast));
    this.pos = 0;
  }
}
