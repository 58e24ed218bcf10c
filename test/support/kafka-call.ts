import { connect } from 'node:net';
import { decodeResponse, encodeRequest, loadApiSpecs } from '../../src/kafka/protocol/frames.ts';
import type { MessageValue } from '../../src/kafka/protocol/message-codec.ts';

/** One request over a fresh connection; the decoded answer. */
export async function kafkaCall(port: number, api: string, version: number, body: MessageValue): Promise<MessageValue> {
  const specs = loadApiSpecs(api);
  const frame = encodeRequest(specs, version, 1, 'runnel-test', body);
  const socket = connect(port, '127.0.0.1');
  try {
    const answer = await new Promise<Buffer>((resolve, reject) => {
      let got = Buffer.alloc(0);
      const timer = setTimeout(() => reject(new Error(`${api} v${version}: no answer within 10 s`)), 10_000);
      socket.on('error', reject);
      socket.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        if (got.length >= 4 && got.length >= 4 + got.readInt32BE(0)) {
          clearTimeout(timer);
          resolve(got.subarray(4, 4 + got.readInt32BE(0)));
        }
      });
      const size = Buffer.alloc(4);
      size.writeInt32BE(frame.length);
      socket.write(Buffer.concat([size, frame]));
    });
    return decodeResponse(answer, specs, version).body;
  } finally {
    socket.destroy();
  }
}
