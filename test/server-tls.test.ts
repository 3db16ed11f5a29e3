// TLS and authorization on the one port, with real clients over real sockets: grpc-js (the gRPC
// fast path) and connect-node over HTTP/1.1 and HTTP/2 (the Connect router), client certificates
// and bearer tokens against the Go original's ACL, plaintext refused, certificates rotated on disk.
import assert from "node:assert/strict";
import { copyFile, writeFile } from "node:fs/promises";
import { once } from "node:events";
import * as net from "node:net";
import * as tls from "node:tls";
import { test } from "node:test";
import { createClient, ConnectError, Code, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { LoghouseClient } from "../src/client/client.ts";
import { InvalidConfigError, PermissionDeniedError, RpcCode, RpcError, UnauthenticatedError } from "../src/errors.ts";
import { Health, HealthCheckResponse_ServingStatus } from "../src/gen/grpc/health/v1/health_pb.ts";
import { Log } from "../src/gen/log/v1/log_pb.ts";
import { PEER_ALPN } from "../src/security/peer-identity.ts";
import { resolveServerConfig, type ServerConfigInput } from "../src/server/config.ts";
import type { LoghouseServer } from "../src/server/server.ts";
import { cleanup } from "./support/cleanup.ts";
import { clientTls, devCerts, type DevCerts } from "./support/dev-certs.ts";
import { addressOf, startLogServer } from "./support/log-server.ts";
import { runCli } from "./support/run-cli.ts";
import { tempDir } from "./support/temp-dir.ts";
import { waitUntil, waitUntilAsync } from "./support/wait-until.ts";

const TOKEN = "browser-token-0123456789abcdef";

async function securedServer(t: import("node:test").TestContext, certs: DevCerts, extra: ServerConfigInput["security"] = {}): Promise<LoghouseServer> {
  const tokensFile = `${await tempDir(t)}/tokens.json`;
  await writeFile(tokensFile, JSON.stringify({ [TOKEN]: "root", "nobody-token-0123456789abcdef": "nobody" }));
  return startLogServer(t, {
    security: {
      tls: { certFile: certs.path("node-1.pem"), keyFile: certs.path("node-1-key.pem"), caFile: certs.path("ca.pem") },
      acl: { modelFile: certs.path("model.conf"), policyFile: certs.path("policy.csv") },
      tokensFile,
      reloadIntervalMs: 50,
      ...extra,
    },
  });
}

/** A call whose channel never came up: grpc-js retries the connection until the deadline. */
function neverConnected(error: unknown): boolean {
  return error instanceof RpcError && (error.rpcCode === RpcCode.unavailable || error.rpcCode === RpcCode.deadlineExceeded);
}

function client(t: import("node:test").TestContext, server: LoghouseServer, options: ConstructorParameters<typeof LoghouseClient>[1]): LoghouseClient {
  const made = new LoghouseClient(addressOf(server), { callTimeoutMs: 5_000, ...options });
  cleanup(t, () => made.close());
  return made;
}

test("a plaintext client against a TLS port fails; a TLS client without the CA fails", async (t) => {
  const certs = await devCerts(t);
  const server = await securedServer(t, certs);
  await assert.rejects(client(t, server, { callTimeoutMs: 1_000 }).produce(Buffer.from("x")), neverConnected);
  // A client that trusts another CA does not accept the node's certificate.
  const other = await devCerts(t);
  await assert.rejects(client(t, server, { callTimeoutMs: 1_000, tls: await clientTls(other, "root") }).produce(Buffer.from("x")), neverConnected);
  assert.equal(server.log.nextOffset, 0);
});

test("client certificates and the Go original's ACL: root produces and consumes, nobody is denied, no credentials are unauthenticated", async (t) => {
  const certs = await devCerts(t);
  const server = await securedServer(t, certs);
  const root = client(t, server, { tls: await clientTls(certs, "root") });
  assert.equal(await root.produce(Buffer.from("hello")), 0n);
  assert.equal(Buffer.from((await root.read(0)).value).toString(), "hello");
  assert.equal((await root.servers()).length, 1);

  const nobody = client(t, server, { tls: await clientTls(certs, "nobody") });
  await assert.rejects(nobody.produce(Buffer.from("x")), PermissionDeniedError);
  await assert.rejects(nobody.read(0), PermissionDeniedError);
  const anonymous = client(t, server, { tls: await clientTls(certs) });
  await assert.rejects(anonymous.produce(Buffer.from("x")), UnauthenticatedError);
  await assert.rejects(anonymous.read(0), UnauthenticatedError);
  // Health checks are open: probes carry no credentials. Watching health (a stream that stays open)
  // needs a principal, any: anonymous watches could otherwise hold every stream the node allows.
  assert.equal(await anonymous.healthStatus(), "SERVING");
  const firstWatched = async (tls: Awaited<ReturnType<typeof clientTls>>): Promise<string> => {
    const transport = createGrpcTransport({ baseUrl: `https://${addressOf(server)}`, nodeOptions: tls });
    const watch = createClient(Health, transport).watch({ service: "" }, { signal: AbortSignal.timeout(5_000) });
    for await (const answer of watch) return HealthCheckResponse_ServingStatus[answer.status]!;
    return "ended";
  };
  await assert.rejects(firstWatched(await clientTls(certs)), (error: unknown) => error instanceof ConnectError && error.code === Code.Unauthenticated);
  assert.equal(await firstWatched(await clientTls(certs, "nobody")), "SERVING");
  assert.equal(await firstWatched(await clientTls(certs, "root")), "SERVING");
  // A certificate from another CA closes the connection.
  const strangers = await devCerts(t);
  const stranger = client(t, server, { callTimeoutMs: 1_000, tls: { ca: await certs.read("ca.pem"), cert: await strangers.read("root-client.pem"), key: await strangers.read("root-client-key.pem") } });
  await assert.rejects(stranger.produce(Buffer.from("x")), neverConnected);
  assert.equal(server.log.nextOffset, 1);
});

test("bearer tokens: the token's principal is authorized; an unknown token is unauthenticated", async (t) => {
  const certs = await devCerts(t);
  const server = await securedServer(t, certs);
  const ca = await certs.read("ca.pem");
  assert.equal(await client(t, server, { tls: { ca }, token: TOKEN }).produce(Buffer.from("by token")), 0n);
  await assert.rejects(client(t, server, { tls: { ca }, token: "nobody-token-0123456789abcdef" }).produce(Buffer.from("x")), PermissionDeniedError);
  await assert.rejects(client(t, server, { tls: { ca }, token: "not-a-token-0123456789abcdef" }).produce(Buffer.from("x")), UnauthenticatedError);

  // The Connect router (connect-node over HTTP/1.1 and over HTTP/2 with the Connect protocol) applies the same check.
  const base = `https://localhost:${server.address.port}`;
  for (const [name, transport] of [
    ["connect http/1.1", createConnectTransport({ baseUrl: base, httpVersion: "1.1", nodeOptions: { ca } })],
    ["connect h2", createConnectTransport({ baseUrl: base, httpVersion: "2", nodeOptions: { ca } })],
    ["grpc h2 with a client certificate", createGrpcTransport({ baseUrl: base, nodeOptions: { ca, cert: await certs.read("nobody-client.pem"), key: await certs.read("nobody-client-key.pem") } })],
  ] as const) {
    const log = createClient(Log, transport);
    const withToken = { headers: { authorization: `Bearer ${TOKEN}` } };
    if (name.startsWith("connect")) {
      assert.equal(Buffer.from((await log.consume({ offset: 0n }, withToken)).record!.value).toString(), "by token", name);
      await assert.rejects(log.consume({ offset: 0n }), (error: unknown) => error instanceof ConnectError && error.code === Code.Unauthenticated, name);
    } else {
      await assert.rejects(log.consume({ offset: 0n }), (error: unknown) => error instanceof ConnectError && error.code === Code.PermissionDenied, name);
    }
  }
});

function serverCertificate(server: LoghouseServer, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port: server.address.port, servername: "localhost", ca, ALPNProtocols: ["h2"] }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.once("error", reject);
  });
}

