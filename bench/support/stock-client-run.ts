// Runs one stock client process (grpc-js with proto-loader, or Python grpcio; no Loghouse code) for
// one trial and returns what it measured. Both clients print one JSON line with their calls, the
// seconds they ran, each call's latency and the CPU they spent.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";

export type StockClientKind = "grpc-js" | "python";

export interface StockClientResult {
  readonly calls: number;
  readonly seconds: number;
  readonly latenciesMs: number[];
  /** CPU the client process spent on the trial (user + system, all threads), in ms. */
  readonly cpuMs: number;
}

export interface StockClientSettings {
  readonly seconds: number;
  readonly recordBytes: number;
}

const run = promisify(execFile);
/** The system Python, which has grpcio from apt (a virtualenv's python may not). */
const PYTHON = "/usr/bin/python3";

/** Runs a `kind` client against `address` with its mode arguments (see the clients' headers). */
export async function runStockClient(kind: StockClientKind, address: string, modeArgs: readonly string[], settings: StockClientSettings): Promise<StockClientResult> {
  const common = ["--target", address, "--seconds", String(settings.seconds), "--record-bytes", String(settings.recordBytes), ...modeArgs];
  const { stdout } =
    kind === "grpc-js"
      ? await run(process.execPath, ["--import", "tsx", join(import.meta.dirname, "stock-grpc-js-client.ts"), ...common], { maxBuffer: 64 << 20 })
      : await run(PYTHON, [join(import.meta.dirname, "stock_grpc_client.py"), ...common], { maxBuffer: 64 << 20 });
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as StockClientResult;
}
