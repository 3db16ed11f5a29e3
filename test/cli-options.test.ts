// The command line's finer points, through the real binary and real sockets: help per command and
// --version, exit codes (0 ok, 1 runtime error, 2 usage error) with one-line errors, binary-safe
// produce (--delimiter, --file, --format base64|json), consume by relative offset (--from -N) and by
// time (--from-time), output templates, the --timeout deadline, and transfer-leader on a cluster.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { stat, writeFile } from "node:fs/promises";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { decodeRecord, splitRecords } from "../src/cli/record-input.ts";
import { InvalidArgumentError } from "../src/errors.ts";
import { cleanup } from "./support/cleanup.ts";
import { startNode, stopNode, type NodeProcess } from "./support/node-process.ts";
import { ProcessCluster } from "./support/process-cluster.ts";
import { runCli } from "./support/run-cli.ts";
import { scriptedNode } from "./support/scripted-node.ts";
import { tempDir } from "./support/temp-dir.ts";
import { TestRandom } from "./support/test-random.ts";

const COMMANDS = ["serve", "produce", "consume", "status", "leave", "transfer-leader", "scrub"];

async function node(t: TestContext): Promise<NodeProcess> {
  const started = await startNode(["--data-dir", join(await tempDir(t), "data"), "--listen", "127.0.0.1:0"]);
  cleanup(t, () => stopNode(started));
  return started;
}

test("every command has its own help; --version prints the package's version", async () => {
  const overview = await runCli(["--help"]);
  assert.equal(overview.code, 0);
  for (const command of COMMANDS) assert.match(overview.stdout, new RegExp(`^  ${command} `, "m"));
  for (const command of COMMANDS) {
    const help = await runCli([command, "--help"]);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, new RegExp(`^usage: loghouse ${command} \\[options\\]`));
    assert.deepEqual(await runCli(["help", command]), help);
  }
  assert.match((await runCli(["consume", "--help"])).stdout, /--from-time TIME/);
  const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  assert.equal((await runCli(["--version"])).stdout, `${version}\n`);
});

