// grpc-js service definitions built from the generated protobuf-es descriptors, so that grpc-js
// (de)serializes with protobuf-es (and, for the record-carrying answers, with the hand-written
// codecs of src/wire, which decode the same bytes into the same shapes several times faster).
import { create, fromBinary, isMessage, toBinary, type DescMessage, type DescService } from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import {
  decodeConsumeBatchResponse,
  decodeConsumeBatchStreamResponse,
  decodeConsumeResponse,
  encodeProduceBatchRequest,
} from "../wire/record-codec.ts";

const fastDecoders = new Map<string, (bytes: Uint8Array) => unknown>([
  ["log.v1.ConsumeResponse", decodeConsumeResponse],
  ["log.v1.ConsumeBatchResponse", decodeConsumeBatchResponse],
  ["log.v1.ConsumeBatchStreamResponse", decodeConsumeBatchStreamResponse],
]);

const fastEncoders = new Map<string, (message: never) => Buffer>([["log.v1.ProduceBatchRequest", encodeProduceBatchRequest]]);

function serializer(schema: DescMessage, fast: boolean): (message: unknown) => Buffer {
  const encode = fast ? fastEncoders.get(schema.typeName) : undefined;
  // A request the caller encoded already (NodeChannel's batch requests) goes as it is.
  if (encode !== undefined) return (message) => (Buffer.isBuffer(message) ? message : encode(message as never));
  return (message) => {
    const bytes = toBinary(schema, isMessage(message, schema) ? message : create(schema, message as never));
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer(schema: DescMessage, fast: boolean): (bytes: Buffer) => unknown {
  const decode = fast ? fastDecoders.get(schema.typeName) : undefined;
  return decode ?? ((bytes) => fromBinary(schema, bytes));
}

/**
 * A grpc-js ServiceDefinition for `service`, keyed by each method's localName (produce,
 * consumeStream, ...). `fastCodecs` (default true) uses the hand-written record codecs.
 */
export function grpcServiceDefinition(service: DescService, fastCodecs = true): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      originalName: method.name,
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: serializer(method.input, fastCodecs),
      requestDeserialize: deserializer(method.input, false),
      responseSerialize: serializer(method.output, false),
      responseDeserialize: deserializer(method.output, fastCodecs),
    };
  }
  return definition;
}
