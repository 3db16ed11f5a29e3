/**
 * Golden scenario tests for the Raft core (test/testdata/raft/*.txt). Each file is a script of
 * commands and their expected output. Regenerate after an intended change with
 *   REWRITE=1 npm test
 * and review the diff like code.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { formatScript, runScript } from "../src/sim/datadriven.ts";

const dir = join(import.meta.dirname, "testdata", "raft");
const rewrite = process.env["REWRITE"] === "1";

describe("raft scenarios", () => {
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".txt")).sort()) {
    it(file, () => {
      const path = join(dir, file);
      const { cases, actual } = runScript(readFileSync(path, "utf8"));
      if (rewrite) {
        writeFileSync(path, formatScript(cases, actual));
        return;
      }
      cases.forEach((c, k) => assert.equal(actual[k], c.expected, `${file}: command "${c.command}"`));
    });
  }
});
