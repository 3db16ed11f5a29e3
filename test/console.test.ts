// The web console in real Chromium against a 3-node cluster of real processes: the page every node
// serves at / produces, tails and shows the members with their leader; the leader that served the
// page is SIGKILLed, more records are produced through the CLI to the new leader, and the page's
// tail, now following another node, shows every data record the cluster holds exactly once, in
// order. A node with TLS and an ACL answers the console once it is given a bearer token. Then the
// same console through nginx as a TLS-terminating reverse proxy in front of the three nodes. Screenshots go to test-artifacts/console/. Needs Debian's chromium and nginx (installed
// by .ci/run); skipped elsewhere when one is missing, but never in CI.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { spawn } from "node:child_process";
import { chromium, type Page } from "playwright-core";
import { cleanup } from "./support/cleanup.ts";
import { devCerts } from "./support/dev-certs.ts";
import { freePort } from "./support/free-port.ts";
import { ProcessCluster } from "./support/process-cluster.ts";
import { runCli } from "./support/run-cli.ts";
import { startTokenSecuredServer } from "./support/log-server.ts";
import { tempDir } from "./support/temp-dir.ts";
import { waitUntilAsync } from "./support/wait-until.ts";

const CHROMIUM = "/usr/bin/chromium";
const NGINX = "/usr/sbin/nginx";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"];
const ARTIFACTS = fileURLToPath(new URL("../test-artifacts/console/", import.meta.url));
const inCi = process.env.CI === "true";
const noChromium = !existsSync(CHROMIUM) && !inCi ? "chromium is not installed (apt-get install -y chromium)" : false;
const noNginx = noChromium || (!existsSync(NGINX) && !inCi ? "nginx is not installed (apt-get install -y nginx-light)" : false);

interface TailRow {
  offset: number;
  value: string;
}

/** Opens the console at `url` in a fresh Chromium; the page's uncaught errors fail the test at its end. */
async function openConsole(t: TestContext, url: string): Promise<Page> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  cleanup(t, () => browser.close());
  // Through the proxy the certificate is the test CA's, which the browser does not know.
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  cleanup(t, () => assert.deepEqual(errors, [], "errors in the page"));
  await page.goto(url);
  return page;
}

async function produceFromPage(page: Page, value: string): Promise<number> {
  await page.fill("#produce-value", value);
  await page.click("#produce-form button[type=submit]");
  const status = await waitUntilAsync(
    `the page to produce ${value}`,
    async () => {
      const text = await page.textContent("#produce-status");
      return text !== null && text !== "Producing…" ? text : undefined;
    },
    20_000,
  );
  const offset = /^Produced at offset (\d+)\.$/.exec(status);
  assert.ok(offset, status);
  return Number(offset[1]);
}

function tailRows(page: Page): Promise<TailRow[]> {
  return page.$$eval("#tail li", (rows) => rows.map((row) => ({ offset: Number(row.getAttribute("data-offset")), value: row.querySelector(".value")?.textContent ?? "" })));
}

/** Waits until the page's tail shows every one of `values`; returns all it shows. */
function tailShowing(page: Page, values: readonly string[], timeoutMs = 30_000): Promise<TailRow[]> {
  return waitUntilAsync(
    `the tail to show ${values.join(", ")}`,
    async () => {
      const rows = await tailRows(page);
      const shown = new Set(rows.map((row) => row.value));
      return values.every((value) => shown.has(value)) ? rows : undefined;
    },
    timeoutMs,
  );
}

/** Waits until the members table lists `count` members and names one leader (`expected`, if given); returns the leader's name. */
function leaderShown(page: Page, count: number, expected?: string): Promise<string> {
  return waitUntilAsync(
    `the page to show ${count} members and a leader`,
    async () => {
      const rows = await page.$$eval("#members tbody tr", (trs) => trs.map((tr) => ({ id: tr.getAttribute("data-id"), leader: tr.getAttribute("data-leader") === "true", cells: [...tr.children].map((cell) => cell.textContent) })));
      const leaders = rows.filter((row) => row.leader);
      const leader = leaders.length === 1 ? leaders[0]!.id! : undefined;
      return rows.length === count && (expected === undefined || leader === expected) ? leader : undefined;
    },
    30_000,
  );
}

