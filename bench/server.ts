// Server benchmark: a node driven over loopback on its batch path and its per-record paths, beside
// the storage engine alone (appending the same records in this process, on the same disk) measured
// in the same run, so the ratio can be read on a noisy shared machine. Each trial runs --runs times
// (default 3) for --seconds each (default 3); the table shows medians. Setup (starting the node,
// connecting, building values) is never timed.
//
//   npm run bench:server [-- --server HOST:PORT] [--seconds 3] [--runs 3] [--record-bytes 100] [--tls]
//
// Without --server it starts a node (bin/loghouse.js) on a temporary directory and also reports the
// node's peak resident memory. With --tls it also starts a secured node (TLS, client certificates,
// the sample ACL) and runs the batch path and unary Produce against it beside the plaintext node, in
// the same run (expected: TLS costs a few percent of a batch, AES-GCM being ~1 GB/s per core, and
// tens of µs per unary call). Results go to bench/results/server-<time>.json.
//
// Back-of-the-envelope (DESIGN.md §3, bench/server-frameworks.ts): storage alone takes 2-4 million
// durable 100-byte records/s in 10,000-record (1 MB) batches, the producer's default batch size,
// at ≈ 0.3 µs of CPU per record; the batch path adds ≈ 0.35 µs per record in the client (encode,
// HTTP/2) and ≈ 0.3 µs in the node (HTTP/2, decode, garbage), so on two shared cores it should keep
// about half of storage alone. A per-record stream message costs ≈ 20 µs of server CPU (ProduceStream: 40-60k/s), a
// ConsumeStream message ≈ 7 µs (100k+/s, client-bound); a unary Produce is one fsync (0.4-0.6 ms)
// plus ≈ 0.2 ms of RPC.
//
// Where a ProduceBatch's node time goes (issue 12; node --cpu-prof under 4 calls of 10,000 x 100 B in
// flight, read with bench/support/cpu-profile-summary.ts, on the shared 2-core machine): the main
// thread is busy ≈ 5.3 ms per call, 0.53 µs per record (6.2 ms when every value was decoded into a
// view and packed again before framing). A third of it is garbage collection, driven by the ≈ 3 MB
// each call allocates outside the heap (the HTTP/2 chunks, the message assembled from them, the
// frames): --trace-gc shows a mark-compact of a 16 MB heap every ≈ 50 ms for "external memory
// pressure". The views the old decode made (10,000 young objects per call) had V8 scavenge often,
// and a scavenge frees the young buffers cheaply: over 6 s of load the old node ran ≈ 130
// scavenges and 25 mark-compacts (≈ 200 ms), the gathered one ≈ 25 and 110-135 (≈ 600 ms, plus
// their concurrent marking on the second core). So the 0.9 ms less work per call did not raise the
// batch rate here (what did is below: reusing that memory, and a larger old generation). Besides
// the collector: framing and checksumming the values ≈ 0.7 ms (the
// frames' allocation included), the segment's walk of the frames before its write ≈ 0.4 ms,
// assembling the message from its chunks ≈ 0.3 ms, decoding it ≈ 0.2 ms, the checks ≈ 0.1 ms. The
// client spends 0.3-0.35 µs per record of CPU beside it (0.35-0.43 in the same runs when each batch
// request took new memory: src/buffer-pool.ts), so on two cores the batch path is bound by
// CPU (client and node together), while storage alone is bound by its fsyncs: the ratio between
// them moves with whatever else the machine runs.
//
// The collections themselves (issue 12, --trace-gc of a node under the same load): V8 counts the
// memory outside the heap that each call passes through (the HTTP/2 chunks, the request assembled
// from them, the frames) against the old generation's allocation limit, which for a heap of 13 MB is
// small. So the node ran a full mark-compact every ≈ 30 ms (195-212 in 8 s), half of its main
// thread. Reusing the frames' memory (src/buffer-pool.ts) took the node's CPU per record down by a
// tenth; an initial old space of 64 MiB (bin/loghouse.js) took the collections to ≈ 64 in 8 s and
// the batch path from ≈ 2.3M to 2.5-2.8M records/s on this machine (128 MiB: 30-33 collections,
// 2.8-3.0M, but 120 MB more memory under an HTTP/2 rapid reset; 256 MiB: no better).
import * as grpc from "@grpc/grpc-js";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { LoghouseClient } from "../src/client/client.ts";
import { grpcServiceDefinition } from "../src/client/grpc-definition.ts";
import { Log as LogService } from "../src/gen/log/v1/log_pb.ts";
import { writeDevCertificates } from "../src/security/dev-certificates.ts";
import { Log } from "../src/storage/index.ts";
import { startNode, stopNode, type NodeProcess } from "../test/support/node-process.ts";
import { processCpuMs } from "../test/support/proc-stats.ts";
import { batchRecordsFor } from "./support/batch-records.ts";
import { measureSyncLatenciesMs } from "./support/raw-baseline.ts";
import { progress } from "./support/progress.ts";
import { writeResults } from "./support/results.ts";
import { flag, formatRate, median, percentile, printTable } from "./support/stats.ts";
import { barsPanel, chart, percentilesPanel } from "./support/svg-chart.ts";
import { exitOnHelp } from "./support/usage.ts";

