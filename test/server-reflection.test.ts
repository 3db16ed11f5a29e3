// gRPC server reflection: the real `buf curl` (Go's reflection client) lists a node's services and
// methods and calls Produce and Consume with no --schema, over the gRPC fast path and the Connect
// router, through v1 and v1alpha; Python's grpcio calls them from the descriptors alone; with an ACL,
// reflection needs the consume action. The service's answers (files with their imports, symbols,
// errors) are checked in memory.
import { create, fromBinary, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, createClient, createRouterTransport } from "@connectrpc/connect";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Health } from "../src/gen/grpc/health/v1/health_pb.ts";
import { ServerReflection, ServerReflectionRequestSchema, type ServerReflectionResponse } from "../src/gen/grpc/reflection/v1/reflection_pb.ts";
import { Log } from "../src/gen/log/v1/log_pb.ts";
import { Admin } from "../src/gen/loghouse/admin/v1/admin_pb.ts";
import { createReflectionService } from "../src/server/reflection-service.ts";
import { devCerts } from "./support/dev-certs.ts";
import { pythonGrpcSkip, runPythonJson } from "./support/python-grpc.ts";
import { addressOf, startLogServer } from "./support/log-server.ts";
import { tempDir } from "./support/temp-dir.ts";

const BUF = fileURLToPath(new URL("../node_modules/.bin/buf", import.meta.url));

interface CurlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `buf curl` from an empty directory, so that no .proto file is within its reach. */
function bufCurl(cwd: string, args: readonly string[]): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile(BUF, ["curl", ...args], { cwd, timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : Number((error as { code?: unknown }).code), stdout, stderr }),
    );
  });
}

test("buf curl --reflect lists the services and methods and calls Produce and Consume without a schema", { timeout: 120_000 }, async (t) => {
  const server = await startLogServer(t);
  const cwd = await tempDir(t);
  const url = `http://${addressOf(server)}`;
  const services = await bufCurl(cwd, ["--protocol", "grpc", "--http2-prior-knowledge", "--list-services", url]);
  assert.equal(services.code, 0, services.stderr);
  assert.deepEqual(services.stdout.trim().split("\n"), [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
    "log.v1.Log",
    "loghouse.admin.v1.Admin",
  ]);
  const methods = await bufCurl(cwd, ["--protocol", "grpc", "--http2-prior-knowledge", "--list-methods", url]);
  assert.equal(methods.code, 0, methods.stderr);
  for (const method of ["log.v1.Log/Produce", "log.v1.Log/ProduceStream", "log.v1.Log/Consume", "grpc.health.v1.Health/Check"]) {
    assert.ok(methods.stdout.split("\n").includes(method), `${method} in ${methods.stdout}`);
  }
  // gRPC takes the fast path, Connect the router; each with both reflection versions.
  const variants = [
    { protocol: "grpc", reflect: "grpc-v1" },
    { protocol: "grpc", reflect: "grpc-v1alpha" },
    { protocol: "connect", reflect: "grpc-v1" },
    { protocol: "connect", reflect: "grpc-v1alpha" },
  ];
  for (const [offset, variant] of variants.entries()) {
    const common = ["--protocol", variant.protocol, "--reflect-protocol", variant.reflect, "--http2-prior-knowledge"];
    const value = Buffer.from(`reflected ${offset}`).toString("base64");
    const produced = await bufCurl(cwd, [...common, "-d", JSON.stringify({ record: { value } }), `${url}/log.v1.Log/Produce`]);
    assert.equal(produced.code, 0, `${variant.protocol} ${variant.reflect}: ${produced.stderr}`);
    assert.equal(BigInt((JSON.parse(produced.stdout) as { offset?: string }).offset ?? "0"), BigInt(offset));
    const consumed = await bufCurl(cwd, [...common, "-d", JSON.stringify({ offset: String(offset) }), `${url}/log.v1.Log/Consume`]);
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.equal((JSON.parse(consumed.stdout) as { record: { value: string } }).record.value, value);
  }
});

