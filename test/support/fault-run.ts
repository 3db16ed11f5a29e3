// A fault run: a 3-node cluster of processes under continuous ingestion while nodes are SIGKILLed
// and restarted, paused with SIGSTOP and resumed, or restarted cleanly, and, with a network lab
// (network-lab.ts), partitioned: the leader or another node cut off, a link flapping, or one node's
// packets to a peer dropped. At the end every fault is healed, every node brought back, ingestion
// stops, and the checker compares every node with what was acknowledged. The schedule of faults
// comes from a seed, which the run reports so that a failure can be replayed (timings still vary
// with the machine). Used by the CI test (short) and by `npm run chaos` (long).
import { randomBytes } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { SeededRandom } from "../../src/raft/random.ts";
import type { NetworkLab } from "./network-lab.ts";
import type { DevCerts } from "./dev-certs.ts";
import { ProcessCluster } from "./process-cluster.ts";
import { securedClientOptions, securedNodeArgs } from "./secured-cluster.ts";
import { checkReplicas, type ReplicaReport } from "./replica-check.ts";
import { waitUntilAsync } from "./wait-until.ts";

export interface FaultRunOptions {
  readonly root: string;
  readonly durationMs: number;
  readonly seed: number;
  readonly writers?: number;
  /** Nodes run in this lab's namespaces and partitions join the faults. */
  readonly lab?: NetworkLab;
  /** Secure the cluster with these certificates (TLS, peers' mutual TLS, the sample ACL); without them a lab's nodes run --insecure. */
  readonly certs?: DevCerts;
  readonly onEvent?: (line: string) => void;
}

export interface FaultRunResult extends ReplicaReport {
  readonly faults: number;
  readonly faultsByKind: Readonly<Record<string, number>>;
  readonly attempts: number;
}

const IDS = [1, 2, 3];
/** A produce not answered in this long is given up on (it may still land: it is recorded if it does). */
const PRODUCE_PATIENCE_MS = 5_000;

type FaultKind = "SIGKILL" | "SIGSTOP" | "restart" | "isolate-leader" | "isolate-node" | "flap" | "one-way-drop";

export async function runFaults(options: FaultRunOptions): Promise<FaultRunResult> {
  const say = options.onEvent ?? (() => undefined);
  const random = new SeededRandom(options.seed);
  const between = (low: number, high: number): number => low + random.intBelow(high - low);
  const lab = options.lab;
  const { certs } = options;
  const cluster =
    certs === undefined
      ? new ProcessCluster(options.root, lab, lab === undefined ? [] : ["--insecure"])
      : new ProcessCluster(options.root, lab, (id) => securedNodeArgs(certs, id), await securedClientOptions(certs));
  const faultsByKind: Record<string, number> = {};
  let writing = true;
  let writers: Promise<void>[] = [];
  /** The partition in force (one at a time, healed by its own timer), if any. */
  let partition: Promise<void> | undefined;
  try {
    await cluster.start(1, { bootstrap: true });
    await cluster.start(2, { joinVia: 1 });
    await cluster.start(3, { joinVia: 1 });
    await cluster.voters(1, 3);
    const acknowledged = new Map<number, string>();
    let attempts = 0;
    const writer = async (): Promise<void> => {
      for (let turn = 0; writing; turn++) {
        const running = IDS.filter((id) => cluster.isRunning(id));
        const via = running[turn % Math.max(1, running.length)] ?? 1;
        const values = Array.from({ length: 1 + (turn % 20) }, () => randomBytes(24));
        attempts++;
        const produced = cluster
          .client(via)
          .produceBatch(values)
          .then((first) => {
            values.forEach((value, i) => acknowledged.set(Number(first) + i, value.toString("hex")));
            return true;
          })
          .catch(() => false);
        const answered = await Promise.race([produced, delay(PRODUCE_PATIENCE_MS, false)]);
        if (!answered) await delay(10);
      }
    };
    writers = Array.from({ length: options.writers ?? 3 }, writer);
    const kinds: FaultKind[] = ["SIGKILL", "SIGSTOP", "restart"];
    if (lab !== undefined) kinds.push("isolate-leader", "isolate-node", "flap", ...(lab.oneWay ? (["one-way-drop"] as const) : []));
    const deadline = Date.now() + options.durationMs;
    const paused = new Set<number>();
    let faults = 0;
    while (Date.now() < deadline) {
      await delay(between(300, 1500));
      const id = random.pick(IDS);
      let kind = random.pick(kinds);
      if (kind.startsWith("isolate") || kind === "flap" || kind === "one-way-drop") {
        if (partition !== undefined) continue;
        const target = kind === "isolate-leader" ? await cluster.leader(2_000).catch(() => id) : id;
        say(`${kind} ${target}`);
        partition = partitionFor(kind, target, lab!, random, between).finally(() => (partition = undefined));
      } else if (!cluster.isRunning(id)) {
        kind = "restart";
        say(`start ${id}`);
        if (lab?.isIsolated(id) === true) await partition;
        await cluster.start(id);
      } else if (kind === "SIGKILL") {
        say(`SIGKILL ${id}`);
        paused.delete(id);
        await cluster.signal(id, "SIGKILL");
        if (random.chance(0.5) && lab?.isIsolated(id) !== true) await cluster.start(id);
      } else if (kind === "SIGSTOP" && !paused.has(id)) {
        say(`SIGSTOP ${id}`);
        paused.add(id);
        await cluster.signal(id, "SIGSTOP");
        setTimeout(() => {
          paused.delete(id);
          void cluster.signal(id, "SIGCONT");
        }, between(200, 2500));
      } else {
        kind = "restart";
        say(`restart ${id}`);
        paused.delete(id);
        await cluster.signal(id, "SIGCONT");
        await cluster.signal(id, "SIGTERM");
        if (lab?.isIsolated(id) === true) await partition;
        await cluster.start(id);
      }
      faults++;
      faultsByKind[kind] = (faultsByKind[kind] ?? 0) + 1;
    }
    say("healing");
    await partition;
    lab?.healAll();
    for (const id of IDS) {
      await cluster.signal(id, "SIGCONT");
      if (!cluster.isRunning(id)) await cluster.start(id);
    }
    await waitUntilAsync("a leader after healing", () => cluster.leader().then(() => true), 60_000);
    writing = false;
    await Promise.all(writers);
    const replicas = await cluster.converged(IDS, acknowledged, 60_000);
    return { ...checkReplicas(acknowledged, replicas), faults, faultsByKind, attempts };
  } finally {
    writing = false;
    await partition?.catch(() => undefined);
    lab?.healAll();
    await cluster.stopAll();
    await Promise.all(writers);
  }
}

/** Applies a partition of `kind` around node `id` and resolves once it has healed by itself. */
async function partitionFor(kind: FaultKind, id: number, lab: NetworkLab, random: SeededRandom, between: (low: number, high: number) => number): Promise<void> {
  if (kind === "flap") {
    for (let flips = between(3, 8); flips > 0; flips--) {
      lab.isolate(id);
      await delay(between(50, 400));
      lab.restore(id);
      await delay(between(50, 400));
    }
    return;
  }
  if (kind === "one-way-drop") {
    lab.dropOneWay(id, random.pick(IDS.filter((other) => other !== id)));
    await delay(between(500, 4000));
    lab.allow(id);
    return;
  }
  lab.isolate(id);
  await delay(between(500, 4000));
  lab.restore(id);
}