test("usage errors exit 2 and runtime errors exit 1, each with one line naming the problem", async (t) => {
  const usage: [string[], RegExp][] = [
    [["frobnicate"], /unknown command: frobnicate/],
    [["consume", "--bogus"], /Unknown option '--bogus' \(see loghouse consume --help\)/],
    [["status", "extra"], /unexpected argument: extra/],
    [["consume", "--timeout", "soon"], /--timeout must be a positive duration/],
    [["consume", "--timeout", "9007199254740991"], /--timeout must be a positive duration such as 500ms, 10s or 2m, at most 24 days/],
    [["status", "--server", " , "], /--server \(or LOGHOUSE_SERVER\) must name at least one HOST:PORT/],
    [["status", "--server", "127.0.0.1:0"], /--server must be HOST:PORT with a port from 1/],
    [["consume", "--format", "{offset} {value"], /--format has a "\{" that is not closed, or a "\\" at its end/],
    [["consume", "--from-time", "hello 1"], /--from-time must be an ISO 8601 time or ms since the epoch, got hello 1/],
    [["consume", "--from-time", "2024-02-30"], /--from-time must be an ISO 8601 time/],
    [["produce", "--batch-bytes", "0"], /--batch-bytes must be an integer >= 1, got 0/],
    [["consume", "--from", "later"], /--from must be an offset/],
    [["consume", "--from", "99999999999999999999999"], /--from must fit in 64 bits/],
    [["consume", "--from", "-99999999999999999999999"], /--from must fit in 64 bits/],
    [["consume", "--from", "1", "--from-time", "0"], /--from or --from-time, not both/],
    [["consume", "--from-time", "yesterday"], /--from-time must be an ISO 8601 time/],
    [["consume", "--format", "{offset} {size}"], /unknown field \{size\}/],
    [["produce", "--delimiter", "\\q"], /--delimiter has an unknown escape/],
    [["produce", "--format", "hex"], /--format must be raw, base64 or json/],
    [["transfer-leader", "--to", "no/where"], /--to must be a node name/],
    [["transfer-leader"], /--to is required: the member's node name/],
    [["leave"], /--node-id is required: the member's node name/],
    [["consume", "--server", "nowhere"], /--server must be HOST:PORT/],
  ];
  // A node's settings: a bad value from a flag is a usage error too (from the environment or the
  // config file, INVALID_CONFIG, exit 1, below). Before, only --node-id was.
  const dataDir = join(await tempDir(t), "never-made");
  for (const [flag, value, message] of [
    ["--durability", "sometimes", /durability must be "fsync", "interval" or "none", got sometimes/],
    ["--listen", "nope", /listen must be HOST:PORT/],
    ["--retention-bytes", "10MB", /retention-bytes must be a whole number/],
    ["--log-level", "loud", /log level must be debug, info, warn or error/],
    ["--advertise", "zz", /advertise must be HOST:PORT/],
    ["--join", ",", /--join must name at least one member/],
  ] as const) {
    usage.push([["serve", "--data-dir", dataDir, flag, value], message]);
  }
  for (const [args, message] of usage) {
    const result = await runCli(args);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.match(result.stderr, /^loghouse: USAGE: [^\n]*\n$/);
  }
  assert.equal((await runCli([])).code, 2);
  const fromEnvironment = await runCli(["serve", "--data-dir", dataDir], { env: { LOGHOUSE_DURABILITY: "sometimes" } });
  assert.equal(fromEnvironment.code, 1, fromEnvironment.stderr);
  assert.match(fromEnvironment.stderr, /^loghouse: INVALID_CONFIG: durability must be/);
  await assert.rejects(stat(dataDir), "no data directory is made for a node refused its settings");
  const server = await node(t);
  const badInput = await runCli(["produce", "--server", server.address, "--format", "base64"], { input: "aGk=\n!!!\n" });
  assert.equal(badInput.code, 1);
  assert.equal(badInput.stderr, "loghouse: INVALID_ARGUMENT: record 2 is not base64\n");
  const missing = await runCli(["produce", "--server", server.address, "--file", "/nonexistent/file"]);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, "loghouse: ENOENT: open /nonexistent/file failed\n");
  // A port already taken says which (before: "EADDRINUSE: listen failed").
  const [host, port] = server.address.split(":");
  const taken = await runCli(["serve", "--data-dir", join(await tempDir(t), "other"), "--listen", server.address]);
  assert.equal(taken.code, 1, taken.stderr);
  assert.equal(taken.stderr, `loghouse: EADDRINUSE: listen ${host}:${port} failed\n`);
});

test("base64 input is taken only when it is exactly the encoding of its bytes, padded or not", () => {
  const decoded = (format: "base64" | "json", text: string): string => decodeRecord(format, Buffer.from(text), 7).toString();
  assert.equal(decoded("base64", "aGk="), "hi");
  assert.equal(decoded("base64", "aGk"), "hi");
  assert.equal(decoded("base64", ""), "");
  assert.equal(decoded("json", '{"valueBase64":"aGk="}'), "hi");
  // Before: Node's decoder dropped what it could not use, and these were stored as empty records.
  for (const text of ["a", "A=", "aGk=x", "aGl="]) {
    assert.throws(() => decoded("base64", text), { name: InvalidArgumentError.name, message: "record 7 is not base64" }, text);
    assert.throws(() => decoded("json", JSON.stringify({ valueBase64: text })), { name: InvalidArgumentError.name, message: 'record 7: "valueBase64" is not base64' }, text);
  }
});

test("a produce that fails part way stops there and says what was appended: exactly the records before the one that failed", async (t) => {
  const server = await node(t);
  // The middle record is over the node's record size limit (1 MiB); the records around it are fine.
  const input = Buffer.concat([Buffer.from("first\n"), Buffer.alloc(2 << 20, 0x78), Buffer.from("\nlast\n")]);
  const result = await runCli(["produce", "--server", server.address], { input });
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /^loghouse: RECORD_TOO_LARGE: /);
  const summary = JSON.parse(result.stdout) as { records: number; firstOffset: string | null; lastOffset: string | null; failedRecord: number };
  assert.equal(summary.failedRecord, 2);
  // The records themselves (the CLI's produce is exactly-once: each batch follows its producer's mark, which has a type).
  const lines = (await runCli(["consume", "--server", server.address, "--from", "0", "--format", "json"])).stdout.trim().split("\n");
  const stored = lines.map((line) => JSON.parse(line) as { offset: string; value: string; type?: number }).filter((record) => record.type === undefined);
  // Before: the error alone, and "last" was appended after the failure too.
  assert.deepEqual(stored.map((record) => `${record.offset} ${record.value}`), [`${summary.firstOffset} first`], "the summary names exactly the records appended");
  assert.equal(summary.records, 1);
  assert.equal(summary.lastOffset, summary.firstOffset);
  assert.equal("uncertainThrough" in summary, false, "a refused record leaves no doubt");
});

