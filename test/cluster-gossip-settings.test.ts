// The gossip settings of `loghouse serve` (src/cli/serve.ts) and the gossip key file
// (src/security/gossip-key.ts), without starting a node: --join takes several addresses, the
// autopilot's flags have defaults and win over the environment and the config file, a config file's
// gossip section is validated, TLS without a gossip key is refused, and a key is 32 bytes raw or base64.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { resolveServeSettings } from "../src/cli/serve.ts";
import { InvalidConfigError, UsageError } from "../src/errors.ts";
import { readGossipKey } from "../src/security/gossip-key.ts";
import { tempDir } from "./support/temp-dir.ts";

test("--join takes several addresses; the autopilot's settings come from flags, then env, then the config file, then defaults", async (t) => {
  const dir = await tempDir(t);
  const config = join(dir, "config.json");
  await writeFile(config, JSON.stringify({ deadMemberTimeout: "5m", minVoters: 5, gossip: { probeIntervalMs: 200, probeTimeoutMs: 80 } }));
  const base = { "data-dir": join(dir, "data"), "node-id": "n-1" };

  const defaults = await resolveServeSettings({ ...base, join: "10.0.0.1:8400, 10.0.0.2:8400" }, {});
  assert.deepEqual(defaults.cluster?.join, ["10.0.0.1:8400", "10.0.0.2:8400"]);
  assert.deepEqual(defaults.cluster?.gossip, { keyFile: undefined, config: {}, deadMemberTimeoutMs: 60_000, minVoters: 3 });

  const fromFile = await resolveServeSettings({ ...base, bootstrap: true, config }, {});
  assert.deepEqual(fromFile.cluster?.gossip, { keyFile: undefined, config: { probeIntervalMs: 200, probeTimeoutMs: 80 }, deadMemberTimeoutMs: 300_000, minVoters: 5 });
  const fromEnv = await resolveServeSettings({ ...base, bootstrap: true, config }, { LOGHOUSE_DEAD_MEMBER_TIMEOUT: "2s", LOGHOUSE_MIN_VOTERS: "1", LOGHOUSE_GOSSIP_KEY: "key" });
  assert.deepEqual(fromEnv.cluster?.gossip, { keyFile: join(process.cwd(), "key"), config: { probeIntervalMs: 200, probeTimeoutMs: 80 }, deadMemberTimeoutMs: 2_000, minVoters: 1 });
  const fromFlags = await resolveServeSettings({ ...base, bootstrap: true, config, "dead-member-timeout": "1500ms", "min-voters": "2" }, { LOGHOUSE_MIN_VOTERS: "1" });
  assert.equal(fromFlags.cluster?.gossip.deadMemberTimeoutMs, 1_500);
  assert.equal(fromFlags.cluster?.gossip.minVoters, 2);
});

test("bad gossip settings are refused with a message naming them", async (t) => {
  const dir = await tempDir(t);
  const base = { "data-dir": join(dir, "data"), "node-id": "n-1", bootstrap: true };
  /** A bad value from a flag is a usage error (exit 2); from the environment or the config file, a configuration error. */
  const refused = async (flags: Record<string, unknown>, message: RegExp, file?: unknown, type: typeof InvalidConfigError | typeof UsageError = InvalidConfigError): Promise<void> => {
    let config: string | undefined;
    if (file !== undefined) {
      config = join(dir, `config-${randomBytes(4).toString("hex")}.json`);
      await writeFile(config, JSON.stringify(file));
    }
    await assert.rejects(resolveServeSettings({ ...base, ...flags, ...(config === undefined ? {} : { config }) }, {}), (error: unknown) => error instanceof type && message.test(error.message));
  };
  await refused({ "dead-member-timeout": "soon" }, /--dead-member-timeout must be a duration of at least 1s/, undefined, UsageError);
  // A plain number is milliseconds: "60" would remove a voter gossip thinks dead at once.
  await refused({ "dead-member-timeout": "60" }, /--dead-member-timeout must be a duration of at least 1s, such as 60s or 5m, got 60/, undefined, UsageError);
  await refused({ "min-voters": "0" }, /--min-voters must be from 1 to 99, got 0/, undefined, UsageError);
  await refused({ "min-voters": "99999999999999999999" }, /--min-voters must be from 1 to 99/, undefined, UsageError);
  await refused({}, /--min-voters must be from 1 to 99, got 0/, { minVoters: 0 });
  // A node alone does not use them yet, and still refuses bad values (before, it took them silently).
  await refused({ bootstrap: undefined, "min-voters": "abc" }, /min-voters/, undefined, UsageError);
  await refused({ bootstrap: undefined, "dead-member-timeout": "forever" }, /--dead-member-timeout must be a duration/, undefined, UsageError);
  await refused({ bootstrap: undefined }, /--dead-member-timeout must be a duration/, { deadMemberTimeout: "forever" });
  await refused({}, /unknown key in the config file's gossip: probeEveryMs/, { gossip: { probeEveryMs: 5 } });
  await refused({}, /probeTimeoutMs \(900\) must be below probeIntervalMs \(200\)/, { gossip: { probeIntervalMs: 200, probeTimeoutMs: 900 } });
  await refused({ "tls-cert": "cert.pem", "tls-key": "key.pem" }, /a cluster with TLS seals its gossip too: give --gossip-key FILE/);
});

test("a gossip key is 32 bytes, raw or base64; anything else is refused", async (t) => {
  const dir = await tempDir(t);
  const key = randomBytes(32);
  await writeFile(join(dir, "raw"), key);
  await writeFile(join(dir, "base64"), `${key.toString("base64")}\n`);
  await writeFile(join(dir, "short"), randomBytes(16).toString("base64"));
  assert.deepEqual(await readGossipKey(join(dir, "raw")), key);
  assert.deepEqual(await readGossipKey(join(dir, "base64")), key);
  await assert.rejects(readGossipKey(join(dir, "short")), /must hold 32 bytes, raw or base64/);
  await assert.rejects(readGossipKey(join(dir, "absent")), /cannot read the gossip key/);
});