exitOnHelp(`
usage: npm run bench:server [-- --server HOST:PORT [--server-pids PID,...] [--tls-ca FILE --tls-cert FILE --tls-key FILE]] [--seconds 3] [--runs 3] [--record-bytes 100] [--tls]

A node driven over loopback on its batch and per-record paths, beside the storage engine alone in
the same run. Without --server it starts a node on a temporary directory; with it, --server-pids
names the processes serving it (a cluster's nodes) whose CPU per record is reported, summed. --tls also starts a node
with TLS, client certificates and the sample ACL, and measures its batch path and unary Produce
beside the plaintext node's. Results and a chart go to
bench/results/server-<time>.json and .svg.
`);

const seconds = flag("seconds", 3);
const runs = flag("runs", 3);
const recordBytes = flag("record-bytes", 100);
const BATCH_RECORDS = batchRecordsFor(recordBytes);
const BATCHES_IN_FLIGHT = 4;
const serverFlag = process.argv.includes("--server") ? process.argv[process.argv.indexOf("--server") + 1] : undefined;
const tlsFlag = process.argv.includes("--tls");
const stringFlag = (name: string): string | undefined => (process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1] : undefined);
/** With --server: the processes that serve it (a cluster's nodes), whose CPU is summed per record. */
const serverPids = stringFlag("server-pids")?.split(",").map(Number);
if (serverPids?.some((pid) => !(Number.isSafeInteger(pid) && pid > 0)) === true) throw new Error(`--server-pids takes process ids separated by commas, got ${stringFlag("server-pids")}`);
if (serverPids !== undefined && serverFlag === undefined) throw new Error("--server-pids names the processes serving --server; without --server the node is started here and measured");
/** With --server and --tls-ca (and --tls-cert, --tls-key): the node runs TLS, and the clients speak it with that certificate. */
const clientTls = stringFlag("tls-ca") === undefined ? undefined : { ca: readFileSync(stringFlag("tls-ca")!), cert: readFileSync(stringFlag("tls-cert")!), key: readFileSync(stringFlag("tls-key")!) };

interface Measurement {
  readonly records: number;
  readonly seconds: number;
  /** Per call or per record, in ms (empty when a trial has no meaningful latency). */
  readonly latenciesMs: number[];
}

interface Trial {
  readonly name: string;
  readonly expectation: string;
  readonly run: () => Promise<Measurement>;
  /** The processes doing the trial's server work (the node, a cluster's nodes, or this process for storage alone), whose CPU per record is reported, summed. */
  readonly pids?: readonly number[];
}

