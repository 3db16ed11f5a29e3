// Issue 8's attacks on a secured 3-node cluster of processes (TLS, node certificates, the sample ACL),
// over real sockets: forged Raft traffic with no certificate, a client's certificate or another node's,
// a member's own connection sending an acknowledgement beyond the leader's log (which crashed the
// leader with an assertion) or garbage, and admin requests (join, leave, re-pointing an address)
// from callers who may not make them. Each closes only its own connection or is refused; the cluster
// keeps its leader, its members' addresses and its data.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import * as net from "node:net";
import * as tls from "node:tls";
import { join } from "node:path";
import { test } from "node:test";
import { LoghouseClient, type ClientTlsOptions } from "../src/client/client.ts";
import { sendAdminRequest } from "../src/cluster/admin-protocol.ts";
import { encodeHello } from "../src/cluster/frame-reader.ts";
import { encodeMessage } from "../src/cluster/message-codec.ts";
import type { PeerTls } from "../src/cluster/peer-dial.ts";
import { PermissionDeniedError, UnauthenticatedError } from "../src/errors.ts";
import { message, MessageType } from "../src/raft/index.ts";
import { PEER_ALPN } from "../src/security/peer-identity.ts";
import { cleanup } from "./support/cleanup.ts";
import type { DevCerts } from "./support/dev-certs.ts";
import { runCli } from "./support/run-cli.ts";
import { securedProcessCluster } from "./support/secured-cluster.ts";
import { tempDir } from "./support/temp-dir.ts";
import { waitUntil } from "./support/wait-until.ts";

function frame(body: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32LE(body.length);
  return Buffer.concat([header, body]);
}

interface Identity {
  readonly cert: Buffer;
  readonly key: Buffer;
}

async function identity(certs: DevCerts, name: string): Promise<Identity> {
  return { cert: await certs.read(`${name}.pem`), key: await certs.read(`${name}-key.pem`) };
}

/** Opens a connection to `address` (plaintext, or TLS with ALPN loghouse-peer/1 and maybe a certificate), writes `bytes`, and resolves once the node closes it. */
async function closedAfter(t: import("node:test").TestContext, address: string, bytes: Buffer, tlsOptions?: { ca: Buffer; identity?: Identity }): Promise<void> {
  const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
  let closed = false;
  const socket =
    tlsOptions === undefined
      ? net.connect(port, host)
      : tls.connect({ host, port, ca: tlsOptions.ca, ALPNProtocols: [PEER_ALPN], checkServerIdentity: () => undefined, ...tlsOptions.identity });
  cleanup(t, () => socket.destroy());
  socket.on("error", () => undefined);
  socket.once("close", () => (closed = true));
  socket.once(tlsOptions === undefined ? "connect" : "secureConnect", () => socket.write(bytes));
  socket.resume();
  await waitUntil(`the node to close the connection sending ${bytes.length} bytes`, () => closed, 10_000);
}

function peerTlsOf(ca: Buffer, who: Identity): PeerTls {
  const context = tls.createSecureContext({ ca, ...who });
  return { secureContext: () => context };
}