test("certificates rotated on disk are used by new connections without a restart; an open stream keeps flowing", async (t) => {
  const certs = await devCerts(t);
  const dir = await tempDir(t);
  for (const name of ["node-1.pem", "node-1-key.pem"]) await copyFile(certs.path(name), `${dir}/${name}`);
  const server = await securedServer(t, certs, { tls: { certFile: `${dir}/node-1.pem`, keyFile: `${dir}/node-1-key.pem`, caFile: certs.path("ca.pem") } });
  const ca = await certs.read("ca.pem");
  const before = await serverCertificate(server, ca);
  const root = client(t, server, { tls: await clientTls(certs, "root") });
  await root.produce(Buffer.from("before"));
  const stream = root.consume({ follow: true });
  assert.equal(Buffer.from((await stream.next()).value!.value).toString(), "before");

  // The same CA signs the new certificate: a second set, then its node certificate and key copied in.
  const rotated = await devCerts(t);
  const rotatedCa = await rotated.read("ca.pem");
  await copyFile(rotated.path("node-1-key.pem"), `${dir}/node-1-key.pem`);
  await copyFile(rotated.path("node-1.pem"), `${dir}/node-1.pem`);
  const after = await waitUntilAsync("the rotated certificate to be served", async () => {
    const seen = await serverCertificate(server, rotatedCa).catch(() => undefined);
    return seen !== undefined && seen !== before ? seen : undefined;
  });
  assert.notEqual(after, before);
  // The open stream, on the connection made before the rotation, still delivers.
  const fresh = client(t, server, { tls: { ca: Buffer.concat([ca, rotatedCa]), cert: await certs.read("root-client.pem"), key: await certs.read("root-client-key.pem") } });
  await fresh.produce(Buffer.from("after"));
  assert.equal(Buffer.from((await stream.next()).value!.value).toString(), "after");
  await stream.return(undefined);
});

