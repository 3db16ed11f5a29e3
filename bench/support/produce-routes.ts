// Produce routed three ways into one running 3-node cluster, per record (unary Produce) and batched
// (ProduceBatch), the routes alternating run by run so that each sees the same machine, each round
// starting with the next route:
//
// - leader-aware, exactly-once: ClusterClient with every member's address, as shipped (an
//   idempotent producer: each call carries the client's producer id and a sequence, and the leader
//   proposes a batch mark record, stating the batch's span, ahead of the call's records);
// - leader-aware, at-most-once: the same client sending plain produces (no producer id), straight to
//   the leader: the route alone, without the idempotent producer's cost;
// - via a follower (forwarded): LoghouseClient, the one-node client, pointed at a follower and
//   sending plain produces. The follower's ReplicatedLog forwards each call (a single record as a
//   one-record batch) to the leader over the peer connection it already holds for Raft
//   (src/cluster/append-forwarding.ts: a ForwardRequest with the records encoded once into the
//   frame, the caller's remaining deadline and trace context), the leader appends it as its own
//   produce on its next event-loop turn, and the follower relays the answer: one more loopback
//   round trip and one more process's work per call. An idempotent produce is not forwarded (the
//   follower answers NOT_LEADER), so this route exists for plain produces only: it compares with
//   the at-most-once row, not the exactly-once one.
//
// Beside them, in the same run: one write + fdatasync of one record (a unary produce cannot beat it;
// a replicated one pays two of them in sequence, the leader's and then a follower's) and raw
// durable writes of the batch (fs.writeSync + fdatasync in a loop: the disk's batched ceiling). CPU
// per record is the three nodes' CPU time, and this process's (the client), over the records
// acknowledged; at a few hundred records/s it is mostly what the nodes spend anyway (heartbeats,
// gossip, pings), spread over few records.
//
// Back-of-the-envelope: a routed unary produce costs two fdatasyncs in sequence plus two loopback
// round trips (client to leader, leader to a follower and back); forwarding adds a third round trip
// through the follower, ≈ 0.2-0.5 ms at concurrency 1. Batched, the follower receives and re-frames
// every 1 MB batch on the same two cores the leader and the other follower use, so forwarding should
// cost a visible share of the rate (10-30%); exactly-once adds one mark record per call, within
// noise of at-most-once.
//
// It was not (issue 12): exactly-once ran at 0.56-0.73 of at-most-once at concurrency 1 (p50 +1.0-1.7
// ms) and 0.70-0.85 at 32. The mark is a run of its own (its own type), each node wrote a Ready's
// runs as one append each, and the log started writing the first at once, alone: every node paid
// two fdatasyncs in sequence per call (counted from /metrics). Appends made in the same turn now
// share one write (src/storage/group-commit.ts). Alternating runs on a quiet machine, the third
// round of each (earlier rounds still warming up): exactly-once 268/s at p50 3.51 ms against 361/s
// at 2.51 for at-most-once before; 410/s at 2.19 against 403/s at 2.29 after.
import { ClusterClient } from "../../src/client/cluster-client.ts";
import { LoghouseClient } from "../../src/client/client.ts";
import type { ProcessCluster } from "../../test/support/process-cluster.ts";
import { processCpuMs } from "../../test/support/proc-stats.ts";
import { progress } from "./progress.ts";
import { batchRecordsFor } from "./batch-records.ts";
import { measureRawWrites, measureSyncLatenciesMs } from "./raw-baseline.ts";
import { formatRate, median, percentile, printTable } from "./stats.ts";

export interface RouteSettings {
  readonly seconds: number;
  readonly runs: number;
  readonly recordBytes: number;
  /** Where the baselines write their scratch files (the disk the nodes use). */
  readonly scratchDir: string;
}

type RouteKey = "exactly-once" | "at-most-once" | "forwarded";

export interface RouteResult {
  readonly name: string;
  readonly shape: string;
  readonly route: RouteKey;
  readonly expectation: string;
  readonly recordsPerSecond: number;
  readonly latencyMsP50: number;
  readonly latencyMsP99: number;
  /** CPU time of the three nodes per record acknowledged, in µs. */
  readonly nodesCpuMicrosPerRecord: number;
  /** CPU time of this process (the client) per record acknowledged, in µs. */
  readonly clientCpuMicrosPerRecord: number;
  readonly runs: number[];
}

