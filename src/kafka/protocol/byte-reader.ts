import { MalformedFrameError } from './malformed-frame-error.ts';

/**
 * Reads Kafka's primitive types (protocol.html "Protocol Primitive Types") from one frame.
 * Every length is checked against the bytes left before anything is allocated, so a hostile
 * length costs nothing; a violation throws MalformedFrameError.
 */
export class ByteReader {
  private pos: number;

  constructor(
    private readonly buf: Buffer,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  get offset(): number {
    return this.pos;
  }

  private take(n: number, what: string): number {
    if (n < 0 || n > this.end - this.pos) {
      throw new MalformedFrameError(`${what}: needs ${n} bytes, ${this.end - this.pos} left`);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  int8(): number {
    return this.buf.readInt8(this.take(1, 'int8'));
  }

  int16(): number {
    return this.buf.readInt16BE(this.take(2, 'int16'));
  }

  uint16(): number {
    return this.buf.readUInt16BE(this.take(2, 'uint16'));
  }

  int32(): number {
    return this.buf.readInt32BE(this.take(4, 'int32'));
  }

  uint32(): number {
    return this.buf.readUInt32BE(this.take(4, 'uint32'));
  }

  int64(): bigint {
    return this.buf.readBigInt64BE(this.take(8, 'int64'));
  }

  float64(): number {
    return this.buf.readDoubleBE(this.take(8, 'float64'));
  }

  bool(): boolean {
    const b = this.buf.readUInt8(this.take(1, 'bool'));
    if (b > 1) throw new MalformedFrameError(`bool: byte ${b} is neither 0 nor 1`);
    return b === 1;
  }

  /** UNSIGNED_VARINT: at most 5 bytes, value < 2^32. */
  uvarint(): number {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.buf.readUInt8(this.take(1, 'uvarint'));
      value += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        if (value > 0xffffffff) throw new MalformedFrameError('uvarint: more than 32 bits');
        return value;
      }
    }
    throw new MalformedFrameError('uvarint: longer than 5 bytes');
  }

  /** `n` bytes, as a view into the frame (no copy: records are passed on as they came). */
  bytes(n: number, what = 'bytes'): Buffer {
    const at = this.take(n, what);
    return this.buf.subarray(at, at + n);
  }

  utf8(n: number): string {
    const at = this.take(n, 'string');
    return this.buf.toString('utf8', at, at + n);
  }

  uuid(): string {
    const hex = this.bytes(16, 'uuid').toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /** A reader over the next `n` bytes (a tagged field's value), which this one skips. */
  sub(n: number): ByteReader {
    const at = this.take(n, 'tagged field');
    return new ByteReader(this.buf, at, at + n);
  }
}