test("plaintext is for loopback: another address needs TLS or an explicit insecure", () => {
  assert.throws(() => resolveServerConfig({ host: "0.0.0.0" }), (error: unknown) => error instanceof InvalidConfigError && /without TLS.*--insecure/.test(error.message));
  assert.equal(resolveServerConfig({ host: "0.0.0.0", security: { insecure: true } }).security.insecure, true);
  assert.ok(resolveServerConfig({ host: "10.1.2.3", security: { tls: { certFile: "c.pem", keyFile: "k.pem", caFile: undefined } } }).security.tls);
  for (const host of ["127.0.0.1", "127.8.9.10", "::1", "localhost"]) assert.equal(resolveServerConfig({ host }).security.tls, undefined);
});

test("the ACL and the tokens are reloaded when their files change, without a restart", async (t) => {
  const certs = await devCerts(t);
  const dir = await tempDir(t);
  const policyFile = `${dir}/policy.csv`;
  await copyFile(certs.path("policy.csv"), policyFile);
  const server = await securedServer(t, certs, { acl: { modelFile: certs.path("model.conf"), policyFile } });
  const nobody = client(t, server, { tls: await clientTls(certs, "nobody") });
  await assert.rejects(nobody.produce(Buffer.from("x")), PermissionDeniedError);
  await writeFile(policyFile, "p, root, *, produce\np, nobody, *, produce\n");
  await waitUntilAsync("nobody to be allowed to produce", () => nobody.produce(Buffer.from("now allowed")).then(() => true, () => false));
  assert.equal(server.log.nextOffset, 1);
});

test("taking a permission away ends the streams open under it, on the gRPC fast path and through the Connect router", async (t) => {
  const certs = await devCerts(t);
  const policyFile = `${await tempDir(t)}/policy.csv`;
  await writeFile(policyFile, "p, root, *, produce\np, root, *, consume\np, nobody, *, consume\n");
  const server = await securedServer(t, certs, { acl: { modelFile: certs.path("model.conf"), policyFile } });
  const root = client(t, server, { tls: await clientTls(certs, "root") });
  await root.produce(Buffer.from("before"));
  // nobody follows the log twice: over gRPC with its certificate, and over Connect with its token.
  const seen: Record<"grpc" | "connect", string[]> = { grpc: [], connect: [] };
  const follower = client(t, server, { tls: await clientTls(certs, "nobody"), callTimeoutMs: 60_000 });
  const grpcFollow = (async () => {
    for await (const record of follower.consume({ from: "start", follow: true, signal: AbortSignal.timeout(60_000) })) seen.grpc.push(Buffer.from(record.value).toString());
  })();
  const bearer: Interceptor = (next) => (request) => {
    request.header.set("authorization", "Bearer nobody-token-0123456789abcdef");
    return next(request);
  };
  const transport = createConnectTransport({ baseUrl: `https://${addressOf(server)}`, httpVersion: "2", nodeOptions: { ca: await certs.read("ca.pem") }, interceptors: [bearer] });
  const connectFollow = (async () => {
    for await (const answer of createClient(Log, transport).consumeStream({ offset: 0n }, { signal: AbortSignal.timeout(60_000) })) seen.connect.push(Buffer.from(answer.record!.value).toString());
  })();
  grpcFollow.catch(() => undefined);
  connectFollow.catch(() => undefined);
  await waitUntil("both streams to read the first record", () => seen.grpc.length === 1 && seen.connect.length === 1, 10_000);

  await writeFile(policyFile, "p, root, *, produce\np, root, *, consume\n");
  await assert.rejects(grpcFollow, PermissionDeniedError);
  await assert.rejects(connectFollow, (error: unknown) => error instanceof ConnectError && error.code === Code.PermissionDenied);
  await root.produce(Buffer.from("after"));
  assert.deepEqual(seen, { grpc: ["before"], connect: ["before"] });
});

