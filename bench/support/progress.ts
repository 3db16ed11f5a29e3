// A live progress line for long measurements: rewritten in place on a terminal, printed every few
// seconds otherwise (so CI logs show the run is alive without flooding them).
import { formatRate } from "./stats.ts";

export interface Progress {
  /** Adds to the count shown. */
  add(count: number): void;
  /** Ends the line with a summary. */
  done(summary: string): void;
}

export function progress(label: string, unit = "records"): Progress {
  const tty = process.stdout.isTTY === true;
  const started = performance.now();
  let count = 0;
  const show = (): void => {
    const seconds = (performance.now() - started) / 1000;
    const line = `  ${label}: ${count.toLocaleString()} ${unit} (${formatRate(count / Math.max(seconds, 1e-3))}/s)`;
    process.stdout.write(tty ? `\r${line.padEnd(100)}` : `${line}\n`);
  };
  const timer = setInterval(show, tty ? 250 : 5000);
  timer.unref();
  return {
    add: (n) => {
      count += n;
    },
    done: (summary) => {
      clearInterval(timer);
      process.stdout.write(tty ? `\r${`  ${label}: ${summary}`.padEnd(100)}\n` : `  ${label}: ${summary}\n`);
    },
  };
}
