// The CLI's --server as a list of members against 3 real node processes with one of them dead (the
// leader, listed first): produce reaches the new leader, consume reads everything back, status
// describes the first member that answers, and LOGHOUSE_SERVER takes the same list.
import assert from "node:assert/strict";
import { test } from "node:test";
import { cleanup } from "./support/cleanup.ts";
import { ProcessCluster } from "./support/process-cluster.ts";
import { runCli } from "./support/run-cli.ts";
import { tempDir } from "./support/temp-dir.ts";

test("the CLI with a comma list of members works with the first one (the leader) dead", async (t) => {
  const cluster = new ProcessCluster(await tempDir(t));
  cleanup(t, () => cluster.stopAll());
  await cluster.form(3);
  const leader = await cluster.leader();
  const others = [1, 2, 3].filter((id) => id !== leader);
  await cluster.signal(leader, "SIGKILL");
  const list = [leader, ...others].map((id) => cluster.address(id)).join(",");
  const timeout = ["--timeout", "20s"];

  const produced = await runCli(["produce", "--server", list, ...timeout], { input: "one\ntwo\nthree\n" });
  assert.equal(produced.code, 0, produced.stderr);
  assert.equal(JSON.parse(produced.stdout).records, 3);

  const consumed = await runCli(["consume", "--from", "start", ...timeout], { env: { LOGHOUSE_SERVER: list } });
  assert.equal(consumed.code, 0, consumed.stderr);
  assert.equal(consumed.stdout, "one\ntwo\nthree\n");

  const status = await runCli(["status", "--server", list, ...timeout]);
  assert.equal(status.code, 0, status.stderr);
  assert.equal(JSON.parse(status.stdout).server, cluster.address(others[0]!));

  const malformed = await runCli(["consume", "--server", `${cluster.address(others[0]!)},nowhere`]);
  assert.equal(malformed.code, 2);
  assert.match(malformed.stderr, /--server must be HOST:PORT/);
});