async function screenshot(t: TestContext, page: Page, name: string): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  t.diagnostic(`screenshot: ${path}`);
}

async function startCluster(t: TestContext): Promise<ProcessCluster> {
  const cluster = new ProcessCluster(await tempDir(t));
  cleanup(t, () => cluster.stopAll());
  await cluster.form(3);
  return cluster;
}

describe("the web console", { concurrency: false }, () => {
  test("produces, tails and shows the members; the tail survives the SIGKILL of the leader that served it, with no gap and no repeat", { skip: noChromium, timeout: 180_000 }, async (t) => {
    const cluster = await startCluster(t);
    const leader = await cluster.leader();
    const page = await openConsole(t, `http://${cluster.address(leader)}/`);
    assert.equal(await page.title(), "Loghouse console");
    await leaderShown(page, 3, String(leader));
    assert.equal(await page.textContent("#members-cluster"), `, cluster ${(await cluster.client(leader).getServers()).clusterId}`);
    const before = ["page one", "page two", "page three"];
    for (const value of before) await produceFromPage(page, value);
    await tailShowing(page, before);
    // The sparkline reads the node's /metrics: a rate once it has two samples, or "no metrics" without them.
    await waitUntilAsync("the sparkline to show a rate", async () => /per second: (\d+ now|no metrics)/.test((await page.textContent("#throughput")) ?? ""));
    await screenshot(t, page, "cluster-before-failover");

    await cluster.signal(leader, "SIGKILL");
    const newLeader = await cluster.leader();
    const after = Array.from({ length: 5 }, (_, i) => `after failover ${i}`);
    // The CLI's produce may fail while no leader is elected; a failed attempt may still have been
    // appended, which is why the page is compared with what the cluster holds, not with this list.
    await waitUntilAsync("the CLI to produce through the new leader", async () => (await runCli(["produce", "--server", cluster.address(newLeader)], { input: `${after.join("\n")}\n` })).code === 0, 30_000);
    const rows = await tailShowing(page, after);
    await screenshot(t, page, "cluster-after-failover");
    const held = (await cluster.records(newLeader)).filter((record) => record.type === 0 && record.offset >= rows[0]!.offset);
    assert.deepEqual(
      rows,
      held.map((record) => ({ offset: record.offset, value: Buffer.from(record.value, "hex").toString() })),
      "the tail shows every data record once, in offset order",
    );
    assert.notEqual(await page.textContent("#node"), `http://${cluster.address(leader)}`, "the console moved to a live node");
    await leaderShown(page, 3, String(newLeader));
  });

  test("on a node with TLS and an ACL, works once given a bearer token, which the tab keeps", { skip: noChromium, timeout: 120_000 }, async (t) => {
    const token = "console-token-0123456789abcdef";
    const server = await startTokenSecuredServer(t, token);
    const page = await openConsole(t, `https://127.0.0.1:${server.address.port}/`);
    await waitUntilAsync("the tail to stop without a token", async () => (await page.textContent("#tail-status"))?.startsWith("Stopped: Unauthenticated"));
    await page.fill("#token", token);
    await page.click("#token-form button[type=submit]");
    await produceFromPage(page, "with a token");
    await tailShowing(page, ["with a token"]);
    await page.reload();
    assert.equal(await page.inputValue("#token"), token);
    await tailShowing(page, ["with a token"]);
    await screenshot(t, page, "secured-node");
  });

  test("works through nginx as a TLS-terminating reverse proxy in front of the cluster", { skip: noNginx, timeout: 180_000 }, async (t) => {
    const cluster = await startCluster(t);
    const proxy = await startNginx(t, [1, 2, 3].map((id) => cluster.address(id)));
    const page = await openConsole(t, `https://127.0.0.1:${proxy.port}/`);
    assert.equal(await page.textContent("#node"), `https://127.0.0.1:${proxy.port}`);
    await leaderShown(page, 3);
    const values = ["through the proxy 1", "through the proxy 2"];
    for (const value of values) await produceFromPage(page, value);
    // And a record produced elsewhere reaches the page's tail through the proxy too.
    assert.equal((await runCli(["produce", "--server", cluster.address(1)], { input: "from the CLI\n" })).code, 0);
    const rows = await tailShowing(page, [...values, "from the CLI"]);
    assert.deepEqual(rows.slice(-3).map((row) => row.value), [...values, "from the CLI"]);
    await screenshot(t, page, "through-nginx");

    // Paused, the tail shows nothing new; resumed, it continues where it stopped.
    await page.click("#pause");
    assert.equal(await page.getAttribute("#pause", "aria-pressed"), "true");
    assert.equal((await runCli(["produce", "--server", cluster.address(2)], { input: "while paused\n" })).code, 0);
    await waitUntilAsync("the pause to be reported", async () => (await page.textContent("#tail-status"))?.startsWith("Paused"));
    assert.ok(!(await tailRows(page)).some((row) => row.value === "while paused"));
    await page.click("#pause");
    await tailShowing(page, ["while paused"]);
    // A jump clears the tail and follows from the offset asked for.
    const second = rows.find((row) => row.value === values[1])!.offset;
    await page.fill("#jump-offset", String(second));
    await page.click("#jump-offset-form button[type=submit]");
    await waitUntilAsync("the tail to start at the offset jumped to", async () => (await tailRows(page))[0]?.offset === second);
    assert.deepEqual((await tailShowing(page, ["while paused"])).map((row) => row.value), [values[1], "from the CLI", "while paused"]);
    // A jump to a time starts at the first record created at or after it (the field has whole seconds).
    const createdMs = Date.parse((await page.getAttribute(`#tail li[data-offset="${second}"] time`, "datetime"))!);
    const fromMs = Math.floor(createdMs / 1000) * 1000;
    const last = (await tailRows(page)).at(-1)!.offset;
    await page.fill("#jump-offset", String(last));
    await page.click("#jump-offset-form button[type=submit]");
    await waitUntilAsync("the tail to hold the last record only", async () => (await tailRows(page)).length === 1);
    await page.fill("#jump-time", await page.evaluate((ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 19), fromMs));
    await page.click("#jump-time-form button[type=submit]");
    await waitUntilAsync("the tail to start at the time jumped to", async () => {
      const times = await page.$$eval("#tail li time", (elements) => elements.map((element) => Date.parse(element.getAttribute("datetime")!)));
      return times.length > 1 && times[0]! >= fromMs && times[0]! <= createdMs;
    });
    await tailShowing(page, [values[1]!, "while paused"]);
  });
});

