// Waits for a condition with a bound, checking it after every short pause; never a bare sleep.
import { setTimeout as delay } from "node:timers/promises";

export async function waitUntil<T>(describe: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${describe}`);
    await delay(5);
  }
}

/** Like waitUntil, for a probe that is itself asynchronous (an RPC). */
export async function waitUntilAsync<T>(describe: string, probe: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${describe}`);
    await delay(20);
  }
}
