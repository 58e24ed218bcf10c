// CRC-32C (Castagnoli), the checksum of Kafka's RecordBatch v2. Reflected polynomial
// 0x82F63B78, initial value and final xor 0xFFFFFFFF. Node 20's zlib has no crc32c, so this is
// a slicing-by-8 table implementation: 8 tables of 256 entries, 8 input bytes per step.

const POLY = 0x82f63b78;

function makeTables(): Uint32Array[] {
  const t0 = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t0[n] = c >>> 0;
  }
  const tables = [t0];
  for (let i = 1; i < 8; i++) {
    const prev = tables[i - 1] as Uint32Array;
    const t = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      const p = prev[n] as number;
      t[n] = ((p >>> 8) ^ (t0[p & 0xff] as number)) >>> 0;
    }
    tables.push(t);
  }
  return tables;
}

const [T0, T1, T2, T3, T4, T5, T6, T7] = makeTables() as [
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
];

/** CRC-32C of `buf[start, end)`, as an unsigned 32-bit number. */
export function crc32c(buf: Uint8Array, start = 0, end: number = buf.length): number {
  if (start < 0 || end > buf.length || start > end) throw new RangeError(`crc32c: bad range [${start}, ${end}) of ${buf.length}`);
  let crc = 0xffffffff;
  let i = start;
  // Indices are in range by the loop bounds; `as number` only satisfies noUncheckedIndexedAccess.
  while (end - i >= 8) {
    const lo = crc ^ ((buf[i] as number) | ((buf[i + 1] as number) << 8) | ((buf[i + 2] as number) << 16) | ((buf[i + 3] as number) << 24));
    crc =
      (T7[lo & 0xff] as number) ^
      (T6[(lo >>> 8) & 0xff] as number) ^
      (T5[(lo >>> 16) & 0xff] as number) ^
      (T4[lo >>> 24] as number) ^
      (T3[buf[i + 4] as number] as number) ^
      (T2[buf[i + 5] as number] as number) ^
      (T1[buf[i + 6] as number] as number) ^
      (T0[buf[i + 7] as number] as number);
    i += 8;
  }
  while (i < end) {
    crc = (crc >>> 8) ^ (T0[(crc ^ (buf[i] as number)) & 0xff] as number);
    i++;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