test("a produce whose last batch's outcome is unknown says which records may be in the log", async (t) => {
  // The node goes away in the middle of the batch's first attempt, then stays away: the batch may or
  // may not have been appended, and no later attempt can tell.
  const vanishing = await scriptedNode(t, ["vanish"]);
  const result = await runCli(["produce", "--server", vanishing.address, "--timeout", "2s"], { input: "one\ntwo\n" });
  assert.equal(result.code, 1, result.stderr);
  // Before: the last attempt's failure alone (no member reachable), as if nothing had been sent.
  assert.match(result.stderr, /^loghouse: CLUSTER_UNAVAILABLE: .*after an earlier attempt whose outcome is unknown: its records may be in the log/);
  assert.deepEqual(JSON.parse(result.stdout), { records: 0, firstOffset: null, lastOffset: null, failedRecord: 1, uncertainThrough: 2 });
  assert.equal(vanishing.calls(), 1);
});

test("after an unknown outcome, records read but never sent are not among those that may be in the log", async (t) => {
  // One record per batch (--batch-bytes 3), one batch in flight: the first is sent and its outcome
  // lost; the other two wait in the producer and are never sent once it stops.
  const vanishing = await scriptedNode(t, ["vanish"]);
  const result = await runCli(["produce", "--server", vanishing.address, "--timeout", "2s", "--batch-bytes", "3"], { input: "one\ntwo\nsix\n" });
  assert.equal(result.code, 1, result.stderr);
  // Before: uncertainThrough 3, every record read.
  assert.deepEqual(JSON.parse(result.stdout), { records: 0, firstOffset: null, lastOffset: null, failedRecord: 1, uncertainThrough: 1 });
  assert.equal(vanishing.calls(), 1);
});