test("a secured cluster refuses forged peer traffic and unauthorized admin requests, and keeps its leader and data", { timeout: 240_000 }, async (t) => {
  const { cluster, certs } = await securedProcessCluster(t, await tempDir(t));
  cleanup(t, () => cluster.stopAll());
  await cluster.form();
  const leader = await cluster.leader();
  const follower = leader === 2 ? 3 : 2;
  const other = [1, 2, 3].find((id) => id !== leader && id !== follower)!;
  // Forming it warned of nothing: a node being admitted refuses the leader's first connection, made
  // before it learned the leader's name, quietly (it used to log a bad-sender warning every join).
  for (const id of [1, 2, 3]) assert.deepEqual(cluster.lines(id).filter((line) => line.level === "warn").map((line) => line.msg), [], `node ${id}`);
  const values = Array.from({ length: 20 }, () => randomBytes(16));
  const first = Number(await cluster.client(leader).produceBatch(values));
  const serversBefore = await cluster.client(leader).servers();

  const ca = await certs.read("ca.pem");
  const term = (JSON.parse(await readFile(join(cluster.dataDir(leader), "raft-state.json"), "utf8")) as { hardState: { term: number } }).hardState.term;
  const address = cluster.address(leader);
  // An acknowledgement far beyond the leader's log, in the leader's term: it crashed the leader before.
  const forgedAck = frame(encodeMessage(message({ type: MessageType.AppendResponse, from: follower, to: leader, term, index: 1_000_000_000 })));
  const forged = Buffer.concat([encodeHello(follower), forgedAck]);
  const vote = Buffer.concat([encodeHello(follower), frame(encodeMessage(message({ type: MessageType.Vote, from: follower, to: leader, term: term + 5, index: 1_000_000, logTerm: term + 4 })))]);

  // Plaintext on a TLS node: closed whatever it says.
  await closedAfter(t, address, forged);
  // TLS without a certificate, with a client's certificate, or with another node's certificate claiming to be the follower.
  await closedAfter(t, address, forged, { ca });
  await closedAfter(t, address, forged, { ca, identity: await identity(certs, "root-client") });
  await closedAfter(t, address, vote, { ca, identity: await identity(certs, `node-${other}`) });
  // A client's certificate whose CN is the follower's name (the ACL grants that name replicate) is not the follower's.
  await closedAfter(t, address, vote, { ca, identity: await identity(certs, `${follower}-client`) });
  // The follower's own certificate: an acknowledgement beyond the log, or garbage, closes that connection only.
  const followerIdentity = await identity(certs, `node-${follower}`);
  await closedAfter(t, address, forged, { ca, identity: followerIdentity });
  await closedAfter(t, address, Buffer.concat([encodeHello(follower), Buffer.from([0xff, 0xff, 0xff, 0x0f]), randomBytes(64)]), { ca, identity: followerIdentity });

  // Members' requests on the peer plane: plaintext fails; a client certificate cannot join a node or
  // speak for one; a node cannot re-point another node's address or say it was removed.
  const intruder = "127.0.0.1:1";
  await assert.rejects(sendAdminRequest(address, { op: "member", nodeId: follower }, 5_000));
  const refusals = [
    [{ op: "join", name: "9", nodeId: 9, address: intruder }, "root-client"],
    [{ op: "join", name: String(follower), nodeId: 9, address: intruder }, `node-${other}`],
    [{ op: "member", nodeId: follower }, "root-client"],
    [{ op: "member", nodeId: follower }, `${follower}-client`],
  ] as const;
  for (const [request, who] of refusals) {
    const response = await sendAdminRequest(address, request, 5_000, peerTlsOf(ca, await identity(certs, who)));
    assert.equal(response.ok, false, `${request.op} by ${who}`);
  }
  // The Admin service: without a certificate UNAUTHENTICATED, nobody and a node (no admin in the policy) PERMISSION_DENIED.
  const adminAs = (tlsOptions: ClientTlsOptions): LoghouseClient => {
    const client = new LoghouseClient(address, { tls: tlsOptions, callTimeoutMs: 5_000 });
    cleanup(t, () => client.close());
    return client;
  };
  await assert.rejects(adminAs({ ca }).removeMember(String(follower)), UnauthenticatedError);
  await assert.rejects(adminAs({ ca, ...(await identity(certs, "nobody-client")) }).removeMember(String(follower)), PermissionDeniedError);
  await assert.rejects(adminAs({ ca, ...(await identity(certs, `node-${other}`)) }).transferLeadership(String(other)), PermissionDeniedError);
  // Root may administer: a leadership transfer through the CLI, asked of a follower, reaches the leader.
  const transfer = await runCli(["transfer-leader", "--server", cluster.address(other), "--to", String(follower), "--tls-ca", certs.path("ca.pem"), "--tls-cert", certs.path("root-client.pem"), "--tls-key", certs.path("root-client-key.pem")]);
  assert.equal(transfer.code, 0, transfer.stderr);
  assert.equal(transfer.stderr, "", "nothing on stderr (Node's DEP0123 warning for a TLS server named by its IP address is dropped)");
  const newLeader = await cluster.leader();
  assert.equal(newLeader, follower);

  // Every node is up, the members and their addresses are unchanged, and the records are there and new ones commit.
  for (const id of [1, 2, 3]) assert.ok(cluster.isRunning(id), `node ${id} runs`);
  const serversAfter = await cluster.client(newLeader).servers();
  assert.deepEqual(serversAfter.map((s) => [s.id, s.rpcAddr]).sort(), serversBefore.map((s) => [s.id, s.rpcAddr]).sort());
  assert.equal(serversAfter.filter((s) => s.isVoter).length, 3);
  for (let i = 0; i < values.length; i++) assert.deepEqual(Buffer.from((await cluster.client(other).read(first + i)).value), values[i]);
  await cluster.client(newLeader).produceBatch([Buffer.from("after the attacks")]);
});
