// snappyjs ships no types. Raw snappy (the format of google/snappy's format_description.txt):
// uncompress refuses a stream whose length preamble exceeds maxLength before allocating.
declare module 'snappyjs' {
  export function compress(uncompressed: Uint8Array): Uint8Array;
  export function uncompress(compressed: Uint8Array, maxLength?: number): Uint8Array;
}
