// The HTTP/2 rapid reset (CVE-2023-44487, issue 9): while one client opens and resets ConsumeStream
// calls from offset 0 of a 200,000-record log as fast as the node reads them (for 20 s; set
// LOGHOUSE_RAPID_RESET_MS for a shorter local run), another client's health checks stay fast, the
// node's resident memory stays bounded, the attacking connections are sent GOAWAY with
// ENHANCE_YOUR_CALM, and afterwards the node answers at once. The node and the attacker are child
// processes, so that CPU, memory and event loops are each their own.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { startFilledNode } from "./support/filled-node.ts";
import type { RapidResetCounts } from "./support/rapid-reset-client.ts";
import { ERROR_CODE } from "./support/raw-http2.ts";
import { cleanup } from "./support/cleanup.ts";

const MIB = 1024 * 1024;
const ATTACK_MS = Number(process.env.LOGHOUSE_RAPID_RESET_MS ?? 20_000);
const RAPID_RESET_CLIENT = fileURLToPath(new URL("./support/rapid-reset-client.ts", import.meta.url));
const RECORDS = 200_000;
const HEALTH_P99_MS_MAX = 100;
const RSS_BYTES_MAX = 400 * MIB;
/** "At once" after the attack, with room for a busy two-core machine. */
const AFTER_ATTACK_MS_MAX = 250;

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]!;
}

test(`health checks stay fast and memory bounded through ${ATTACK_MS / 1000} s of ConsumeStream rapid resets`, { timeout: ATTACK_MS + 120_000 }, async (t) => {
  const { node, client } = await startFilledNode(t, RECORDS);
  await client.health.unary("check", { service: "" });

  const attacker = spawn(process.execPath, ["--import", "tsx", RAPID_RESET_CLIENT, String(node.port), String(ATTACK_MS)], { stdio: ["ignore", "pipe", "inherit"] });
  cleanup(t, () => attacker.kill("SIGKILL"));
  let output = "";
  attacker.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  let attacking = true;
  const attackEnded = new Promise<RapidResetCounts>((resolve, reject) =>
    attacker.once("exit", (code) => {
      attacking = false;
      if (code === 0) resolve(JSON.parse(output) as RapidResetCounts);
      else reject(new Error(`the rapid-reset client exited with ${code}`));
    }),
  );

  const latenciesMs: number[] = [];
  let rssBytesMax = 0;
  while (attacking) {
    const started = performance.now();
    const { status } = await client.health.unary("check", { service: "" });
    latenciesMs.push(performance.now() - started);
    assert.equal(status, 1, "SERVING");
    rssBytesMax = Math.max(rssBytesMax, node.rssBytes());
  }
  const counts = await attackEnded;

  const afterStarted = performance.now();
  await client.health.unary("check", { service: "" });
  const { endOffset } = await client.unary("getOffsets", {});
  const afterMs = performance.now() - afterStarted;

  latenciesMs.sort((a, b) => a - b);
  const p99 = percentile(latenciesMs, 0.99);
  t.diagnostic(
    `${counts.streamsReset} streams reset over ${counts.connections} connections in ${ATTACK_MS} ms; GOAWAY by code ${JSON.stringify(counts.goawaysByCode)}; ` +
      `${latenciesMs.length} health checks: p50 ${percentile(latenciesMs, 0.5).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${latenciesMs.at(-1)!.toFixed(1)} ms; ` +
      `RSS max ${(rssBytesMax / MIB).toFixed(0)} MB; after the attack ${afterMs.toFixed(1)} ms`,
  );
  assert.ok((counts.goawaysByCode[String(ERROR_CODE.enhanceYourCalm)] ?? 0) > 0, "the attacking connections were sent GOAWAY with ENHANCE_YOUR_CALM");
  assert.ok(latenciesMs.length >= ATTACK_MS / 1000, `only ${latenciesMs.length} health checks answered in ${ATTACK_MS} ms`);
  assert.ok(p99 < HEALTH_P99_MS_MAX, `health check p99 ${p99.toFixed(1)} ms under the attack (bound ${HEALTH_P99_MS_MAX})`);
  assert.ok(rssBytesMax < RSS_BYTES_MAX, `node RSS reached ${(rssBytesMax / MIB).toFixed(0)} MB (bound ${RSS_BYTES_MAX / MIB})`);
  assert.equal(endOffset, BigInt(RECORDS));
  assert.ok(afterMs < AFTER_ATTACK_MS_MAX, `the node took ${afterMs.toFixed(1)} ms to answer after the attack`);
});
