// A fault run: a 3-node cluster of processes under continuous ingestion while nodes are SIGKILLed
// and restarted, paused with SIGSTOP and resumed, or restarted cleanly, and, with a network lab
// (network-lab.ts), partitioned: the leader or another node cut off, a link flapping, or one node's
// packets to a peer dropped. The writers are routing clients (ClusterClient) given every member's
// address, exactly-once (idempotent producers): a produce whose outcome is unknown is retried with
// the same producer id and sequence until it is acknowledged, within a deadline that outlasts the
// run. A following consumer, also a routing client, reads the log from the start throughout. At the
// end every fault is healed, every node brought back, ingestion stops, and the checker compares
// every node with what was acknowledged, and the consumer's stream with the nodes. The schedule of
// faults comes from a seed, which the run reports so that a failure can be replayed (timings still
// vary with the machine). Used by the CI test (short) and by `npm run chaos` (long).
import { randomBytes } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { ClusterClient } from "../../src/client/cluster-client.ts";
import type { ClientOptions } from "../../src/client/client.ts";
import { SeededRandom } from "../../src/raft/random.ts";
import type { NetworkLab } from "./network-lab.ts";
import type { DevCerts } from "./dev-certs.ts";
import { FollowingConsumer, type FollowReport } from "./following-consumer.ts";
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
  /** Produce calls made (each retried by its client until acknowledged or abandoned). */
  readonly attempts: number;
  /** Produce calls that failed for good, their outcome unknown (say, every member unreachable at once): none of their records counts as acknowledged. */
  readonly abandoned: number;
  /** Why calls were abandoned: error class → count. */
  readonly abandonedReasons: Readonly<Record<string, number>>;
  /** The first few abandoned calls' errors, with when they came (s since ingestion began). */
  readonly abandonedExamples: readonly string[];
  /** What the following consumer saw. */
  readonly follow: FollowReport;
}

const IDS = [1, 2, 3];
/** Beyond the run itself, how long healing, convergence and the last retries may take. */
const HEALING_MS = 180_000;
/** After a produce failed for good, the writer waits this long before its next (the cluster was unreachable). */
const WRITER_PAUSE_MS = 100;

type FaultKind = "SIGKILL" | "SIGSTOP" | "restart" | "isolate-leader" | "isolate-node" | "flap" | "one-way-drop";

export async function runFaults(options: FaultRunOptions): Promise<FaultRunResult> {
  const say = options.onEvent ?? (() => undefined);
  const random = new SeededRandom(options.seed);
  const between = (low: number, high: number): number => low + random.intBelow(high - low);
  const lab = options.lab;
  const { certs } = options;
  const clientOptions: ClientOptions = certs === undefined ? {} : await securedClientOptions(certs);
  const cluster =
    certs === undefined
      ? new ProcessCluster(options.root, lab, lab === undefined ? [] : ["--insecure"])
      : new ProcessCluster(options.root, lab, (id) => securedNodeArgs(certs, id), clientOptions);
  const faultsByKind: Record<string, number> = {};
  const abandonedReasons: Record<string, number> = {};
  const abandonedExamples: string[] = [];
  const clients: ClusterClient[] = [];
  /** A routing client of every member; its calls are retried until acknowledged, for longer than the run lasts. */
  const routingClient = (): ClusterClient => {
    const client = new ClusterClient(IDS.map((id) => cluster.address(id)), { ...clientOptions, callTimeoutMs: options.durationMs + HEALING_MS });
    clients.push(client);
    return client;
  };
  let writing = true;
  let writers: Promise<void>[] = [];
  let consumer: FollowingConsumer | undefined;
  /** The partition in force (one at a time, healed by its own timer), if any. */
  let partition: Promise<void> | undefined;
  try {
    await cluster.start(1, { bootstrap: true });
    await cluster.start(2, { joinVia: 1 });
    await cluster.start(3, { joinVia: 1 });
    await cluster.voters(1, 3);
    const acknowledged = new Map<number, string>();
    let attempts = 0;
    let abandoned = 0;
    const ingestionStarted = Date.now();
    // Each writer is a producer of its own (one id, one call in flight); single records go as Produce, more as ProduceBatch.
    const writer = async (client: ClusterClient): Promise<void> => {
      for (let turn = 0; writing; turn++) {
        const values = Array.from({ length: 1 + (turn % 20) }, () => randomBytes(24));
        attempts++;
        try {
          const first = values.length === 1 ? await client.produce(values[0]!) : await client.produceBatch(values);
          values.forEach((value, i) => acknowledged.set(Number(first) + i, value.toString("hex")));
        } catch (error) {
          abandoned++;
          const { name, message } = error as Error;
          abandonedReasons[name] = (abandonedReasons[name] ?? 0) + 1;
          if (abandonedExamples.length < 5) abandonedExamples.push(`${((Date.now() - ingestionStarted) / 1000).toFixed(1)} s: ${name}: ${message}`);
          await delay(WRITER_PAUSE_MS);
        }
      }
    };
    writers = Array.from({ length: options.writers ?? 3 }, () => writer(routingClient()));
    consumer = new FollowingConsumer(routingClient());
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
    const reference = [...replicas.values()].reduce((best, records) => (records.length > best.length ? records : best));
    const follow = await consumer.check(reference, acknowledged, 60_000);
    return { ...checkReplicas(acknowledged, replicas), faults, faultsByKind, attempts, abandoned, abandonedReasons, abandonedExamples, follow };
  } finally {
    writing = false;
    await consumer?.stop();
    await partition?.catch(() => undefined);
    lab?.healAll();
    await cluster.stopAll();
    await Promise.all(writers);
    for (const client of clients) client.close();
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