export interface RoutesReport {
  readonly leader: number;
  readonly follower: number;
  /** Whether the same node led before and after the trials (otherwise the follower row may have hit a leader). */
  readonly leaderKept: boolean;
  readonly fdatasyncMsP50: number;
  readonly rawDurableBatchRecordsPerSecond: number;
  readonly trials: RouteResult[];
}

/** What a trial's loops call: both clients have these. */
interface Producing {
  produce(value: Uint8Array): Promise<bigint>;
  produceBatch(values: readonly Uint8Array[]): Promise<bigint>;
}

interface Route {
  readonly key: RouteKey;
  readonly label: string;
  readonly client: Producing;
  readonly expectation: { readonly unary: string; readonly batch: string };
}

interface Shape {
  readonly kind: "unary" | "batch";
  readonly label: string;
  /** Concurrent loops, each with one call in flight. */
  readonly workers: number;
  readonly call: (client: Producing) => Promise<number>;
}

interface Measurement {
  readonly records: number;
  readonly seconds: number;
  readonly latenciesMs: number[];
  readonly nodesCpuMs: number;
  readonly clientCpuMs: number;
}

const BATCHES_IN_FLIGHT = 4;
const UNARY_CONCURRENCIES = [1, 32];

/** Runs the route × shape matrix on `cluster` (running, 3 nodes) and prints it with its baselines. */
export async function benchProduceRoutes(cluster: ProcessCluster, settings: RouteSettings): Promise<RoutesReport> {
  const leader = await cluster.leader();
  const follower = [1, 2, 3].find((id) => id !== leader)!;
  const addresses = [1, 2, 3].map((id) => cluster.address(id));
  const pids = [1, 2, 3].map((id) => cluster.pid(id)!);
  const exactlyOnce = new ClusterClient(addresses);
  const atMostOnce = new ClusterClient(addresses, { produceDelivery: "at-most-once" });
  const viaFollower = new LoghouseClient(cluster.address(follower));
  const routes: Route[] = [
    { key: "exactly-once", label: "leader-aware ClusterClient, exactly-once", client: exactlyOnce, expectation: { unary: "p50 ≈ 2 fdatasyncs + 2 round trips", batch: "≈ bench:server ProduceBatch on the leader" } },
    { key: "at-most-once", label: "leader-aware ClusterClient, at-most-once", client: atMostOnce, expectation: { unary: "within noise of exactly-once", batch: "within noise of exactly-once" } },
    { key: "forwarded", label: `LoghouseClient at follower ${follower} (forwarded)`, client: viaFollower, expectation: { unary: "p50 +0.2-0.5 ms over at-most-once", batch: "10-30% below at-most-once" } },
  ];
  const batchRecords = batchRecordsFor(settings.recordBytes);
  const value = Buffer.alloc(settings.recordBytes, 0x61);
  const batch = Array.from({ length: batchRecords }, () => value);
  const shapes: Shape[] = [
    ...UNARY_CONCURRENCIES.map((workers): Shape => ({ kind: "unary", label: `Produce (unary), concurrency ${workers}`, workers, call: async (client: Producing) => (await client.produce(value), 1) })),
    { kind: "batch", label: `ProduceBatch ${batchRecords} x ${settings.recordBytes} B, ${BATCHES_IN_FLIGHT} in flight`, workers: BATCHES_IN_FLIGHT, call: async (client) => (await client.produceBatch(batch), batchRecords) },
  ];
  try {
    const syncLatenciesMs = await measureSyncLatenciesMs(settings.scratchDir, settings.recordBytes, 1000);
    const raw = measureRawWrites(settings.scratchDir, settings.recordBytes, batchRecords, true, settings.seconds);
    console.log(`\nproduce routes into the 3-node cluster (leader node ${leader}), ${settings.seconds} s per run, ${settings.runs} runs, medians:`);
    const trials: RouteResult[] = [];
    for (const shape of shapes) {
      const measurements = routes.map((): Measurement[] => []);
      for (let run = 0; run < settings.runs; run++) {
        // Each round starts with the next route: the first runs fall on nodes still warming up
        // (exactly-once, always first, read 0.74-0.75 of at-most-once here where alternating runs on
        // warm nodes found parity).
        for (let k = 0; k < routes.length; k++) {
          const i = (run + k) % routes.length;
          const route = routes[i]!;
          measurements[i]!.push(await measure(`${shape.label}, ${route.label}`, route.client, shape, pids, settings.seconds));
        }
      }
      routes.forEach((route, i) => trials.push(summarise(shape, route, measurements[i]!)));
    }
    const leaderKept = (await cluster.leader()) === leader;
    const report = { leader, follower, leaderKept, fdatasyncMsP50: percentile(syncLatenciesMs, 0.5), rawDurableBatchRecordsPerSecond: raw.recordsPerSecond, trials };
    printRoutes(report, settings);
    return report;
  } finally {
    exactlyOnce.close();
    atMostOnce.close();
    viaFollower.close();
  }
}

