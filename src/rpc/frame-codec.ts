import { Packr } from 'msgpackr';
import { RunnelError } from '../errors.ts';

// A frame on a node-to-node connection: a 4-byte big-endian body length, then the body, one
// msgpackr value. Plain values only (records off): both ends decode without shared state.

export const FRAME_HEADER_BYTES = 4;
/** Default bound on one frame's body (cluster.yaml rpc.max_frame_bytes). */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** One frame for `value`. Throws MESSAGE_TOO_LARGE when the body would exceed `maxFrameBytes`. */
export function encodeFrame(value: unknown, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Buffer {
  const body = packr.pack(value);
  if (body.length > maxFrameBytes) {
    throw new RunnelError('MESSAGE_TOO_LARGE', `rpc frame of ${body.length} bytes exceeds the limit of ${maxFrameBytes} bytes`);
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  // Copied, not referenced: packr may reuse the memory behind `body` for the next pack.
  body.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Turns a byte stream (chunks split and coalesced anyhow) back into values. A header that
 * announces a body above `maxFrameBytes` throws before any of that body is buffered, so a
 * broken or hostile peer cannot make us hold more than one bounded frame; the caller then
 * drops the connection (the stream cannot be resynchronised).
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  /** chunks before this index are consumed. */
  private head = 0;
  /** Invariant: the sum of the lengths of chunks[head..]. */
  private buffered = 0;
  /** Body length of the frame being read, once its header has been consumed. */
  private bodyBytes: number | undefined;

  constructor(private readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {}

  /** Feed the next chunk; returns the values of every frame it completed, in order. */
  push(chunk: Buffer): unknown[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const values: unknown[] = [];
    for (;;) {
      if (this.bodyBytes === undefined) {
        if (this.buffered < FRAME_HEADER_BYTES) break;
        const length = this.take(FRAME_HEADER_BYTES).readUInt32BE(0);
        if (length > this.maxFrameBytes) {
          throw new RunnelError('MESSAGE_TOO_LARGE', `incoming rpc frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes} bytes`);
        }
        this.bodyBytes = length;
      }
      if (this.buffered < this.bodyBytes) break;
      const body = this.take(this.bodyBytes);
      this.bodyBytes = undefined;
      values.push(packr.unpack(body));
    }
    return values;
  }

  /** Bytes received but not yet returned as a value. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** Remove and return the first `n` buffered bytes. Precondition: n <= buffered. */
  private take(n: number): Buffer {
    const first = this.chunks[this.head];
    let out: Buffer;
    if (first !== undefined && first.length >= n) {
      // Common case: no copy.
      out = first.subarray(0, n);
      if (first.length === n) this.head++;
      else this.chunks[this.head] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[this.head];
        if (c === undefined) throw new Error(`FrameDecoder.take(${n}) with only ${filled} bytes buffered`);
        const used = Math.min(c.length, n - filled);
        c.copy(out, filled, 0, used);
        filled += used;
        if (used === c.length) this.head++;
        else this.chunks[this.head] = c.subarray(used);
      }
    }
    this.buffered -= n;
    // Drop consumed chunks in bulk: shift() per chunk is O(chunks), quadratic on a trickle.
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
    return out;
  }
}
