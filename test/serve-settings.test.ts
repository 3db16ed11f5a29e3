// The settings of `loghouse serve` that could otherwise weaken a node without a word: a join list
// from any source beside --bootstrap (a second cluster), a single node's data directory made a
// cluster member's (its records hidden), empty values (an empty data directory was the working
// one), LOGHOUSE_INSECURE's precedence, misspelt LOGHOUSE_* names, a scan too short to cut a torn
// batch, and identified callers with no ACL (every call allowed), each refused or reported.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { Writable } from "node:stream";
import { resolveServeSettings, unknownEnvironmentNames } from "../src/cli/serve.ts";
import { InvalidConfigError, UsageError } from "../src/errors.ts";
import { resolveServerConfig } from "../src/server/config.ts";
import { jsonLogger } from "../src/server/logger.ts";
import { LoghouseServer } from "../src/server/server.ts";
import { cleanup } from "./support/cleanup.ts";
import { devCerts } from "./support/dev-certs.ts";
import { tempDir } from "./support/temp-dir.ts";

const refusal = (message: RegExp) => (error: unknown) => error instanceof InvalidConfigError && message.test(error.message);

test("--bootstrap beside a join list from the environment or the config file is refused, as beside --join", async (t) => {
  const dir = await tempDir(t);
  const config = join(dir, "config.json");
  await writeFile(config, JSON.stringify({ join: "10.0.0.1:8400" }));
  const flags = { "data-dir": join(dir, "data"), "node-id": "b", bootstrap: true };
  // Before: the node bootstrapped a cluster of its own beside the one it was told to join.
  await assert.rejects(resolveServeSettings(flags, { LOGHOUSE_JOIN: "10.0.0.1:8400" }), refusal(/--bootstrap starts a new cluster and --join \(or LOGHOUSE_JOIN, or join in the config file\) enters one/));
  await assert.rejects(resolveServeSettings({ ...flags, config }, {}), refusal(/--bootstrap starts a new cluster/));
  // A member that has its state ignores --bootstrap: a seed node keeping it beside a shared LOGHOUSE_JOIN restarts.
  await mkdir(flags["data-dir"], { recursive: true });
  await writeFile(join(flags["data-dir"], "raft-state.json"), "{}");
  assert.deepEqual((await resolveServeSettings(flags, { LOGHOUSE_JOIN: "10.0.0.1:8400" })).cluster?.join, ["10.0.0.1:8400"]);
  await assert.rejects(resolveServeSettings({ ...flags, join: "10.0.0.1:8400" }, {}), refusal(/--bootstrap starts a new cluster/));
  // A malformed flag value is a usage error (exit 2); the same from the environment, a configuration error.
  const usage = (message: RegExp) => (error: unknown) => error instanceof UsageError && message.test(error.message);
  await assert.rejects(resolveServeSettings({ ...flags, bootstrap: undefined, join: " , " }, {}), usage(/--join must name at least one member/));
  await assert.rejects(resolveServeSettings({ ...flags, bootstrap: undefined }, { LOGHOUSE_JOIN: " , " }), refusal(/--join must name at least one member/));
  // Before: taken, and a member failed on it only after writing its state.
  await assert.rejects(resolveServeSettings({ ...flags, "advertise": "not an address" }, {}), usage(/advertise must be HOST:PORT/));
  await assert.rejects(resolveServeSettings(flags, { LOGHOUSE_ADVERTISE: "not an address" }), refusal(/advertise must be HOST:PORT/));
});

