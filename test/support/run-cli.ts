// Runs the real `loghouse` binary once with arguments and stdin, collecting its exit code and output.
import { spawn } from "node:child_process";
import { BIN } from "./node-process.ts";

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  /** stdout as bytes, for binary output. */
  readonly stdoutBytes: Buffer;
  readonly stderr: string;
}

export function runCli(args: readonly string[], options: { input?: string | Buffer; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(BIN, args, { env: { ...process.env, ...options.env }, cwd: options.cwd });
    const stdout: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("close", (code) => {
      const bytes = Buffer.concat(stdout);
      resolve({ code, stdout: bytes.toString(), stdoutBytes: bytes, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}
