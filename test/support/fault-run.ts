// A fault run: a 3-node cluster of processes under continuous ingestion while nodes are SIGKILLed
// and restarted, paused with SIGSTOP and resumed, or restarted cleanly, at random. At the end every
// node is brought back, ingestion stops, and the checker compares every node with what was
// acknowledged. Used by the CI test (short) and by `npm run chaos` (long).
import { randomBytes, randomInt } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { ProcessCluster } from "./process-cluster.ts";
import { checkReplicas, type ReplicaReport } from "./replica-check.ts";
import { waitUntilAsync } from "./wait-until.ts";

export interface FaultRunOptions {
  readonly root: string;
  readonly durationMs: number;
  readonly writers?: number;
  readonly onEvent?: (line: string) => void;
}

export interface FaultRunResult extends ReplicaReport {
  readonly faults: number;
  readonly attempts: number;
}

const IDS = [1, 2, 3];

export async function runFaults(options: FaultRunOptions): Promise<FaultRunResult> {
  const say = options.onEvent ?? (() => undefined);
  const cluster = new ProcessCluster(options.root);
  let writing = true;
  let writers: Promise<void>[] = [];
  try {
    await cluster.start(1, { bootstrap: true });
    await cluster.start(2, { joinVia: 1 });
    await cluster.start(3, { joinVia: 1 });
    await cluster.voters(1, 3);
    const acknowledged = new Map<number, string>();
    let attempts = 0;
    const writer = async (): Promise<void> => {
      while (writing) {
        const running = IDS.filter((id) => cluster.isRunning(id));
        const via = running[randomInt(Math.max(1, running.length))] ?? 1;
        const values = Array.from({ length: randomInt(1, 20) }, () => randomBytes(24));
        attempts++;
        try {
          const first = Number(await cluster.client(via).produceBatch(values));
          values.forEach((value, i) => acknowledged.set(first + i, value.toString("hex")));
        } catch {
          await delay(10);
        }
      }
    };
    writers = Array.from({ length: options.writers ?? 3 }, writer);
    const deadline = Date.now() + options.durationMs;
    let faults = 0;
    const paused = new Set<number>();
    while (Date.now() < deadline) {
      await delay(randomInt(300, 1500));
      const id = IDS[randomInt(IDS.length)]!;
      faults++;
      const kind = randomInt(3);
      if (!cluster.isRunning(id)) {
        say(`start ${id}`);
        await cluster.start(id);
      } else if (kind === 0) {
        say(`SIGKILL ${id}`);
        paused.delete(id);
        await cluster.signal(id, "SIGKILL");
        if (randomInt(2) === 0) await cluster.start(id);
      } else if (kind === 1 && !paused.has(id)) {
        say(`SIGSTOP ${id}`);
        paused.add(id);
        await cluster.signal(id, "SIGSTOP");
        setTimeout(() => {
          paused.delete(id);
          void cluster.signal(id, "SIGCONT");
        }, randomInt(200, 2500));
      } else {
        say(`restart ${id}`);
        paused.delete(id);
        await cluster.signal(id, "SIGCONT");
        await cluster.signal(id, "SIGTERM");
        await cluster.start(id);
      }
    }
    say("healing");
    for (const id of IDS) {
      await cluster.signal(id, "SIGCONT");
      if (!cluster.isRunning(id)) await cluster.start(id);
    }
    await waitUntilAsync("a leader after healing", () => cluster.leader().then(() => true), 60_000);
    writing = false;
    await Promise.all(writers);
    const replicas = await cluster.converged(IDS, acknowledged, 60_000);
    return { ...checkReplicas(acknowledged, replicas), faults, attempts };
  } finally {
    writing = false;
    await cluster.stopAll();
    await Promise.all(writers);
  }
}
