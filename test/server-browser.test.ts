// A browser (headless Chromium) as a client: a page served from another origin calls the node over
// Connect and gRPC-Web with fetch, through CORS and with no proxy: unary calls, the out-of-range
// status, and a server stream that follows the tail. Needs Debian's chromium (installed by
// .ci/run); skipped elsewhere when it is missing, but never in CI.
import { build } from "esbuild";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startLogServer, startTokenSecuredServer } from "./support/log-server.ts";
import { cleanup } from "./support/cleanup.ts";

const CHROMIUM = "/usr/bin/chromium";
const skip = !existsSync(CHROMIUM) && process.env.CI !== "true" ? "chromium is not installed (apt-get install -y chromium)" : false;
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"];

/** Loads the page (test/support/browser-page.ts) from another origin in Chromium against `serverUrl`; returns its results. */
async function runPage(t: import("node:test").TestContext, serverUrl: string, token?: string): Promise<Record<string, Record<string, unknown>>> {
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL("./support/browser-page.ts", import.meta.url))],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  const script = bundle.outputFiles[0]!.text;
  const page = createServer((request, response) => {
    if (request.url?.startsWith("/page.js")) {
      response.writeHead(200, { "content-type": "text/javascript" }).end(script);
    } else {
      response.writeHead(200, { "content-type": "text/html" }).end('<!doctype html><script type="module" src="/page.js"></script>');
    }
  });
  await new Promise<void>((resolve) => page.listen(0, "127.0.0.1", resolve));
  cleanup(t, () => new Promise<void>((resolve) => page.close(() => resolve())));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  cleanup(t, () => browser.close());
  // The node's certificate comes from a test CA the browser does not know.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const tab = await context.newPage();
  const pagePort = (page.address() as AddressInfo).port;
  const query = `server=${encodeURIComponent(serverUrl)}${token === undefined ? "" : `&token=${encodeURIComponent(token)}`}`;
  await tab.goto(`http://127.0.0.1:${pagePort}/?${query}`);
  await tab.waitForFunction(() => "loghouseResults" in window || "loghouseError" in window, undefined, { timeout: 60_000 });
  const error = await tab.evaluate(() => (window as unknown as { loghouseError?: string }).loghouseError);
  assert.equal(error, undefined, error);
  return (await tab.evaluate(() => (window as unknown as { loghouseResults: unknown }).loghouseResults)) as Record<string, Record<string, unknown>>;
}

function assertExercised(results: Record<string, Record<string, unknown>>): void {
  for (const name of ["connect-json", "connect-binary", "grpc-web"]) {
    assert.equal(results[name]!.consumed, `hello from ${name}`);
    assert.equal(results[name]!.outOfRange, "OutOfRange: offset out of range: 18446744073709551615");
    assert.deepEqual(results[name]!.tail, [`tail ${name}`]);
  }
}

test("Chromium calls the node over Connect and gRPC-Web from another origin", { skip, timeout: 120_000 }, async (t) => {
  const server = await startLogServer(t);
  assertExercised(await runPage(t, `http://127.0.0.1:${server.address.port}`));
});

test("Chromium calls a node with TLS and an ACL over HTTPS with a bearer token; without it, UNAUTHENTICATED", { skip, timeout: 120_000 }, async (t) => {
  const token = "browser-token-0123456789abcdef";
  const server = await startTokenSecuredServer(t, token);
  const results = await runPage(t, `https://localhost:${server.address.port}`, token);
  assertExercised(results);
  assert.equal(results.withoutToken, "Unauthenticated");
});