test("produce is binary-safe: any delimiter, whole files, base64 and JSON input", async (t) => {
  const server = await node(t);
  const dir = await tempDir(t);
  const everyByte = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const file = join(dir, "every-byte.bin");
  await writeFile(file, everyByte);
  // Each batch the CLI sends is exactly-once: its batch mark (a type-3 record, skipped by text
  // output) takes the offset before its records, so offsets rise by more than the records.
  const produced = (result: { stdout: string }, records: number, after: bigint): { first: bigint; last: bigint } => {
    const summary = JSON.parse(result.stdout) as { records: number; firstOffset: string; lastOffset: string };
    assert.equal(summary.records, records, result.stdout);
    const [first, last] = [BigInt(summary.firstOffset), BigInt(summary.lastOffset)];
    assert.ok(first > after && last >= first + BigInt(records - 1), result.stdout);
    return { first, last };
  };
  const whole = produced(await runCli(["produce", "--server", server.address, "--file", file, "--file", file]), 2, -1n);

  const notUtf8 = Buffer.from([0xff, 0xfe, 0x0a, 0x00]);
  const delimited = produced(await runCli(["produce", "--server", server.address, "--delimiter", "\\x1e"], { input: Buffer.concat([notUtf8, Buffer.from([0x1e]), Buffer.from("two\n"), Buffer.from([0x1e])]) }), 2, whole.last);
  const base64 = produced(await runCli(["produce", "--server", server.address, "--format", "base64"], { input: `${everyByte.toString("base64")}\n\n` }), 2, delimited.last);

  const asJson = await runCli(["consume", "--server", server.address, "--from", "0", "--format", "json"]);
  const dataJson = asJson.stdout.split("\n").filter((line) => line !== "" && !("type" in JSON.parse(line))).slice(0, 5).join("\n");
  produced(await runCli(["produce", "--server", server.address, "--format", "json"], { input: `${dataJson}\n"plain string"\n` }), 6, base64.last);

  // Templates show every record with its type; the data records are type 0.
  const typed = (await runCli(["consume", "--server", server.address, "--format", "{type} {valueBase64}"])).stdout.trim().split("\n").map((line) => line.split(" "));
  const values = typed.filter(([type]) => type === "0").map(([, value]) => Buffer.from(value ?? "", "base64"));
  const expected = [everyByte, everyByte, notUtf8, Buffer.from("two\n"), everyByte, Buffer.alloc(0)];
  assert.deepEqual(values, [...expected, ...expected.slice(0, 5), Buffer.from("plain string")]);
  const raw = await runCli(["consume", "--server", server.address, "--from", String(delimited.first), "--count", "1"]);
  assert.deepEqual(raw.stdoutBytes, Buffer.concat([notUtf8, Buffer.from("\n")]));
});

test("consume starts N records before the end or at a time, and prints templates", async (t) => {
  const server = await node(t);
  for (const batch of ["a\nb\n", "c\n", "d\ne\n"]) assert.equal((await runCli(["produce", "--server", server.address], { input: batch })).code, 0);
  assert.equal((await runCli(["consume", "--server", server.address, "--from", "-2"])).stdout, "d\ne\n");
  assert.equal((await runCli(["consume", "--server", server.address, "--from=-9"])).stdout, "a\nb\nc\nd\ne\n");

  const records = (await runCli(["consume", "--server", server.address, "--format", "json"])).stdout.trim().split("\n").map((line) => JSON.parse(line) as { offset: string; timestampMs: number; value: string; type?: number }).filter((record) => record.type === undefined);
  const latestMs = Math.max(...records.map((record) => record.timestampMs));
  const fromLatest = records.filter((record) => record.timestampMs >= latestMs).map((record) => `${record.value}\n`).join("");
  assert.equal((await runCli(["consume", "--server", server.address, "--from-time", String(latestMs)])).stdout, fromLatest);
  assert.equal((await runCli(["consume", "--server", server.address, "--from-time", new Date(latestMs).toISOString()])).stdout, fromLatest);
  // As `date --rfc-3339=ns` writes it: a space for the T, and a numeric zone.
  assert.equal((await runCli(["consume", "--server", server.address, "--from-time", new Date(latestMs).toISOString().replace("T", " ").replace("Z", "+00:00")])).stdout, fromLatest);
  assert.equal((await runCli(["consume", "--server", server.address, "--from-time", String(latestMs + 60_000)])).stdout, "");

  const templated = await runCli(["consume", "--server", server.address, "--from", records[0]!.offset, "--count", "2", "--format", "{offset}\\t{time} {timestampMs} {type}: {value}"]);
  const expected = records.slice(0, 2).map((record) => `${record.offset}\t${new Date(record.timestampMs).toISOString()} ${record.timestampMs} 0: ${record.value}\n`).join("");
  assert.equal(templated.stdout, expected);
});

