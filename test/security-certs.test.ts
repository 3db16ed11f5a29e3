// `loghouse certs`: what the development certificates say, checked with Node's own X509 parser.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { runCli } from "./support/run-cli.ts";
import { tempDir } from "./support/temp-dir.ts";

test("certs writes a CA, node certificates bound to their ids, client certificates and the sample ACL", async (t) => {
  const dir = await tempDir(t);
  const result = await runCli(["certs", dir, "--nodes", "1,loghouse-2", "--clients", "root,nobody"]);
  assert.equal(result.code, 0, result.stderr);
  const read = async (name: string): Promise<X509Certificate> => new X509Certificate(await readFile(join(dir, name)));
  const ca = await read("ca.pem");
  assert.ok(ca.ca);
  for (const [file, id] of [
    ["node-1.pem", "1"],
    ["node-loghouse-2.pem", "loghouse-2"],
  ] as const) {
    const node = await read(file);
    assert.ok(node.verify(ca.publicKey), file);
    assert.equal(node.subject, `CN=${id}`);
    assert.equal(node.subjectAltName, `IP Address:127.0.0.1, DNS:localhost, URI:urn:loghouse:node:${id}`);
    assert.ok(node.checkIP("127.0.0.1"));
  }
  for (const name of ["root", "nobody"]) {
    const client = await read(`${name}-client.pem`);
    assert.ok(client.verify(ca.publicKey));
    assert.equal(client.subject, `CN=${name}`);
    assert.match(await readFile(join(dir, `${name}-client-key.pem`), "utf8"), /^-----BEGIN PRIVATE KEY-----/);
  }
  assert.match(await readFile(join(dir, "model.conf"), "utf8"), /m = r\.sub == p\.sub && r\.obj == p\.obj && r\.act == p\.act/);
  assert.deepEqual((await readFile(join(dir, "policy.csv"), "utf8")).trim().split("\n"), [
    "p, root, *, produce",
    "p, root, *, consume",
    "p, root, *, admin",
    "p, 1, *, replicate",
    "p, 1, *, produce",
    "p, loghouse-2, *, replicate",
    "p, loghouse-2, *, produce",
  ]);
  const bad = await runCli(["certs", dir, "--clients", "../evil"]);
  assert.equal(bad.code, 2);
});