test("with an ACL, reflection needs a principal allowed to consume", { timeout: 120_000 }, async (t) => {
  const certs = await devCerts(t);
  const tokensFile = join(certs.dir, "tokens.json");
  await writeFile(tokensFile, JSON.stringify({ "reflection-token-0123456789": "root", "nobody-token-0123456789": "nobody" }));
  const server = await startLogServer(t, {
    security: {
      tls: { certFile: certs.path("node-1.pem"), keyFile: certs.path("node-1-key.pem"), caFile: certs.path("ca.pem") },
      acl: { modelFile: certs.path("model.conf"), policyFile: certs.path("policy.csv") },
      tokensFile,
    },
  });
  const cwd = await tempDir(t);
  const listServices = ["--protocol", "grpc", "--cacert", certs.path("ca.pem"), "--list-services", `https://localhost:${server.address.port}`];
  const anonymous = await bufCurl(cwd, listServices);
  assert.notEqual(anonymous.code, 0);
  // buf curl reports UNAUTHENTICATED in its own words (it thinks of its registry).
  assert.equal(anonymous.code, 1, anonymous.stderr);
  assert.match(anonymous.stderr, /not authenticated/);
  const notAllowed = await bufCurl(cwd, ["-H", "Authorization: Bearer nobody-token-0123456789", "--reflect-header", "*", ...listServices]);
  assert.equal(notAllowed.code, 1, notAllowed.stderr);
  assert.match(notAllowed.stderr, /nobody may not consume/);
  const withToken = await bufCurl(cwd, ["-H", "Authorization: Bearer reflection-token-0123456789", "--reflect-header", "*", ...listServices]);
  assert.equal(withToken.code, 0, withToken.stderr);
  assert.match(withToken.stdout, /^log\.v1\.Log$/m);
});

/**
 * A Python grpcio client that knows only the reflection protocol (its .proto compiled by grpc_tools):
 * it lists the services, fetches log.v1.Log's file and imports, builds Produce's and Consume's
 * messages from those descriptors with Google's protobuf runtime, and calls them.
 */
const PYTHON_REFLECTION_CLIENT = `
import json, sys
import grpc
from grpc_tools import protoc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

address, proto_root, workdir = sys.argv[1:4]

def message_class(pool, name):
    descriptor = pool.FindMessageTypeByName(name)
    get = getattr(message_factory, "GetMessageClass", None)
    return get(descriptor) if get else message_factory.MessageFactory(pool).GetPrototype(descriptor)

def pool_of(files):
    by_name, pool, added = {f.name: f for f in files}, descriptor_pool.DescriptorPool(), set()
    def add(f):
        if f.name in added:
            return
        for dependency in f.dependency:
            add(by_name[dependency])
        pool.AddSerializedFile(f.SerializeToString())
        added.add(f.name)
    for f in files:
        add(f)
    return pool

set_path = workdir + "/reflection.pb"
assert protoc.main(["protoc", "-I" + proto_root, "--descriptor_set_out=" + set_path, "grpc/reflection/v1/reflection.proto"]) == 0
own = pool_of(descriptor_pb2.FileDescriptorSet.FromString(open(set_path, "rb").read()).file)
Request = message_class(own, "grpc.reflection.v1.ServerReflectionRequest")
Response = message_class(own, "grpc.reflection.v1.ServerReflectionResponse")
channel = grpc.insecure_channel(address)
reflect = channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", request_serializer=Request.SerializeToString, response_deserializer=Response.FromString)
listed, described = list(reflect(iter([Request(list_services=""), Request(file_containing_symbol="log.v1.Log")])))
out = {"services": [service.name for service in listed.list_services_response.service]}
files = [descriptor_pb2.FileDescriptorProto.FromString(b) for b in described.file_descriptor_response.file_descriptor_proto]
out["files"] = [f.name for f in files]
pool = pool_of(files)
log = pool.FindServiceByName("log.v1.Log")

def call(method_name, request_fields):
    method = log.FindMethodByName(method_name)
    request_class = message_class(pool, method.input_type.full_name)
    response_class = message_class(pool, method.output_type.full_name)
    stub = channel.unary_unary("/log.v1.Log/" + method_name, request_serializer=request_class.SerializeToString, response_deserializer=response_class.FromString)
    request = request_class()
    request_fields(request)
    return stub(request)

def produce_fields(request):
    request.record.value = b"described by reflection"
out["offset"] = call("Produce", produce_fields).offset
def consume_fields(request):
    request.offset = out["offset"]
out["value"] = call("Consume", consume_fields).record.value.decode()
print(json.dumps(out))
`;

