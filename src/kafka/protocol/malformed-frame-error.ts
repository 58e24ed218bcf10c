/**
 * A Kafka request that cannot be parsed: a length past the end of the frame, a null where the
 * spec allows none, a varint too long, an unknown api key or version, trailing bytes. Kafka
 * closes the connection on these (SocketServer.processChannelException); so does runnel's
 * listener. It is an expected condition caused by the peer, never a bug of the broker.
 */
export class MalformedFrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedFrameError';
  }
}
