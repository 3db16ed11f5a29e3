// The package as a user gets it: `npm pack` of this checkout's committed and new files (copied aside
// first, so that packing regenerates and rebuilds nothing under the working tree that other tests and
// nodes are using) gives JavaScript in dist/, declarations and a prebuilt linux-x64 addon in
// prebuilds/; it is installed into an empty project from the npm cache
// (--prefer-offline: the dependencies are cached here). Then, from that project only: the installed
// `loghouse` answers --help fast, runs a node, and a Node script uses the client against it through
// `import "loghouse"` (type-checked against the shipped declarations), and serves the web console; without the prebuilt addon,
// `npm rebuild` compiles it from the shipped sources (the fallback elsewhere); a page importing
// `loghouse/web` is bundled by esbuild with no Node import in it and, where Chromium is installed
// (always in CI), talks to the node from the browser.
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { tmpdir } from "node:os";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { cleanup } from "./support/cleanup.ts";
import { startNode, stopNode } from "./support/node-process.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CHROMIUM = "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"];
const HELP_MS_MAX = 300;
const run = promisify(execFile);

describe("the packed package, installed into an empty project", { timeout: 600_000 }, () => {
  let project = "";
  let installed = "";
  let bin = "";
  let tarball = "";

  let work = "";

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "loghouse-package-"));
    const source = join(work, "source");
    const { stdout: files } = await run("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], { cwd: ROOT, maxBuffer: 16 << 20 });
    for (const file of files.split("\0").filter((name) => name !== "" && existsSync(join(ROOT, name)))) {
      await mkdir(dirname(join(source, file)), { recursive: true });
      await copyFile(join(ROOT, file), join(source, file));
    }
    await symlink(join(ROOT, "node_modules"), join(source, "node_modules"));
    const { stdout } = await run("npm", ["pack", "--pack-destination", work, "--silent"], { cwd: source, maxBuffer: 16 << 20, timeout: 300_000 });
    tarball = join(work, stdout.trim().split("\n").pop()!);
    project = join(work, "project");
    await mkdir(project);
    await writeFile(join(project, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", type: "module", private: true }));
    await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], { cwd: project, timeout: 300_000 });
    installed = join(project, "node_modules", "loghouse");
    bin = join(project, "node_modules", ".bin", "loghouse");
  });

  after(() => rm(work, { recursive: true, force: true }));

  test("ships JavaScript, declarations and a prebuilt addon, and needs no compiler at run time", () => {
    assert.ok(existsSync(join(installed, "dist", "cli", "main.js")));
    assert.ok(existsSync(join(installed, "dist", "index.d.ts")));
    assert.ok(existsSync(join(installed, "dist", "web.d.ts")));
    assert.deepEqual(readdirSync(join(installed, "prebuilds")), ["linux-x64"]);
    assert.equal(existsSync(join(installed, "src")), false);
    assert.equal(existsSync(join(installed, "build")), false, "the addon came prebuilt, not compiled at install");
    for (const devOnly of ["tsx", "typescript", "node-gyp", "esbuild"]) assert.equal(existsSync(join(project, "node_modules", devOnly)), false, devOnly);
  });

  test(`loghouse --help answers in under ${HELP_MS_MAX} ms`, (t) => {
    const timesMs = Array.from({ length: 5 }, () => {
      const started = performance.now();
      const result = spawnSync(bin, ["--help"], { encoding: "utf8" });
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /^usage: loghouse <command>/);
      return performance.now() - started;
    }).sort((a, b) => a - b);
    const startedNpx = performance.now();
    assert.equal(spawnSync("npx", ["loghouse", "--help"], { cwd: project }).status, 0);
    t.diagnostic(`loghouse --help: fastest ${timesMs[0]!.toFixed(0)} ms, median ${timesMs[2]!.toFixed(0)} ms; through npx ${(performance.now() - startedNpx).toFixed(0)} ms (npx itself starts npm)`);
    // The fastest of five runs: what the command costs, less what other processes on a shared machine took from it.
    assert.ok(timesMs[0]! < HELP_MS_MAX, `fastest of five runs ${timesMs[0]} ms`);
  });

  test("the installed loghouse runs a node, and a Node script uses the client through import \"loghouse\"", async (t) => {
    const node = await startNode(["--data-dir", join(project, "data"), "--listen", "127.0.0.1:0"], {}, project, bin);
    cleanup(t, () => stopNode(node));
    const script = `
      import { LoghouseClient, OffsetOutOfRangeError } from "loghouse";
      const client = new LoghouseClient(process.argv[2]);
      const producer = client.producer({ lingerMs: 1 });
      const offsets: bigint[] = await Promise.all([producer.send(Buffer.from("one")), producer.send(Buffer.from("two"))]);
      await producer.close();
      const values: string[] = [];
      for await (const record of client.consume({ from: 0n })) values.push(Buffer.from(record.value).toString());
      let outOfRange = false;
      try { await client.read(99n); } catch (error) { outOfRange = error instanceof OffsetOutOfRangeError; }
      client.close();
      console.log(JSON.stringify({ offsets: offsets.map(String), values, outOfRange }));
    `;
    await writeFile(join(project, "use.ts"), script);
    await writeFile(join(project, "use.mjs"), script.replace(/: bigint\[\]|: string\[\]/g, ""));
    await writeFile(
      join(project, "tsconfig.json"),
      JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", strict: true, noEmit: true, skipLibCheck: true, typeRoots: [join(ROOT, "node_modules", "@types")], types: ["node"] }, files: ["use.ts"] }),
    );
    await run(join(ROOT, "node_modules", ".bin", "tsc"), ["-p", project], { cwd: project });
    const { stdout } = await run(process.execPath, ["use.mjs", node.address], { cwd: project });
    assert.deepEqual(JSON.parse(stdout), { offsets: ["0", "1"], values: ["one", "two"], outOfRange: true });
    const { stdout: status } = await run(bin, ["status", "--server", node.address]);
    assert.equal(JSON.parse(status).endOffset, "2");
    // The web console ships in dist/console/ and the installed node serves it.
    const page = await fetch(`http://${node.address}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>Loghouse console<\/title>/);
    assert.equal((await fetch(`http://${node.address}/console/app.js`)).status, 200);
  });

  test("without a prebuilt addon for the platform, the package builds one from the sources it ships", async (t) => {
    const copy = join(work, "source-build");
    await mkdir(copy);
    await writeFile(join(copy, "package.json"), JSON.stringify({ name: "consumer-source-build", version: "1.0.0", type: "module", private: true }));
    await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], { cwd: copy, timeout: 300_000 });
    await rm(join(copy, "node_modules", "loghouse", "prebuilds"), { recursive: true });
    // npm 11 holds back dependencies' install scripts until allowed; `npm rebuild` runs loghouse's (node-gyp-build).
    await run("npm", ["rebuild", "loghouse"], { cwd: copy, timeout: 300_000 });
    assert.ok(existsSync(join(copy, "node_modules", "loghouse", "build", "Release", "loghouse_native.node")));
    const node = await startNode(["--data-dir", join(copy, "data"), "--listen", "127.0.0.1:0"], {}, copy, join(copy, "node_modules", ".bin", "loghouse"));
    cleanup(t, () => stopNode(node));
    assert.equal(node.lines.find((line) => line.msg === "listening")?.nextOffset, 0);
  });

  test("a page importing loghouse/web bundles with no Node import and talks to a node from Chromium", async (t) => {
    const pageDir = join(project, "page");
    await mkdir(pageDir, { recursive: true });
    await writeFile(
      join(pageDir, "page.ts"),
      `import { createLogClient, LogService } from "loghouse/web";
       const server = new URLSearchParams(location.search).get("server")!;
       const log = createLogClient(server, { protocol: "grpc-web" });
       (async () => {
         const { offset } = await log.produce({ record: { value: new TextEncoder().encode("from the page") } });
         const { record } = await createLogClient(server).consume({ offset });
         (window as any).result = { service: LogService.typeName, offset: String(offset), value: new TextDecoder().decode(record!.value) };
       })().catch((error) => ((window as any).result = { error: String(error) }));`,
    );
    const bundle = await build({ entryPoints: [join(pageDir, "page.ts")], absWorkingDir: project, bundle: true, format: "esm", platform: "browser", target: "es2022", write: false, logLevel: "silent" });
    const code = bundle.outputFiles[0]!.text;
    assert.doesNotMatch(code, /["']node:|require\(["'](http2|net|fs)["']\)/);
    if (!existsSync(CHROMIUM) && process.env.CI !== "true") return t.skip("chromium is not installed (apt-get install -y chromium)");
    const node = await startNode(["--data-dir", join(project, "web-data"), "--listen", "127.0.0.1:0"], {}, project, bin);
    cleanup(t, () => stopNode(node));
    const page = createServer((request, response) => {
      if (request.url?.startsWith("/page.js")) response.writeHead(200, { "content-type": "text/javascript" }).end(code);
      else response.writeHead(200, { "content-type": "text/html" }).end('<!doctype html><script type="module" src="/page.js"></script>');
    });
    await new Promise<void>((resolve) => page.listen(0, "127.0.0.1", resolve));
    cleanup(t, () => new Promise<void>((resolve) => page.close(() => resolve())));
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
    cleanup(t, () => browser.close());
    const tab = await browser.newPage();
    await tab.goto(`http://127.0.0.1:${(page.address() as AddressInfo).port}/?server=${encodeURIComponent(`http://${node.address}`)}`);
    await tab.waitForFunction(() => "result" in window, undefined, { timeout: 60_000 });
    assert.deepEqual(await tab.evaluate(() => (window as unknown as { result: unknown }).result), { service: "log.v1.Log", offset: "0", value: "from the page" });
  });
});