test("a single node's data directory is not made a cluster member's, whose log would not show its records", async (t) => {
  const dataDir = join(await tempDir(t), "data");
  await mkdir(dataDir);
  await writeFile(join(dataDir, "00000000000000000000.store"), "");
  for (const flags of [{ bootstrap: true }, { join: "10.0.0.1:8400" }]) {
    await assert.rejects(resolveServeSettings({ "data-dir": dataDir, "node-id": "a", ...flags }, {}), refusal(/holds a single node's log, which a cluster member would not serve/));
  }
  assert.equal((await resolveServeSettings({ "data-dir": dataDir }, {})).cluster, undefined, "as a single node it starts");
});

test("empty settings are refused, and LOGHOUSE_INSECURE is read like every setting: the first source that says", async (t) => {
  const dir = await tempDir(t);
  // Before: an empty data directory was the working directory.
  await assert.rejects(resolveServeSettings({}, { LOGHOUSE_DATA_DIR: "" }), refusal(/^LOGHOUSE_DATA_DIR is empty/));
  await assert.rejects(resolveServeSettings({ "data-dir": " " }, {}), (error: unknown) => error instanceof UsageError && /^--data-dir is empty/.test(error.message));
  const config = join(dir, "config.json");
  await writeFile(config, JSON.stringify({ insecure: true, dataDir: join(dir, "data") }));
  // Before: true if any source said true.
  assert.equal((await resolveServeSettings({ config }, { LOGHOUSE_INSECURE: "false" })).input.security?.insecure, false);
  assert.equal((await resolveServeSettings({ config }, {})).input.security?.insecure, true);
  assert.equal((await resolveServeSettings({ config, insecure: true }, { LOGHOUSE_INSECURE: "0" })).input.security?.insecure, true);
  await assert.rejects(resolveServeSettings({ config }, { LOGHOUSE_INSECURE: "yes" }), refusal(/LOGHOUSE_INSECURE must be true, 1, false or 0, got "yes"/));
});

test("environment variables that override the config file's values are picked out, for the node to report at start", async (t) => {
  // As in the container image, which sets LOGHOUSE_LISTEN, LOGHOUSE_DATA_DIR and LOGHOUSE_INSECURE.
  const dir = await tempDir(t);
  const config = join(dir, "config.json");
  await writeFile(config, JSON.stringify({ listen: "127.0.0.1:9000", dataDir: join(dir, "from-file"), logLevel: "warn", insecure: false }));
  const env = { LOGHOUSE_LISTEN: "127.0.0.1:8400", LOGHOUSE_DATA_DIR: join(dir, "from-env"), LOGHOUSE_LOG_LEVEL: "warn", LOGHOUSE_INSECURE: "true" };
  const settings = await resolveServeSettings({ config }, env);
  assert.equal(settings.input.port, 8400, "the environment still wins");
  assert.deepEqual(settings.overrides, [
    { variable: "LOGHOUSE_LISTEN", value: "127.0.0.1:8400", configFileValue: "127.0.0.1:9000" },
    { variable: "LOGHOUSE_DATA_DIR", value: join(dir, "from-env"), configFileValue: join(dir, "from-file") },
    { variable: "LOGHOUSE_INSECURE", value: "true", configFileValue: "false" },
  ]);
  // A flag is the user's own word: no report; nor where the two agree (LOGHOUSE_LOG_LEVEL above).
  assert.deepEqual((await resolveServeSettings({ config, listen: "127.0.0.1:7000", "data-dir": join(dir, "flag"), insecure: true }, env)).overrides, []);
});

test("LOGHOUSE_* names nothing reads are picked out, for the node to report at start", () => {
  const env = { LOGHOUSE_TLS_CERT_FILE: "/certs/node.pem", LOGHOUSE_TLS_CERT: "/certs/node.pem", LOGHOUSE_SERVER: "h:1", LOGHOUSE_INSECURE: "true", PATH: "/bin" };
  assert.deepEqual(unknownEnvironmentNames(env), ["LOGHOUSE_TLS_CERT_FILE"]);
});

test("a start-up scan too short to reach a torn batch's mark is refused, and so are unknown producer limits", () => {
  // Before: with a scan shorter than a batch, a torn batch at the end stayed, and its retry appended it again.
  assert.throws(() => resolveServerConfig({ producers: { scanRecordsMax: 0 } }), refusal(/producers.scanRecordsMax \(0\) must exceed limits.batchRecordsMax/));
  assert.throws(() => resolveServerConfig({ limits: { batchRecordsMax: 500 }, producers: { scanRecordsMax: 500 } }), refusal(/must exceed limits.batchRecordsMax \(500\)/));
  assert.ok(resolveServerConfig({ limits: { batchRecordsMax: 500 }, producers: { scanRecordsMax: 501 } }));
  assert.throws(() => resolveServerConfig({ producers: { producerMax: 1 } as never }), refusal(/unknown producers limit: producerMax/));
  assert.throws(() => resolveServerConfig({ limits: { toString: 1 } as never }), refusal(/unknown limit: toString/));
});

test("a node that identifies callers but has no ACL says at start that every call is allowed", async (t) => {
  const certs = await devCerts(t);
  let text = "";
  const output = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  const server = await LoghouseServer.start(
    { dataDir: join(await tempDir(t), "data"), port: 0, security: { tls: { certFile: certs.path("node-1.pem"), keyFile: certs.path("node-1-key.pem"), caFile: certs.path("ca.pem") } } },
    { logger: jsonLogger(output, "info") },
  );
  cleanup(t, () => server.close());
  const lines = text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as { level: string; msg: string; acl?: boolean });
  assert.ok(lines.some((line) => line.level === "warn" && /no ACL is set: every call is allowed/.test(line.msg)), text);
  assert.equal(lines.find((line) => line.msg === "listening")?.acl, false);
});

test("a config file's values of the wrong type, TLS files that are not PEM, and a key that does not fit its certificate are refused, naming them", async (t) => {
  const dir = await tempDir(t);
  const config = async (content: unknown): Promise<string> => {
    const file = join(dir, `config-${Math.random().toString(16).slice(2)}.json`);
    await writeFile(file, JSON.stringify(content));
    return file;
  };
  // Before: "UNEXPECTED: TypeError", and a string "true" for insecure was taken as false.
  await assert.rejects(resolveServeSettings({ config: await config({ dataDir: 5 }) }, {}), refusal(/dataDir in config file .* must be a string, got a number/));
  await assert.rejects(resolveServeSettings({ config: await config({ insecure: "true" }) }, {}), refusal(/insecure in config file .* must be a boolean, got a string/));
  await assert.rejects(resolveServeSettings({ config: await config({ join: ["10.0.0.1:8400"] }) }, {}), refusal(/join in config file .* must be a string, got an array/));
  const certs = await devCerts(t);
  const start = (tls: { certFile: string; keyFile: string; caFile: string | undefined }) => LoghouseServer.start({ dataDir: join(dir, "data"), port: 0, security: { tls } }, { logger: jsonLogger(new Writable({ write: (_chunk, _encoding, done) => done() })) });
  // Before: taken, and every client certificate was refused at connect.
  await assert.rejects(start({ certFile: certs.path("node-1.pem"), keyFile: certs.path("node-1-key.pem"), caFile: certs.path("policy.csv") }), refusal(/the TLS CA .*policy.csv is not a PEM certificate/));
  // Before: "UNEXPECTED: Error: error:05800074:x509 certificate routines::key values mismatch", naming no file.
  await assert.rejects(start({ certFile: certs.path("node-1.pem"), keyFile: certs.path("node-2-key.pem"), caFile: undefined }), refusal(/the TLS certificate .*node-1.pem and key .*node-2-key.pem cannot be used together/));
});
