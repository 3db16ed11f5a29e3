// How a node learns it was removed (src/cluster/removal-watch.ts), against a scripted admin endpoint:
// a leader's "not a member" is believed only from a leader that has known this node. A node at a member's
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

test("a 'not a member' answer is believed from a leader that has known this node (or an older one that does not say), and ignored from one that never has", async (t) => {
  for (const [known, believed] of [[true, true], [undefined, true], [false, false]] as const) {
    const leader = await scriptedLeader(t, { ok: true, addresses: {}, member: false, ...(known === undefined ? {} : { known }) });
    const abort = new AbortController();
    let removed: string | undefined;
    const watch = new RemovalWatch({
      nodeId: 1,
      clusterId: () => undefined,
      addresses: () => ({ 1: "127.0.0.1:1", 2: leader.address }),
      peerTls: () => undefined,
      onRemoved: (reason) => (removed = reason),
      logger: silentLogger,
      signal: abort.signal,
    });
    const asking = watch.confirm();
    // Believed, the first answer ends the question; ignored, it asks again, and the second question
    // shows the first answer was not taken. The signal is aborted only once one of the two is seen.
    await waitUntil(`known ${known}: the answer to be taken or asked again`, () => removed !== undefined || leader.asked() >= 2);
    abort.abort();
    await asking;
    assert.equal(removed !== undefined, believed, `known ${known}: ${removed}`);
  }
});