test("an ACL rule that could grant nothing (a misspelt action, missing fields) stops the node at start, naming the rule", async (t) => {
  const certs = await devCerts(t);
  const dir = await tempDir(t);
  const cases: Array<[string, RegExp]> = [
    ["p, root, *, produce\np, reader, *, consum\n", /rule "p, reader, \*, consum" grants "consum", which no call takes/],
    ["p, root\n", /rule "p, root" has 1 field, not subject, object and action/],
  ];
  for (const [index, [policy, refusal]] of cases.entries()) {
    const policyFile = `${dir}/policy-${index}.csv`;
    await writeFile(policyFile, policy);
    await assert.rejects(securedServer(t, certs, { acl: { modelFile: certs.path("model.conf"), policyFile } }), (error: unknown) => error instanceof InvalidConfigError && refusal.test(error.message));
  }
});

test("serve refuses plaintext off loopback unless --insecure (or LOGHOUSE_INSECURE)", async (t) => {
  const dir = await tempDir(t);
  const refused = await runCli(["serve", "--data-dir", `${dir}/data`, "--listen", "0.0.0.0:0"]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^loghouse: INVALID_CONFIG: listening on 0\.0\.0\.0 without TLS: give --tls-cert and --tls-key, or --insecure/);
  const half = await runCli(["serve", "--data-dir", `${dir}/data`, "--tls-cert", "cert.pem"]);
  assert.match(half.stderr, /--tls-cert and --tls-key go together/);
});

test("a connection that sends nothing is closed after firstBytesTimeoutMs: before it is routed, part way through its TLS handshake, and a peer's after it", async (t) => {
  const certs = await devCerts(t);
  const timeoutMs = 300;
  const server = await startLogServer(t, {
    limits: { firstBytesTimeoutMs: timeoutMs },
    security: { tls: { certFile: certs.path("node-1.pem"), keyFile: certs.path("node-1-key.pem"), caFile: certs.path("ca.pem") } },
  });
  const { port } = server.address;
  // The first bytes of a ClientHello (a TLS handshake record's header) route a connection to the TLS side, which then waits for the rest.
  const halfHello = net.connect(port, "127.0.0.1", () => halfHello.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x50])));
  const opened = [
    net.connect(port, "127.0.0.1"),
    halfHello,
    // A node's certificate and the peers' ALPN: routed to the Raft side, which waits for a hello.
    tls.connect({ host: "127.0.0.1", port, ca: await certs.read("ca.pem"), cert: await certs.read("node-2.pem"), key: await certs.read("node-2-key.pem"), ALPNProtocols: [PEER_ALPN], checkServerIdentity: () => undefined }),
  ];
  await once(opened[2]!, "secureConnect");
  const closed = new Set<number>();
  opened.forEach((socket, i) => {
    cleanup(t, () => socket.destroy());
    socket.on("error", () => undefined);
    socket.once("close", () => closed.add(i));
    socket.resume();
  });
  // Bounded well beyond the timeout, for a busy machine; without the timeout none would close.
  await waitUntil("the silent plaintext, half-handshaken and peer connections to be closed", () => closed.size === 3, 10_000);
});
