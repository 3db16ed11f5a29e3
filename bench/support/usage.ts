// `--help` for the benchmark scripts: print what the script does and its flags, and run nothing.

/** Call first thing: with --help or -h, prints `usage` and exits 0 before any measurement starts. */
export function exitOnHelp(usage: string): void {
  if (!process.argv.includes("--help") && !process.argv.includes("-h")) return;
  process.stdout.write(`${usage.trim()}\n`);
  process.exit(0);
}