test("--timeout puts a deadline on every call: a node that never answers fails the command in time", async (t) => {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  cleanup(t, async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });
  const address = `127.0.0.1:${(silent.address() as { port: number }).port}`;
  for (const command of [["status"], ["consume", "--from", "0"], ["produce"], ["leave", "--node-id", "2"], ["transfer-leader", "--to", "2"]]) {
    const started = Date.now();
    const result = await runCli([...command, "--server", address, "--timeout", "300ms"], { input: "x\n" });
    assert.equal(result.code, 1, `${command[0]}: ${result.stderr}`);
    assert.equal(result.stderr, "loghouse: DEADLINE_EXCEEDED: the node did not answer within the deadline (--timeout)\n");
    assert.ok(Date.now() - started < 10_000);
  }
});

test("transfer-leader hands the leadership to the voter named, asked through any member", async (t) => {
  const cluster = new ProcessCluster(await tempDir(t));
  cleanup(t, () => cluster.stopAll());
  await cluster.form(3);
  const leader = await cluster.leader();
  const [target, other] = [1, 2, 3].filter((id) => id !== leader) as [number, number];
  const moved = await runCli(["transfer-leader", "--server", cluster.address(other), "--to", String(target)]);
  assert.equal(moved.code, 0, moved.stderr);
  assert.deepEqual(JSON.parse(moved.stdout), { transferredTo: String(target) });
  assert.equal(await cluster.leader(), target);
  // To the leader itself: nothing to do, and not an error (it was refused as "cannot take over").
  const stays = await runCli(["transfer-leader", "--server", cluster.address(other), "--to", String(target)]);
  assert.equal(stays.code, 0, stays.stderr);
  assert.deepEqual(JSON.parse(stays.stdout), { transferredTo: String(target) });
  assert.equal(await cluster.leader(), target);
  const refused = await runCli(["transfer-leader", "--server", cluster.address(leader), "--to", "9"]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^loghouse: INVALID_ARGUMENT: node 9 cannot take over\n$/);
});

test("produce input splits the same however it arrives in chunks: a delimiter across two, pieces longer than a chunk, a last piece with none after it", async (t) => {
  const random = TestRandom.forTest(t);
  for (let round = 0; round < 50; round++) {
    const delimiter = Buffer.from(random.int(0, 2) === 0 ? "\n" : "\x1e\x1f\x1e");
    // Pieces of 0 to 300 bytes with no delimiter inside (bytes from 'a' to 'e'), one over 70 KiB now and then.
    const pieces = Array.from({ length: random.int(1, 60) }, () => Buffer.from(random.bytes(random.int(0, 10) === 0 ? 70_000 + random.int(0, 1000) : random.int(0, 300)).map((byte) => 0x61 + (byte % 5))));
    const lastDelimited = random.int(0, 2) === 0;
    const input = Buffer.concat(pieces.flatMap((piece) => [piece, delimiter]).slice(0, lastDelimited ? undefined : -1));
    async function* chunks(): AsyncGenerator<Buffer> {
      for (let at = 0; at < input.length; ) {
        // Mostly a few bytes, so that delimiters fall across two chunks; now and then more than a piece.
        const kind = random.int(0, 20);
        const size = kind < 14 ? random.int(1, 4) : kind < 19 ? random.int(1, 300) : random.int(1, 100_000);
        yield input.subarray(at, at + size);
        at += size;
      }
    }
    const split: Buffer[] = [];
    for await (const piece of splitRecords(chunks(), delimiter)) split.push(Buffer.from(piece));
    // A last piece with no delimiter after it is a record unless it is empty.
    const expected = pieces.filter((piece, i) => lastDelimited || i < pieces.length - 1 || piece.length > 0);
    assert.deepEqual(split.map((piece) => piece.toString()), expected.map((piece) => piece.toString()), `round ${round}`);
  }
});
