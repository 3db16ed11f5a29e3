// gRPC server reflection (grpc.reflection.v1 and v1alpha, one implementation): tells generic clients
// (buf curl --reflect, grpcurl, Python's grpc_reflection) which services this node serves and hands
// them the FileDescriptorProtos of those services' files and every file they import, so a client
// needs no copy of proto/. Each request on the bidi stream gets one response, in order. The
// descriptors are the ones compiled into src/gen, so they always match what the node speaks.
import { toBinary, type DescExtension, type DescFile, type DescService, type MessageInitShape } from "@bufbuild/protobuf";
import { nestedTypes } from "@bufbuild/protobuf/reflect";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { ServerReflection as ServerReflectionV1, type ServerReflectionRequest, type ServerReflectionResponseSchema } from "../gen/grpc/reflection/v1/reflection_pb.ts";
import { ServerReflection as ServerReflectionV1Alpha } from "../gen/grpc/reflection/v1alpha/reflection_pb.ts";
import type { ServiceHandlers } from "./call-context.ts";

/**
 * The reflection services themselves, served beside the others (and listed by them). v1alpha's
 * method takes and returns v1's messages, so both take the same handlers.
 */
export const REFLECTION_SERVICES = [ServerReflectionV1, ServerReflectionV1Alpha] as const;

type Answer = MessageInitShape<typeof ServerReflectionResponseSchema>["messageResponse"];

/** Every file defining the served services, and each file they import (transitively), by name and by symbol. */
class DescriptorIndex {
  readonly serviceNames: string[];
  private readonly filesByName = new Map<string, DescFile>();
  private readonly filesBySymbol = new Map<string, DescFile>();
  private readonly extensions: DescExtension[] = [];

  constructor(services: readonly DescService[]) {
    this.serviceNames = services.map((service) => service.typeName);
    for (const service of services) this.addFile(service.file);
  }

  private addFile(file: DescFile): void {
    if (this.filesByName.has(file.proto.name)) return;
    this.filesByName.set(file.proto.name, file);
    for (const type of nestedTypes(file)) {
      this.filesBySymbol.set(type.typeName, file);
      if (type.kind === "service") for (const method of type.methods) this.filesBySymbol.set(`${type.typeName}.${method.name}`, file);
      if (type.kind === "extension") this.extensions.push(type);
    }
    for (const dependency of file.dependencies) this.addFile(dependency);
  }

  fileByName(name: string): DescFile | undefined {
    return this.filesByName.get(name);
  }

  fileBySymbol(symbol: string): DescFile | undefined {
    return this.filesBySymbol.get(symbol);
  }

  extensionsOf(typeName: string): DescExtension[] {
    return this.extensions.filter((extension) => extension.extendee.typeName === typeName);
  }
}

/** `file` first, then every file it imports, each once, serialized. */
function withDependencies(file: DescFile): Uint8Array[] {
  const seen = new Set<string>();
  const files: Uint8Array[] = [];
  const add = (next: DescFile): void => {
    if (seen.has(next.proto.name)) return;
    seen.add(next.proto.name);
    files.push(toBinary(FileDescriptorProtoSchema, next.proto));
    for (const dependency of next.dependencies) add(dependency);
  };
  add(file);
  return files;
}

function notFound(what: string): Answer {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: `${what} not found` } };
}

function fileAnswer(file: DescFile | undefined, what: string): Answer {
  if (file === undefined) return notFound(what);
  return { case: "fileDescriptorResponse", value: { fileDescriptorProto: withDependencies(file) } };
}

function answer(index: DescriptorIndex, request: ServerReflectionRequest["messageRequest"]): Answer {
  switch (request.case) {
    case "fileByFilename":
      return fileAnswer(index.fileByName(request.value), `file ${request.value}`);
    case "fileContainingSymbol":
      return fileAnswer(index.fileBySymbol(request.value), `symbol ${request.value}`);
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = request.value;
      const extension = index.extensionsOf(containingType).find((candidate) => candidate.number === extensionNumber);
      return fileAnswer(extension?.file, `extension ${extensionNumber} of ${containingType}`);
    }
    case "allExtensionNumbersOfType":
      if (index.fileBySymbol(request.value) === undefined) return notFound(`type ${request.value}`);
      return {
        case: "allExtensionNumbersResponse",
        value: {
          baseTypeName: request.value,
          extensionNumber: index.extensionsOf(request.value).map((extension) => extension.number),
        },
      };
    case "listServices":
      return {
        case: "listServicesResponse",
        value: {
          service: index.serviceNames.map((name) => ({ name })),
        },
      };
    default:
      return { case: "errorResponse", value: { errorCode: Code.InvalidArgument, errorMessage: "empty reflection request" } };
  }
}

/**
 * The handlers of both reflection services for a node serving `services` (the reflection services
 * are added). They yield plain objects, which each protocol encodes with its own method's schema.
 */
export function createReflectionService(services: readonly DescService[]): ServiceHandlers<typeof ServerReflectionV1> {
  const index = new DescriptorIndex([...services, ...REFLECTION_SERVICES]);
  async function* serverReflectionInfo(requests: AsyncIterable<ServerReflectionRequest>) {
    for await (const request of requests) {
      yield {
        validHost: request.host,
        originalRequest: { host: request.host, messageRequest: request.messageRequest },
        messageResponse: answer(index, request.messageRequest),
      };
    }
  }
  return { serverReflectionInfo };
}
