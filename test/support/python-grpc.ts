// Debian's Python with grpcio and grpc_tools (gRPC's C core: the strictest common client), for tests
// that run a Python client against a node. Such tests skip where the packages are missing, but never
// in CI (.ci/run installs python3-grpcio and python3-grpc-tools).
import { execFile, execFileSync } from "node:child_process";

/** Debian's interpreter: the `python3` first on PATH may be another install without grpc. */
export const PYTHON = "/usr/bin/python3";

function pythonHasGrpc(): boolean {
  try {
    execFileSync(PYTHON, ["-c", "import grpc, grpc_tools"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A test's `skip` option: the reason when Python's grpc is missing outside CI, else false. */
export const pythonGrpcSkip: string | false =
  !pythonHasGrpc() && process.env.CI !== "true" ? "python3-grpcio and python3-grpc-tools are not installed (apt-get install -y python3-grpcio python3-grpc-tools)" : false;

/** Runs the Python script `file` with `args` and parses the JSON it prints. */
export async function runPythonJson(file: string, args: readonly string[]): Promise<Record<string, unknown>> {
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(PYTHON, [file, ...args], { timeout: 30_000 }, (error, out, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(out))),
  );
  return JSON.parse(stdout) as Record<string, unknown>;
}