/** One run of `shape` through `client`: records acknowledged, latency per call, and the CPU it cost. */
async function measure(label: string, client: Producing, shape: Shape, pids: readonly number[], seconds: number): Promise<Measurement> {
  const shown = progress(label);
  const latenciesMs: number[] = [];
  let records = 0;
  const nodesCpuBefore = pids.reduce((sum, pid) => sum + processCpuMs(pid), 0);
  const clientCpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const sent = performance.now();
      const count = await shape.call(client);
      latenciesMs.push(performance.now() - sent);
      records += count;
      shown.add(count);
    }
  };
  await Promise.all(Array.from({ length: shape.workers }, loop));
  const elapsed = (performance.now() - started) / 1000;
  const clientCpu = process.cpuUsage(clientCpuBefore);
  shown.done(`${formatRate(records / elapsed)} records/s`);
  return {
    records,
    seconds: elapsed,
    latenciesMs: latenciesMs.sort((a, b) => a - b),
    nodesCpuMs: pids.reduce((sum, pid) => sum + processCpuMs(pid), 0) - nodesCpuBefore,
    clientCpuMs: (clientCpu.user + clientCpu.system) / 1000,
  };
}

function summarise(shape: Shape, route: Route, measurements: readonly Measurement[]): RouteResult {
  const perRecordMicros = (ms: number, m: Measurement): number => (ms * 1000) / Math.max(1, m.records);
  return {
    name: `${shape.label}, ${route.label}`,
    shape: shape.label,
    route: route.key,
    expectation: route.expectation[shape.kind],
    recordsPerSecond: median(measurements.map((m) => m.records / m.seconds)),
    latencyMsP50: median(measurements.map((m) => percentile(m.latenciesMs, 0.5))),
    latencyMsP99: median(measurements.map((m) => percentile(m.latenciesMs, 0.99))),
    nodesCpuMicrosPerRecord: median(measurements.map((m) => perRecordMicros(m.nodesCpuMs, m))),
    clientCpuMicrosPerRecord: median(measurements.map((m) => perRecordMicros(m.clientCpuMs, m))),
    runs: measurements.map((m) => m.records / m.seconds),
  };
}

function printRoutes(report: RoutesReport, settings: RouteSettings): void {
  console.log(
    `\nbaselines, same run: one ${settings.recordBytes}-byte write + fdatasync p50 ${report.fdatasyncMsP50.toFixed(3)} ms; ` +
      `raw durable writes of ${batchRecordsFor(settings.recordBytes)} x ${settings.recordBytes} B: ${formatRate(report.rawDurableBatchRecordsPerSecond)} records/s`,
  );
  printTable(
    ["trial (latency per call)", "records/s", "p50 ms", "p99 ms", "nodes CPU µs/rec", "client CPU µs/rec", "expected"],
    report.trials.map((t) => [t.name, formatRate(t.recordsPerSecond), t.latencyMsP50.toFixed(3), t.latencyMsP99.toFixed(3), t.nodesCpuMicrosPerRecord.toFixed(2), t.clientCpuMicrosPerRecord.toFixed(2), t.expectation]),
  );
  for (const shape of new Set(report.trials.map((t) => t.shape))) {
    const of = (route: RouteKey): RouteResult => report.trials.find((t) => t.shape === shape && t.route === route)!;
    const [exactlyOnce, atMostOnce, forwarded] = [of("exactly-once"), of("at-most-once"), of("forwarded")];
    console.log(
      `${shape}: forwarded at ${(forwarded.recordsPerSecond / atMostOnce.recordsPerSecond).toFixed(2)}x the leader-aware rate (at-most-once), p50 ${signedMs(forwarded.latencyMsP50 - atMostOnce.latencyMsP50)}; ` +
        `exactly-once at ${(exactlyOnce.recordsPerSecond / atMostOnce.recordsPerSecond).toFixed(2)}x at-most-once, p50 ${signedMs(exactlyOnce.latencyMsP50 - atMostOnce.latencyMsP50)}`,
    );
  }
  if (!report.leaderKept) console.log(`note: the leader changed during the trials; the follower rows may have reached a leader directly`);
}

function signedMs(ms: number): string {
  return `${ms >= 0 ? "+" : ""}${ms.toFixed(3)} ms`;
}
