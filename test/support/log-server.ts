// A Loghouse server in this process for a test: a fresh data directory, a free port, closed (and
// the directory removed) when the test ends.
import type { TestContext } from "node:test";
import type { ServerConfigInput } from "../../src/server/config.ts";
import { LoghouseServer } from "../../src/server/server.ts";
import { tempDir } from "./temp-dir.ts";
import { cleanup } from "./cleanup.ts";

export async function startLogServer(t: TestContext, input: ServerConfigInput = {}): Promise<LoghouseServer> {
  const dataDir = input.dataDir ?? (await tempDir(t));
  const server = await LoghouseServer.start({ port: 0, ...input, dataDir });
  cleanup(t, () => server.close());
  return server;
}

export function addressOf(server: LoghouseServer): string {
  return `127.0.0.1:${server.address.port}`;
}