interface TrialResult {
  readonly name: string;
  readonly expectation: string;
  readonly recordsPerSecond: number;
  readonly megabytesPerSecond: number;
  readonly latencyMsP50: number | null;
  readonly latencyMsP99: number | null;
  /** CPU of the serving processes per record, summed, in µs (null when it cannot be read: a --server node without --server-pids). */
  readonly cpuMicrosPerRecord: number | null;
  /** CPU of this process (the client) per record, in µs; null for storage alone, where this process is the server. */
  readonly clientCpuMicrosPerRecord: number | null;
  readonly runs: number[];
}

type GenericClient = grpc.Client & Record<string, (...args: never[]) => unknown>;

function value(): Buffer {
  return Buffer.alloc(recordBytes, 0x61);
}

/** Runs `loop` from `workers` concurrent loops until the deadline; each loop iteration reports its records. */
async function timed(label: string, workers: number, loop: (record: (count: number, latencyMs?: number) => void, deadline: number) => Promise<void>): Promise<Measurement> {
  const shown = progress(label);
  const latenciesMs: number[] = [];
  let records = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: workers }, () =>
      loop((count, latencyMs) => {
        records += count;
        shown.add(count);
        if (latencyMs !== undefined) latenciesMs.push(latencyMs);
      }, deadline),
    ),
  );
  const elapsed = (performance.now() - started) / 1000;
  shown.done(`${formatRate(records / elapsed)} records/s`);
  return { records, seconds: elapsed, latenciesMs };
}