/**
 * nginx with a temporary configuration: HTTPS on a free port with a dev certificate, proxying to
 * `upstreams` over plaintext HTTP/1.1 without buffering (server streams flow as they come). The
 * configuration's proxy part is the one the README shows.
 */
async function startNginx(t: TestContext, upstreams: readonly string[]): Promise<{ port: number }> {
  const certs = await devCerts(t);
  const dir = await tempDir(t);
  const port = await freePort();
  const config = `
worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  upstream loghouse {
${upstreams.map((address) => `    server ${address};`).join("\n")}
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${certs.path("node-1.pem")};
    ssl_certificate_key ${certs.path("node-1-key.pem")};
    location / {
      proxy_pass http://loghouse;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 1h;
    }
  }
}
`;
  await writeFile(join(dir, "nginx.conf"), config);
  const child = spawn(NGINX, ["-p", dir, "-c", join(dir, "nginx.conf"), "-g", "daemon off;"], { stdio: ["ignore", "inherit", "inherit"] });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  cleanup(t, async () => {
    child.kill("SIGTERM");
    await exited;
  });
  await waitUntilAsync(
    "nginx to listen",
    async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${await readFile(join(dir, "error.log"), "utf8").catch(() => "")}`);
      return fetch(`https://127.0.0.1:${port}/`).then(
        () => true,
        (error: Error) => (String((error.cause as Error | undefined)?.message ?? error).includes("ECONNREFUSED") ? false : true),
      );
    },
    20_000,
  );
  return { port };
}
