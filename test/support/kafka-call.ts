import { connect } from 'node:net';
import { decodeResponse, encodeRequest, loadApiSpecs } from '../../src/kafka/protocol/frames.ts';
import type { MessageValue } from '../../src/kafka/protocol/message-codec.ts';

/** A request frame with Kafka's int32 size in front, as it goes on the wire. */
export function sizePrefixed(frame: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(frame.length);
  return Buffer.concat([size, frame]);
}

/** One request frame over a fresh connection; the response frame (without its size). */
async function exchangeFrame(port: number, frame: Buffer, what: string): Promise<Buffer> {
  const socket = connect(port, '127.0.0.1');
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      let got = Buffer.alloc(0);
      const timer = setTimeout(() => reject(new Error(`${what}: no answer within 10 s`)), 10_000);
      socket.on('error', reject);
      socket.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        if (got.length >= 4 && got.length >= 4 + got.readInt32BE(0)) {
          clearTimeout(timer);
          resolve(got.subarray(4, 4 + got.readInt32BE(0)));
        }
      });
      socket.write(sizePrefixed(frame));
    });
  } finally {
    socket.destroy();
  }
}

/** One request over a fresh connection; the decoded answer. */
export async function kafkaCall(port: number, api: string, version: number, body: MessageValue): Promise<MessageValue> {
  const specs = loadApiSpecs(api);
  const answer = await exchangeFrame(port, encodeRequest(specs, version, 1, 'runnel-test', body), `${api} v${version}`);
  return decodeResponse(answer, specs, version).body;
}