function storageOnly(root: string): Trial {
  return {
    name: `storage only: append ${BATCH_RECORDS} x ${recordBytes} B, ${BATCHES_IN_FLIGHT} appenders, fsync`,
    expectation: "the baseline",
    run: async () => {
      const dir = mkdtempSync(join(root, "storage-"));
      const log = await Log.open(dir);
      const values = Array.from({ length: BATCH_RECORDS }, value);
      try {
        return await timed("storage only", BATCHES_IN_FLIGHT, async (record, deadline) => {
          while (performance.now() < deadline) {
            const sent = performance.now();
            await log.append(values);
            record(values.length, performance.now() - sent);
          }
        });
      } finally {
        await log.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function produceBatch(client: LoghouseClient): Trial {
  return {
    name: `ProduceBatch ${BATCH_RECORDS} x ${recordBytes} B, ${BATCHES_IN_FLIGHT} in flight`,
    expectation: ">= 300k/s and >= 50% of storage only",
    run: () => {
      const values = Array.from({ length: BATCH_RECORDS }, value);
      return timed("ProduceBatch", BATCHES_IN_FLIGHT, async (record, deadline) => {
        while (performance.now() < deadline) {
          const sent = performance.now();
          await client.produceBatch(values);
          record(values.length, performance.now() - sent);
        }
      });
    },
  };
}

function producer(client: LoghouseClient): Trial {
  return {
    name: `Producer.send per record (linger 2 ms, 1 MiB batches, 1 in flight)`,
    expectation: "most of ProduceBatch: one promise per record on top",
    run: async () => {
      const batching = client.producer({ lingerMs: 2, batchBytesMax: 1 << 20, bufferBytesMax: 8 << 20 });
      const payload = value();
      const measurement = await timed("Producer.send", 1, async (record, deadline) => {
        while (performance.now() < deadline) {
          const sent = performance.now();
          void batching.send(payload).then(() => record(1, performance.now() - sent));
          if (batching.full) await batching.drained();
        }
      });
      await batching.close();
      return measurement;
    },
  };
}

function consumeBatchStream(client: LoghouseClient): Trial {
  return {
    name: "ConsumeBatchStream via the client's consumeBatches()",
    expectation: ">= 1M/s",
    run: () =>
      timed("ConsumeBatchStream", 1, async (record, deadline) => {
        const { endOffset } = await client.offsets();
        // Reads from the start to the end as it was, again and again until the deadline.
        while (performance.now() < deadline) {
          for await (const records of client.consumeBatches({ from: "start", follow: true })) {
            record(records.length);
            const last = records[records.length - 1]!.offset;
            if (performance.now() >= deadline || last + 1n >= endOffset) break;
          }
        }
      }),
  };
}

function consumeBatch(client: LoghouseClient, lowestOffset: bigint): Trial {
  return {
    name: "ConsumeBatch fetches of 4,000 records, one at a time",
    expectation: "~1M/s: one round trip per 4,000 records",
    run: () =>
      timed("ConsumeBatch", 1, async (record, deadline) => {
        for (let at = lowestOffset; performance.now() < deadline; ) {
          const sent = performance.now();
          const answer = await client.readBatch(at, { maxRecords: 4000 });
          record(answer.records.length, performance.now() - sent);
          at = answer.nextOffset < answer.endOffset ? answer.nextOffset : lowestOffset;
        }
      }),
  };
}

function produceStream(log: GenericClient): Trial {
  return {
    name: `ProduceStream, one record per message, 1 stream`,
    expectation: ">= 20k/s (acks pipelined)",
    run: () =>
      timed("ProduceStream", 1, async (record, deadline) => {
        const call = (log.produceStream as unknown as () => grpc.ClientDuplexStream<object, unknown>)();
        const sentAt: number[] = [];
        const unackedMax = 5000;
        let acked = 0;
        let wake: (() => void) | undefined;
        call.on("data", () => {
          record(1, performance.now() - sentAt[acked++]!);
          if (sentAt.length - acked <= unackedMax / 2 || acked === sentAt.length) wake?.();
        });
        const failed = new Promise<never>((_, reject) => call.on("error", reject));
        const message = { record: { value: value() } };
        // Keeps up to unackedMax records in flight: the stream never waits for one record's fsync.
        while (performance.now() < deadline) {
          sentAt.push(performance.now());
          const more = call.write(message);
          if (!more) await new Promise((resolve) => call.once("drain", resolve));
          if (sentAt.length - acked > unackedMax) await Promise.race([new Promise<void>((resolve) => (wake = resolve)), failed]);
        }
        while (acked < sentAt.length) await Promise.race([new Promise<void>((resolve) => (wake = resolve)), failed]);
        call.end();
      }),
  };
}

function consumeStream(log: GenericClient, lowestOffset: bigint): Trial {
  return {
    name: "ConsumeStream, one record per message",
    expectation: ">= 50k/s",
    run: () =>
      timed("ConsumeStream", 1, async (record, deadline) => {
        const call = (log.consumeStream as unknown as (r: object) => grpc.ClientReadableStream<unknown>)({ offset: lowestOffset });
        const stop = setTimeout(() => call.cancel(), deadline - performance.now());
        await new Promise<void>((resolve) => {
          let pending = 0;
          call.on("data", () => {
            if (++pending < 1000) return;
            record(pending);
            pending = 0;
            if (performance.now() >= deadline) call.cancel();
          });
          call.on("error", () => resolve());
        });
        clearTimeout(stop);
      }),
  };
}

function unaryProduce(client: LoghouseClient, concurrency: number): Trial {
  return {
    name: `Produce (unary), concurrency ${concurrency}`,
    expectation: concurrency === 1 ? "p50 <= 1 ms including the fsync" : "group commit: many calls per fsync",
    run: () => {
      const payload = value();
      return timed(`Produce c=${concurrency}`, concurrency, async (record, deadline) => {
        while (performance.now() < deadline) {
          const sent = performance.now();
          await client.produce(payload);
          record(1, performance.now() - sent);
        }
      });
    },
  };
}

function summarise(trial: Trial, measurements: Measurement[], cpuMicrosPerRecord: number[], clientCpuMicrosPerRecord: number[]): TrialResult {
  const rates = measurements.map((m) => m.records / m.seconds);
  const latencies = measurements.map((m) => [...m.latenciesMs].sort((a, b) => a - b));
  const hasLatency = latencies.every((l) => l.length > 0);
  const recordsPerSecond = median(rates);
  return {
    name: trial.name,
    expectation: trial.expectation,
    recordsPerSecond,
    megabytesPerSecond: (recordsPerSecond * recordBytes) / 1e6,
    latencyMsP50: hasLatency ? median(latencies.map((l) => percentile(l, 0.5))) : null,
    latencyMsP99: hasLatency ? median(latencies.map((l) => percentile(l, 0.99))) : null,
    cpuMicrosPerRecord: cpuMicrosPerRecord.length === 0 ? null : median(cpuMicrosPerRecord),
    clientCpuMicrosPerRecord: trial.pids?.includes(process.pid) === true ? null : median(clientCpuMicrosPerRecord),
    runs: rates,
  };
}

/** Samples a node's resident memory until stopped; resolves with the peaks (total and anonymous) in bytes. */
function sampleRss(node: NodeProcess | undefined): { stop(): { rss: number; anon: number } } {
  const peak = { rss: 0, anon: 0 };
  const sample = (): void => {
    if (node === undefined) return;
    try {
      peak.rss = Math.max(peak.rss, node.rssBytes());
      peak.anon = Math.max(peak.anon, node.rssAnonBytes());
    } catch {
      // the node has exited
    }
  };
  const timer = setInterval(sample, 100);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

/** Runs the trials `runs` times each, one after the other in every round; returns their summaries in order. */
async function alternate(trials: readonly Trial[]): Promise<TrialResult[]> {
  const measurements = trials.map((): Measurement[] => []);
  const cpu = trials.map((): number[] => []);
  const clientCpu = trials.map((): number[] => []);
  for (let run = 0; run < runs; run++) {
    for (const [i, trial] of trials.entries()) {
      const cpuBefore = serversCpuMs(trial);
      const clientBefore = process.cpuUsage();
      const measurement = await trial.run();
      const client = process.cpuUsage(clientBefore);
      measurements[i]!.push(measurement);
      const records = Math.max(1, measurement.records);
      if (trial.pids !== undefined) cpu[i]!.push(((serversCpuMs(trial) - cpuBefore) * 1000) / records);
      clientCpu[i]!.push((client.user + client.system) / records);
    }
  }
  return trials.map((trial, i) => summarise(trial, measurements[i]!, cpu[i]!, clientCpu[i]!));
}

/** CPU time so far, in ms, of the processes serving `trial` (0 when none is known). */
function serversCpuMs(trial: Trial): number {
  let ms = 0;
  for (const pid of trial.pids ?? []) ms += processCpuMs(pid);
  return ms;
}

/** The same trial against the secured node, named so. */
function overTls(trial: Trial, pid: number): Trial {
  return { ...trial, pids: [pid], name: `${trial.name} [TLS]`, expectation: `within a few % of plaintext (batches), +0.3 ms at most (unary p50)` };
}

/** A node with TLS, client certificates and the sample ACL, and a client holding root's certificate. */
async function startSecuredNode(root: string): Promise<{ node: NodeProcess; client: LoghouseClient }> {
  const certs = join(root, "certs");
  await writeDevCertificates(certs, { nodes: ["1"], clients: ["root"] });
  const file = (name: string): string => join(certs, name);
  const node = await startNode(
    ["--data-dir", join(root, "secured"), "--listen", "127.0.0.1:0", "--tls-cert", file("node-1.pem"), "--tls-key", file("node-1-key.pem"), "--tls-ca", file("ca.pem"), "--acl-model", file("model.conf"), "--acl-policy", file("policy.csv")],
  );
  const client = new LoghouseClient(node.address, { tls: { ca: readFileSync(file("ca.pem")), cert: readFileSync(file("root-client.pem")), key: readFileSync(file("root-client-key.pem")) } });
  return { node, client };
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "loghouse-bench-server-"));
  const node = serverFlag === undefined ? await startNode(["--data-dir", join(root, "node"), "--listen", "127.0.0.1:0"]) : undefined;
  const secured = tlsFlag && serverFlag === undefined ? await startSecuredNode(root) : undefined;
  const address = serverFlag ?? node!.address;
  const rss = sampleRss(node);
  const client = new LoghouseClient(address, clientTls === undefined ? {} : { tls: clientTls });
  const Generic = grpc.makeGenericClientConstructor(grpcServiceDefinition(LogService), "Log");
  const credentials = clientTls === undefined ? grpc.credentials.createInsecure() : grpc.credentials.createSsl(clientTls.ca, clientTls.key, clientTls.cert);
  const generic = new Generic(address, credentials, { "grpc-node.flow_control_window": 8 << 20 }) as unknown as GenericClient;
  console.log(`server benchmark against ${address}${node === undefined ? "" : " (a node started for this run)"}: ${recordBytes}-byte records, ${seconds} s per run, ${runs} runs, medians`);

  const syncLatencies = await measureSyncLatenciesMs(root, recordBytes, 1000);
  console.log(`one ${recordBytes}-byte write + fdatasync here: p50 ${percentile(syncLatencies, 0.5).toFixed(3)} ms (a unary Produce cannot be faster)`);
  // Node CPU per record comes from /proc (storage alone: this process).
  const servers = node === undefined ? serverPids : [node.pid];
  const onNode = (trial: Trial): Trial => ({ ...trial, pids: servers });
  const baseline: Trial = { ...storageOnly(root), pids: [process.pid] };
  const ingest = onNode(produceBatch(client));
  const unary = onNode(unaryProduce(client, 1));
  // Trials in a group alternate run by run, so that all of them see the same machine: the baseline and
  // the batch path, and each plaintext trial and its TLS twin.
  const results = await alternate([baseline, ingest, ...(secured === undefined ? [] : [overTls(produceBatch(secured.client), secured.node.pid)])]);
  // A cluster's log starts at offset 1 (offset 0 is its start point): read from wherever it starts.
  const { lowestOffset } = await client.offsets();
  for (const group of [
    [onNode(producer(client))],
    [onNode(consumeBatchStream(client))],
    [onNode(consumeBatch(client, lowestOffset))],
    [onNode(produceStream(generic))],
    [onNode(consumeStream(generic, lowestOffset))],
    [unary, ...(secured === undefined ? [] : [overTls(unaryProduce(secured.client, 1), secured.node.pid)])],
    [onNode(unaryProduce(client, 64))],
  ]) {
    results.push(...(await alternate(group)));
  }
  const peak = rss.stop();
  generic.close();
  client.close();
  if (node !== undefined) await stopNode(node);
  secured?.client.close();
  if (secured !== undefined) await stopNode(secured.node);

  const storageRate = results[0]!.recordsPerSecond;
  console.log();
  printTable(
    ["trial", "records/s", "MB/s", "p50 ms", "p99 ms", "CPU µs/record", "client CPU µs/record", "expected"],
    results.map((r) => [
      r.name,
      formatRate(r.recordsPerSecond),
      r.megabytesPerSecond.toFixed(1),
      r.latencyMsP50?.toFixed(3) ?? "-",
      r.latencyMsP99?.toFixed(3) ?? "-",
      r.cpuMicrosPerRecord?.toFixed(2) ?? "-",
      r.clientCpuMicrosPerRecord?.toFixed(2) ?? "-",
      r.expectation,
    ]),
  );
  const ratio = results[1]!.recordsPerSecond / storageRate;
  const cpu = (r: TrialResult): string => (r.cpuMicrosPerRecord === null ? "?" : r.cpuMicrosPerRecord.toFixed(2));
  console.log(
    `\nbatch path: ${formatRate(results[1]!.recordsPerSecond)} records/s = ${(ratio * 100).toFixed(0)}% of storage alone (${formatRate(storageRate)} records/s) in this run; ` +
      `${serverPids === undefined ? "node" : "serving processes'"} CPU ${cpu(results[1]!)} µs/record (storage alone: ${cpu(results[0]!)} µs/record)`,
  );
  const batch = results[1]!;
  if (batch.cpuMicrosPerRecord !== null && batch.clientCpuMicrosPerRecord !== null) {
    // The client and the node share this machine's cores: with both busy on every core, the batch path
    // could take no more records per second than the cores have CPU for, whatever the disk allows.
    const cores = availableParallelism();
    const boundRate = (cores * 1e6) / (batch.cpuMicrosPerRecord + batch.clientCpuMicrosPerRecord);
    console.log(
      `  client CPU ${batch.clientCpuMicrosPerRecord.toFixed(2)} µs/record beside it: on ${cores} cores the two together allow at most ` +
        `${formatRate(boundRate)} records/s = ${((boundRate / storageRate) * 100).toFixed(0)}% of storage alone`,
    );
  }
  const tlsComparison = secured === undefined ? null : compareTls(results, ingest.name, unary.name);
  if (tlsComparison !== null) {
    console.log(
      `TLS beside plaintext: batch path ${(tlsComparison.batchRatio * 100).toFixed(0)}% of plaintext (target >= 80%), node CPU ` +
        `${tlsComparison.batchCpuMicrosTls?.toFixed(2)} vs ${tlsComparison.batchCpuMicrosPlain?.toFixed(2)} µs/record; ` +
        `unary Produce p50 ${tlsComparison.unaryP50MsTls.toFixed(3)} ms vs ${tlsComparison.unaryP50MsPlain.toFixed(3)} ms (+${(tlsComparison.unaryP50MsTls - tlsComparison.unaryP50MsPlain).toFixed(3)} ms; target <= +0.3 ms)`,
    );
  }
  if (node !== undefined) {
    console.log(
      `node peak RSS: ${(peak.rss / 2 ** 20).toFixed(0)} MB, of which anonymous ${(peak.anon / 2 ** 20).toFixed(0)} MB ` +
        "(the rest is file-backed: program text and the memory-mapped indexes of the active segment and of recently read ones)",
    );
  }
  const picture = chart(`server at ${address}: ${recordBytes}-byte records, ${seconds} s per run, ${runs} runs, medians`, [
    barsPanel("throughput per trial", "records/s", results.map((r, i) => ({ label: r.name, value: r.recordsPerSecond, baseline: i === 0 })), formatRate),
    percentilesPanel("latency per trial (per call or per record)", results.map((r) => ({ label: r.name, percentilesMs: { p50: r.latencyMsP50, p99: r.latencyMsP99 } }))),
  ]);
  const data = { address, recordBytes, fdatasyncMsP50: percentile(syncLatencies, 0.5), tls: tlsComparison, seconds, runs, batchRecords: BATCH_RECORDS, batchesInFlight: BATCHES_IN_FLIGHT, storageOnlyRecordsPerSecond: storageRate, batchToStorageRatio: ratio, peakRssBytes: node === undefined ? null : peak.rss, peakRssAnonBytes: node === undefined ? null : peak.anon, trials: results };
  await writeResults("server", data, picture);
  rmSync(root, { recursive: true, force: true });
}

/** The TLS trials beside their plaintext twins (same run). */
function compareTls(
  results: readonly TrialResult[],
  batchName: string,
  unaryName: string,
): { batchRatio: number; batchCpuMicrosPlain: number | null; batchCpuMicrosTls: number | null; unaryP50MsPlain: number; unaryP50MsTls: number } {
  const find = (name: string): TrialResult => results.find((r) => r.name === name)!;
  const batch = find(batchName);
  const unary = find(unaryName);
  return {
    batchRatio: find(`${batch.name} [TLS]`).recordsPerSecond / batch.recordsPerSecond,
    batchCpuMicrosPlain: batch.cpuMicrosPerRecord,
    batchCpuMicrosTls: find(`${batch.name} [TLS]`).cpuMicrosPerRecord,
    unaryP50MsPlain: unary.latencyMsP50 ?? NaN,
    unaryP50MsTls: find(`${unary.name} [TLS]`).latencyMsP50 ?? NaN,
  };
}

await main();
