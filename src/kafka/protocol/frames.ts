// Request and response frames (protocol.html "Common Request and Response Structure"): the
// header, then the body, as the message specs describe them. Sizes are handled by the
// connection; these functions see one frame without its 4-byte size.

import { ByteReader } from './byte-reader.ts';
import { ByteWriter } from './byte-writer.ts';
import { MalformedFrameError } from './malformed-frame-error.ts';
import { messageCodec } from './message-codec.ts';
import type { MessageValue } from './message-codec.ts';
import { inRange, loadMessageSpec } from './message-spec.ts';
import type { MessageSpec } from './message-spec.ts';

/** The request and response specs of one API. */
export interface ApiSpecs {
  readonly apiKey: number;
  readonly request: MessageSpec;
  readonly response: MessageSpec;
}

/** Loads `${name}Request.json` and `${name}Response.json` from the vendored specs. */
export function loadApiSpecs(name: string): ApiSpecs {
  const request = loadMessageSpec(`${name}Request`);
  const response = loadMessageSpec(`${name}Response`);
  if (request.apiKey === undefined || request.apiKey !== response.apiKey) throw new Error(`${name}: request and response api keys differ`);
  return { apiKey: request.apiKey, request, response };
}

const REQUEST_HEADER = loadMessageSpec('RequestHeader');
const RESPONSE_HEADER = loadMessageSpec('ResponseHeader');
export const API_VERSIONS_KEY = 18;

/** The first fields of every request header, which fix how to read the rest. */
export interface RequestPrefix {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
}

export interface DecodedRequest extends RequestPrefix {
  readonly clientId: string | null;
  readonly body: MessageValue;
}

/** Api key, version and correlation id: the same 8 bytes in every header version. */
export function readRequestPrefix(frame: Buffer): RequestPrefix {
  const r = new ByteReader(frame);
  return { apiKey: r.int16(), apiVersion: r.int16(), correlationId: r.int32() };
}

/** Request header v2 for flexible request versions, else v1 (ControlledShutdown v0's header v0 is not served). */
function requestHeaderVersion(spec: MessageSpec, version: number): number {
  return inRange(spec.flexibleVersions, version) ? 2 : 1;
}

/** Response header v1 for flexible versions, except ApiVersions: always v0 (KIP-511), so any client can read it. */
export function responseHeaderVersion(spec: MessageSpec, version: number): number {
  return spec.apiKey !== API_VERSIONS_KEY && inRange(spec.flexibleVersions, version) ? 1 : 0;
}

/** Decodes a whole request frame of an API and version the caller has checked it serves. */
export function decodeRequest(frame: Buffer, specs: ApiSpecs, version: number): DecodedRequest {
  const r = new ByteReader(frame);
  const header = messageCodec(REQUEST_HEADER, requestHeaderVersion(specs.request, version)).read(r);
  const body = messageCodec(specs.request, version).read(r);
  if (r.remaining !== 0) throw new MalformedFrameError(`${specs.request.name} v${version}: ${r.remaining} bytes after the body`);
  return {
    apiKey: header['requestApiKey'] as number,
    apiVersion: header['requestApiVersion'] as number,
    correlationId: header['correlationId'] as number,
    clientId: header['clientId'] as string | null,
    body,
  };
}

/** A request frame, without its size (clients' side: tests and tools). */
export function encodeRequest(specs: ApiSpecs, version: number, correlationId: number, clientId: string | null, body: MessageValue): Buffer {
  const w = new ByteWriter();
  messageCodec(REQUEST_HEADER, requestHeaderVersion(specs.request, version)).write(w, {
    requestApiKey: specs.apiKey,
    requestApiVersion: version,
    correlationId,
    clientId,
  });
  messageCodec(specs.request, version).write(w, body);
  return Buffer.from(w.finish());
}

/** A response with its 4-byte size in front, ready for the socket. */
export function encodeResponse(specs: ApiSpecs, version: number, correlationId: number, body: MessageValue): Buffer {
  const w = new ByteWriter();
  w.int32(0); // the size, filled in below
  messageCodec(RESPONSE_HEADER, responseHeaderVersion(specs.response, version)).write(w, { correlationId });
  messageCodec(specs.response, version).write(w, body);
  const out = w.finish();
  out.writeInt32BE(out.length - 4, 0);
  return out;
}

/** Decodes a response frame without its size (clients' side: tests). */
export function decodeResponse(frame: Buffer, specs: ApiSpecs, version: number): { correlationId: number; body: MessageValue } {
  const r = new ByteReader(frame);
  const header = messageCodec(RESPONSE_HEADER, responseHeaderVersion(specs.response, version)).read(r);
  const body = messageCodec(specs.response, version).read(r);
  if (r.remaining !== 0) throw new MalformedFrameError(`${specs.response.name} v${version}: ${r.remaining} bytes after the body`);
  return { correlationId: header['correlationId'] as number, body };
}
