/** Writes Kafka's primitive types into a growing buffer (one per response, not per field). */
export class ByteWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialBytes = 256) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  get length(): number {
    return this.pos;
  }

  /** Reserves `n` bytes and returns where they start (take it before touching this.buf: it may be replaced). */
  private room(n: number): number {
    if (this.pos + n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
      this.buf.copy(next, 0, 0, this.pos);
      this.buf = next;
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  int8(v: number): void {
    const at = this.room(1);
    this.buf.writeInt8(v, at);
  }

  int16(v: number): void {
    const at = this.room(2);
    this.buf.writeInt16BE(v, at);
  }

  uint16(v: number): void {
    const at = this.room(2);
    this.buf.writeUInt16BE(v, at);
  }

  int32(v: number): void {
    const at = this.room(4);
    this.buf.writeInt32BE(v, at);
  }

  uint32(v: number): void {
    const at = this.room(4);
    this.buf.writeUInt32BE(v, at);
  }

  int64(v: bigint): void {
    const at = this.room(8);
    this.buf.writeBigInt64BE(v, at);
  }

  float64(v: number): void {
    const at = this.room(8);
    this.buf.writeDoubleBE(v, at);
  }

  bool(v: boolean): void {
    const at = this.room(1);
    this.buf.writeUInt8(v ? 1 : 0, at);
  }

  uvarint(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`uvarint out of range: ${v}`);
    let rest = v;
    while (rest >= 0x80) {
      const at = this.room(1);
    this.buf.writeUInt8((rest % 0x80) | 0x80, at);
      rest = Math.floor(rest / 0x80);
    }
    const at = this.room(1);
    this.buf.writeUInt8(rest, at);
  }

  bytes(b: Uint8Array): void {
    const at = this.room(b.length);
    this.buf.set(b, at);
  }

  uuid(v: string): void {
    const hex = v.replaceAll('-', '');
    if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new RangeError(`not a uuid: ${v}`);
    this.bytes(Buffer.from(hex, 'hex'));
  }

  /** The bytes written so far (a view: do not write after taking it). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}