test("Python grpcio builds Produce and Consume from the descriptors reflection hands out", { skip: pythonGrpcSkip, timeout: 60_000 }, async (t) => {
  const server = await startLogServer(t);
  const dir = await tempDir(t);
  const file = join(dir, "reflection_client.py");
  await writeFile(file, PYTHON_REFLECTION_CLIENT);
  const out = await runPythonJson(file, [addressOf(server), fileURLToPath(new URL("../proto", import.meta.url)), dir]);
  assert.ok((out.services as string[]).includes("log.v1.Log"), JSON.stringify(out));
  assert.equal((out.files as string[])[0], "log/v1/log.proto");
  assert.equal(out.offset, 0);
  assert.equal(out.value, "described by reflection");
});

/** One reflection request answered by a service for `services`, in memory. */
async function reflect(services: readonly DescService[], request: ServerReflectionRequestSchemaInit): Promise<ServerReflectionResponse> {
  const transport = createRouterTransport(({ service }) => service(ServerReflection, createReflectionService(services)));
  const client = createClient(ServerReflection, transport);
  async function* requests() {
    yield create(ServerReflectionRequestSchema, request);
  }
  for await (const response of client.serverReflectionInfo(requests())) return response;
  throw new Error("no reflection response");
}
type ServerReflectionRequestSchemaInit = Parameters<typeof create<typeof ServerReflectionRequestSchema>>[1];

function fileNames(response: ServerReflectionResponse): string[] {
  assert.equal(response.messageResponse.case, "fileDescriptorResponse");
  return response.messageResponse.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
}

test("a cluster member's reflection lists Admin, and answers files with their imports, by name or by symbol", async () => {
  const services = [Log, Health, Admin];
  const listed = await reflect(services, { host: "node", messageRequest: { case: "listServices", value: "" } });
  assert.equal(listed.validHost, "node");
  assert.equal(listed.originalRequest?.messageRequest.case, "listServices");
  assert.equal(listed.messageResponse.case, "listServicesResponse");
  assert.deepEqual(
    listed.messageResponse.value.service.map((service) => service.name),
    ["log.v1.Log", "grpc.health.v1.Health", "loghouse.admin.v1.Admin", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"],
  );
  const byMethod = fileNames(await reflect(services, { messageRequest: { case: "fileContainingSymbol", value: "loghouse.admin.v1.Admin.RemoveMember" } }));
  assert.equal(byMethod[0], "loghouse/admin/v1/admin.proto");
  // A file comes with its imports.
  assert.deepEqual(fileNames(await reflect(services, { messageRequest: { case: "fileByFilename", value: "log/v1/log.proto" } })), ["log/v1/log.proto", "google/protobuf/wrappers.proto"]);
  assert.equal(fileNames(await reflect(services, { messageRequest: { case: "fileContainingSymbol", value: "log.v1.ProduceRequest" } }))[0], "log/v1/log.proto");
  const types = await reflect(services, { messageRequest: { case: "allExtensionNumbersOfType", value: "log.v1.Record" } });
  assert.equal(types.messageResponse.case, "allExtensionNumbersResponse");
  assert.deepEqual(types.messageResponse.value.extensionNumber, []);
});

test("reflection answers an unknown file or symbol with NOT_FOUND in the stream", async () => {
  for (const messageRequest of [
    { case: "fileByFilename", value: "nope.proto" },
    { case: "fileContainingSymbol", value: "log.v1.Nope" },
    { case: "allExtensionNumbersOfType", value: "log.v1.Nope" },
  ] as const) {
    const response = await reflect([Log], { messageRequest });
    assert.equal(response.messageResponse.case, "errorResponse");
    assert.equal(response.messageResponse.value.errorCode, Code.NotFound);
  }
});
