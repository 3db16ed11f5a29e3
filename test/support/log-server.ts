// A Loghouse server in this process for a test: a fresh data directory, a free port, closed (and
// the directory removed) when the test ends; or one with TLS, the sample ACL and a bearer token.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TestContext } from "node:test";
import type { ServerConfigInput } from "../../src/server/config.ts";
import { LoghouseServer, type ServerOptions } from "../../src/server/server.ts";
import { devCerts } from "./dev-certs.ts";
import { tempDir } from "./temp-dir.ts";
import { cleanup } from "./cleanup.ts";

export async function startLogServer(t: TestContext, input: ServerConfigInput = {}, options: ServerOptions = {}): Promise<LoghouseServer> {
  const dataDir = input.dataDir ?? (await tempDir(t));
  const server = await LoghouseServer.start({ port: 0, ...input, dataDir }, options);
  cleanup(t, () => server.close());
  return server;
}

/** A server with TLS (dev certificates), the sample ACL and `token` mapped to root, for browsers. */
export async function startTokenSecuredServer(t: TestContext, token: string): Promise<LoghouseServer> {
  const certs = await devCerts(t);
  const tokensFile = join(certs.dir, "tokens.json");
  await writeFile(tokensFile, JSON.stringify({ [token]: "root" }));
  return startLogServer(t, {
    security: {
      tls: { certFile: certs.path("node-1.pem"), keyFile: certs.path("node-1-key.pem"), caFile: certs.path("ca.pem") },
      acl: { modelFile: certs.path("model.conf"), policyFile: certs.path("policy.csv") },
      tokensFile,
    },
  });
}

export function addressOf(server: LoghouseServer): string {
  return `127.0.0.1:${server.address.port}`;
}
