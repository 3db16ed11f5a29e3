// Python's grpcio (gRPC's C core, the strictest common client) against the node: stubs generated
// from proto/ by grpc_tools, then every kind of RPC, the out-of-range status and health. Needs
// Debian's python3-grpcio and python3-grpc-tools (installed by .ci/run); skipped elsewhere when
// they are missing, but never in CI.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { addressOf, startLogServer } from "./support/log-server.ts";
import { PYTHON, pythonGrpcSkip, runPythonJson } from "./support/python-grpc.ts";
import { devCerts } from "./support/dev-certs.ts";
import { tempDir } from "./support/temp-dir.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

const skip = pythonGrpcSkip;

const SCRIPT = `
import json, sys
import grpc
sys.path.insert(0, sys.argv[2])
from log.v1 import log_pb2, log_pb2_grpc

channel = grpc.insecure_channel(sys.argv[1])
log = log_pb2_grpc.LogStub(channel)
# Generated stubs for grpc.health.v1 would shadow the grpc package itself: call it with raw bytes.
check = channel.unary_unary("/grpc.health.v1.Health/Check", request_serializer=lambda b: b, response_deserializer=lambda b: b)
out = {}
out["produce"] = log.Produce(log_pb2.ProduceRequest(record=log_pb2.Record(value=b"from python"))).offset
out["batch"] = log.ProduceBatch(log_pb2.ProduceBatchRequest(values=[b"a", b"b", b"c"])).first_offset
out["consume"] = log.Consume(log_pb2.ConsumeRequest(offset=out["produce"])).record.value.decode()
try:
    log.Consume(log_pb2.ConsumeRequest(offset=2**64 - 1))
except grpc.RpcError as error:
    out["outOfRange"] = [error.code().name, error.details()]
read = log.ConsumeBatch(log_pb2.ConsumeBatchRequest(offset=0, max_records=10))
out["read"] = [r.value.decode() for r in read.records]
out["nextOffset"] = read.next_offset
acks = log.ProduceStream(iter([log_pb2.ProduceRequest(record=log_pb2.Record(value=str(i).encode())) for i in range(5)]))
out["streamAcks"] = [ack.offset for ack in acks]
stream = log.ConsumeStream(log_pb2.ConsumeRequest(offset=0))
seen = []
for response in stream:
    seen.append(response.record.offset)
    if len(seen) == 9:
        stream.cancel()
        break
out["tail"] = seen
out["servers"] = [[s.id, s.rpc_addr, s.is_leader] for s in log.GetServers(log_pb2.GetServersRequest()).servers]
out["health"] = list(check(b""))  # HealthCheckResponse{status: SERVING} is 08 01
print(json.dumps(out))
`;

/** Generates the Python stubs of log.proto into a fresh directory, writes `script` beside them, runs it with `args` and parses its JSON. */
async function runPython(t: import("node:test").TestContext, script: string, args: readonly string[]): Promise<Record<string, unknown>> {
  const dir = await tempDir(t);
  const stubs = join(dir, "stubs");
  await mkdir(stubs);
  execFileSync(PYTHON, ["-m", "grpc_tools.protoc", "-I", join(ROOT, "proto"), `--python_out=${stubs}`, `--grpc_python_out=${stubs}`, "log/v1/log.proto"]);
  for (const pkg of ["log", "log/v1"]) await writeFile(join(stubs, pkg, "__init__.py"), "");
  const file = join(dir, "client.py");
  await writeFile(file, script);
  return runPythonJson(file, [args[0]!, stubs, ...args.slice(1)]);
}

test("Python grpcio: unary, client, server and bidi streaming, out of range, health", { skip, timeout: 60_000 }, async (t) => {
  const server = await startLogServer(t);
  const result = (await runPython(t, SCRIPT, [addressOf(server)])) as Record<string, any>;
  assert.equal(result.produce, 0);
  assert.equal(result.batch, 1);
  assert.equal(result.consume, "from python");
  assert.deepEqual(result.outOfRange, ["OUT_OF_RANGE", "offset out of range: 18446744073709551615"]);
  assert.deepEqual(result.read, ["from python", "a", "b", "c"]);
  assert.equal(result.nextOffset, 4);
  assert.deepEqual(result.streamAcks, [4, 5, 6, 7, 8]);
  assert.deepEqual(result.tail, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(result.servers, [["loghouse-0", addressOf(server), true]]);
  assert.deepEqual(result.health, [0x08, 0x01]);
});

/** The Go original's setup from Python: mutual TLS with the root or nobody certificate (or none), the ACL deciding. */
const TLS_SCRIPT = `
import json, sys
import grpc
sys.path.insert(0, sys.argv[2])
from log.v1 import log_pb2, log_pb2_grpc

ca, cert_dir = open(sys.argv[3], "rb").read(), sys.argv[4]
def stub(name):
    if name is None:
        credentials = grpc.ssl_channel_credentials(root_certificates=ca)
    else:
        key = open(f"{cert_dir}/{name}-client-key.pem", "rb").read()
        chain = open(f"{cert_dir}/{name}-client.pem", "rb").read()
        credentials = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=chain)
    return log_pb2_grpc.LogStub(grpc.secure_channel(sys.argv[1], credentials))
def attempt(call):
    try:
        return call()
    except grpc.RpcError as error:
        return error.code().name
out = {}
root = stub("root")
out["produce"] = root.Produce(log_pb2.ProduceRequest(record=log_pb2.Record(value=b"from python over tls"))).offset
out["consume"] = root.Consume(log_pb2.ConsumeRequest(offset=out["produce"])).record.value.decode()
nobody = stub("nobody")
out["nobodyProduce"] = attempt(lambda: nobody.Produce(log_pb2.ProduceRequest(record=log_pb2.Record(value=b"x"))).offset)
out["nobodyConsume"] = attempt(lambda: nobody.Consume(log_pb2.ConsumeRequest(offset=0)).record.value.decode())
anonymous = stub(None)
out["anonymousProduce"] = attempt(lambda: anonymous.Produce(log_pb2.ProduceRequest(record=log_pb2.Record(value=b"x"))).offset)
print(json.dumps(out))
`;

test("Python grpcio over mutual TLS: root produces and consumes, nobody is denied, no certificate is unauthenticated", { skip, timeout: 60_000 }, async (t) => {
  const certs = await devCerts(t);
  const server = await startLogServer(t, {
    security: {
      tls: { certFile: certs.path("node-1.pem"), keyFile: certs.path("node-1-key.pem"), caFile: certs.path("ca.pem") },
      acl: { modelFile: certs.path("model.conf"), policyFile: certs.path("policy.csv") },
    },
  });
  // "localhost": a name the node's certificate carries, as a Go or Python client would dial.
  const result = await runPython(t, TLS_SCRIPT, [`localhost:${server.address.port}`, certs.path("ca.pem"), certs.dir]);
  assert.deepEqual(result, {
    produce: 0,
    consume: "from python over tls",
    nobodyProduce: "PERMISSION_DENIED",
    nobodyConsume: "PERMISSION_DENIED",
    anonymousProduce: "UNAUTHENTICATED",
  });
});
