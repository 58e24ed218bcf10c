// A record as a REST Proxy v2 consumer receives it, in the embedded format the consumer chose:
// the shape shared by the single-partition read and the consumer instances' polls.

/** How keys and values are embedded in JSON bodies (produce and consume): JSON values, or base64 of raw bytes. */
export type EmbeddedFormat = 'json' | 'binary';

/** A stored record as the log hands it to the HTTP layer. */
export interface StoredRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: readonly { key: string; value: Buffer | null }[];
}

/** One element of a consume answer (REST Proxy v2 record shape, plus timestamp and headers). */
export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  /** json format: the JSON value (or the UTF-8 text when the bytes are not JSON); binary: base64. */
  key: unknown;
  value: unknown;
  timestamp: number;
  /** Header values are base64 in both formats, as on produce. */
  headers: { name: string; value: string | null }[];
}

export function formatRecord(topic: string, partition: number, r: StoredRecord, format: EmbeddedFormat): ConsumedRecord {
  return {
    topic,
    partition,
    offset: r.offset,
    key: embedded(r.key, format),
    value: embedded(r.value, format),
    timestamp: r.timestamp,
    headers: r.headers.map((h) => ({ name: h.key, value: h.value === null ? null : h.value.toString('base64') })),
  };
}

function embedded(bytes: Buffer | null, format: EmbeddedFormat): unknown {
  if (bytes === null) return null;
  if (format === 'binary') return bytes.toString('base64');
  const text = bytes.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Written by a binary-format producer (or a Kafka client): not JSON. The text is the most
    // faithful json-format rendering; binary consumers still get the exact bytes.
    return text;
  }
}
