// `loghouse certs DIR`: development certificates (a CA, one per node, one per client) and a sample
// ACL model and policy, for trying TLS, mutual TLS and authorization on one machine.
import { UsageError } from "../errors.ts";
import { writeDevCertificates } from "../security/dev-certificates.ts";
import { stringFlag, writeLine } from "./client-flags.ts";
import type { Flags } from "./commands.ts";

function listFlag(flags: Flags, name: string, fallback: readonly string[]): string[] {
  const text = stringFlag(flags, name);
  if (text === undefined) return [...fallback];
  const names = text.split(",").map((name) => name.trim());
  for (const entry of names) {
    // The name becomes a file name and a certificate CN: keep it to a safe alphabet.
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(entry)) throw new UsageError(`--${name} takes names of letters, digits, '.', '_' and '-', got ${JSON.stringify(entry)}`);
  }
  return names;
}

export async function certs(flags: Flags, positionals: readonly string[]): Promise<number> {
  if (positionals.length !== 1) throw new UsageError("certs takes one directory (see loghouse certs --help)");
  const nodes = listFlag(flags, "nodes", ["1", "2", "3"]);
  const clients = listFlag(flags, "clients", ["root", "nobody"]);
  const files = await writeDevCertificates(positionals[0]!, { nodes, clients });
  await writeLine(JSON.stringify({ dir: positionals[0], files }));
  return 0;
}
