// How a node learns it was removed (src/cluster/removal-watch.ts), against a scripted admin endpoint:
// a leader's "not a member" is believed only from a leader this node knows. A node at a member's
// address that bootstrapped a cluster of its own (its disk lost, its old --bootstrap line run
// again) answered as leader that a healthy member was no member, and that member stopped serving.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";
import { serveAdminConnection, type AdminResponse } from "../src/cluster/admin-protocol.ts";
import { RemovalWatch } from "../src/cluster/removal-watch.ts";
import { silentLogger } from "../src/logger.ts";
import { cleanup } from "./support/cleanup.ts";
import { waitUntil } from "./support/wait-until.ts";

/** An admin endpoint that answers every request with `answer`, counting them. */
async function scriptedLeader(t: import("node:test").TestContext, answer: AdminResponse): Promise<{ address: string; asked: () => number }> {
  let asked = 0;
  const server = createServer((socket) => {
    socket.once("data", (firstBytes) => {
      asked++;
      void serveAdminConnection(socket, firstBytes, async () => answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanup(t, () => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as { port: number };
  return { address: `127.0.0.1:${port}`, asked: () => asked };
}

test("a 'not a member' answer is believed from a leader this node knows, and ignored from any other", async (t) => {
  for (const [leaderId, believed] of [[2, true], [999, false]] as const) {
    const leader = await scriptedLeader(t, { ok: true, addresses: {}, member: false, leaderId });
    const abort = new AbortController();
    let removed: string | undefined;
    const watch = new RemovalWatch({
      nodeId: 1,
      addresses: () => ({ 1: "127.0.0.1:1", 2: leader.address }),
      peerTls: () => undefined,
      onRemoved: (reason) => (removed = reason),
      logger: silentLogger,
      signal: abort.signal,
    });
    const asking = watch.confirm();
    // Ignored, it asks again; the second question shows the first answer was not taken.
    if (!believed) await waitUntil("a second question", () => leader.asked() >= 2);
    abort.abort();
    await asking;
    assert.equal(removed !== undefined, believed, `leader ${leaderId}: ${removed}`);
  }
});
