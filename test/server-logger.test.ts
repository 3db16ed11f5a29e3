// The node's log lines (pino): the format operators and tests parse (one JSON object per line with an
// ISO time, the level by name, msg and the fields; errors and bigints made JSON), the level
// threshold, and that a process exiting right after logging has printed every line.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { Writable } from "node:stream";
import { test } from "node:test";
import { DataLossError } from "../src/errors.ts";
import { jsonLogger } from "../src/server/logger.ts";

function captured(): { lines: () => Record<string, unknown>[]; stream: Writable } {
  let text = "";
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, lines: () => text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as Record<string, unknown>) };
}

test("a line is one JSON object with an ISO time, the level's name, msg, the base and the fields", () => {
  const output = captured();
  const logger = jsonLogger(output.stream, "info", { nodeId: 3 });
  logger.info("listening", { port: 8400, nextOffset: 12n });
  const [line] = output.lines();
  assert.equal(line!.level, "info");
  assert.equal(line!.msg, "listening");
  assert.equal(line!.nodeId, 3);
  assert.equal(line!.port, 8400);
  assert.equal(line!.nextOffset, "12");
  assert.equal(new Date(line!.time as string).toISOString(), line!.time);
});

test("errors keep name, message, code, stack and cause", () => {
  const output = captured();
  const logger = jsonLogger(output.stream);
  logger.error("read failed", { error: new DataLossError("checksum mismatch", { cause: new Error("segment 3") }) });
  const error = output.lines()[0]!.error as Record<string, unknown>;
  assert.equal(error.name, "DataLossError");
  assert.equal(error.message, "checksum mismatch");
  assert.equal(error.code, "DATA_LOSS");
  assert.match(String(error.stack), /checksum mismatch/);
  assert.equal((error.cause as Record<string, unknown>).message, "segment 3");
});

test("lines below the level are dropped", () => {
  const output = captured();
  const logger = jsonLogger(output.stream, "warn");
  logger.debug("one");
  logger.info("two");
  logger.warn("three");
  logger.error("four");
  assert.deepEqual(
    output.lines().map((line) => [line.level, line.msg]),
    [
      ["warn", "three"],
      ["error", "four"],
    ],
  );
});

test("a process that exits right after logging to stdout (a pipe) has printed every line", { timeout: 60_000 }, async () => {
  const lines = 20_000;
  const script = `import { jsonLogger } from "./src/server/logger.ts";
const logger = jsonLogger(undefined, "info");
for (let i = 0; i < ${lines}; i++) logger.info("line", { i, padding: "x".repeat(100) });
process.exit(0);`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: new URL("..", import.meta.url), stdio: ["ignore", "pipe", "inherit"] });
  let text = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
  const code = await new Promise((resolve) => child.once("close", resolve));
  assert.equal(code, 0);
  const printed = text.split("\n").filter((line) => line !== "");
  assert.equal(printed.length, lines);
  assert.equal((JSON.parse(printed.at(-1)!) as { i: number }).i, lines - 1);
});
