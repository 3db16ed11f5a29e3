/**
 * SWIM membership figures for the issue note: failure detection time (kill to "every survivor says
 * dead", median and p99) and gossip bandwidth per node (bytes/s sent, sealed datagram payloads), in
 * the deterministic simulator at 5 and 50 members (memberlist's LAN timings, 1% loss), and for 5 real
 * UDP instances on loopback beside the simulator at the same timings; plus the probe round trip over
 * real UDP (a sealed ping to its ack) beside its floor, a bare datagram echoed.
 *
 *   npm run bench:gossip [-- --trials 40]
 */
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { parseArgs } from "node:util";
import { decodeGossip, encodeGossip } from "../src/membership/gossip-codec.ts";
import { defaultGossipConfig, localGossipConfig, type GossipConfig } from "../src/membership/gossip-config.ts";
import { GossipSimulation } from "../src/membership/gossip-simulation.ts";
import { Membership } from "../src/membership/membership.ts";
import { UdpTransport } from "../src/membership/udp-transport.ts";
import { SeededRandom } from "../src/raft/random.ts";
import { writeResults } from "./support/results.ts";
import { median, percentile, printTable } from "./support/stats.ts";
import { barsPanel, chart } from "./support/svg-chart.ts";
import { exitOnHelp } from "./support/usage.ts";

exitOnHelp(`
usage: npm run bench:gossip [-- --trials 40]

Failure detection time (median, p99) and gossip bytes/s per node for SWIM membership: simulated at 5
and 50 members with memberlist's LAN timings (--trials runs at 5 members, a fifth as many at 50), and
5 real UDP instances on 127.0.0.1 beside the simulator at the same local timings (a probe every
200 ms); then the probe round trip over real UDP beside a bare datagram echo. Results and a chart go
to bench/results/gossip-<time>.json and .svg.
`);

const { values } = parseArgs({ options: { trials: { type: "string", default: "40" } } });
const trials = Number(values.trials);
if (!Number.isSafeInteger(trials) || trials < 1) throw new Error(`--trials must be a positive integer, got ${values.trials}`);

const STEADY_WINDOW_PROBES = 30;

interface Row {
  readonly setup: string;
  readonly members: number;
  readonly detectMs: number[];
  readonly bytesPerNodePerSecond: number[];
  readonly expectation: string;
  readonly expectedBytesPerSecond: number;
}

/** One simulated trial: converge, measure a steady window's bytes, kill a member, time its detection. */
function simulatedTrial(seed: number, size: number, config: GossipConfig): { detectMs: number; bytesPerSecond: number } {
  const sim = new GossipSimulation(seed, size, config, { dropRate: 0.01, duplicateRate: 0, latencyMinMs: 1, latencyJitterMs: 4 });
  sim.start(0);
  for (let i = 1; i < size; i++) sim.start(i, [0]);
  const all = () => sim.upMembers().every((at) => sim.upMembers().every((of) => sim.viewOf(at, of)?.state === "alive"));
  if (sim.runUntil(all, 3 * config.pushPullIntervalMs) === undefined) throw new Error(`seed ${seed}: ${size} members did not converge`);
  const windowMs = STEADY_WINDOW_PROBES * config.probeIntervalMs;
  sim.runFor(windowMs); // the joins' news is still being piggybacked: let it settle first
  const before = sim.upMembers().reduce((sum, i) => sum + sim.bytesSent(i), 0);
  sim.runFor(windowMs);
  const after = sim.upMembers().reduce((sum, i) => sum + sim.bytesSent(i), 0);
  const victim = 1 + new SeededRandom(seed).intBelow(size - 1);
  sim.kill(victim);
  const detectMs = sim.runUntil(() => sim.upMembers().every((at) => sim.viewOf(at, victim)?.state === "dead"), 10 * 60_000);
  if (detectMs === undefined) throw new Error(`seed ${seed}: member ${victim} never declared dead`);
  return { detectMs, bytesPerSecond: (after - before) / size / (windowMs / 1000) };
}

function simulatedRow(setup: string, size: number, count: number, config: GossipConfig, expectation: string): Row {
  const detectMs: number[] = [];
  const bytesPerNodePerSecond: number[] = [];
  for (let seed = 1; seed <= count; seed++) {
    const trial = simulatedTrial(seed, size, config);
    detectMs.push(trial.detectMs);
    bytesPerNodePerSecond.push(trial.bytesPerSecond);
  }
  return { setup, members: size, detectMs, bytesPerNodePerSecond, expectation, expectedBytesPerSecond: expectedBytesPerSecond(config, size) };
}

async function startReal(name: string, key: Buffer, config: GossipConfig): Promise<Membership> {
  return Membership.start({ name, address: "127.0.0.1:0", role: "voter", bindHost: "127.0.0.1", key, config });
}

/** Five real instances: a steady window's bytes, then the time from closing one to every survivor saying dead. */
async function realTrial(key: Buffer, config: GossipConfig): Promise<{ detectMs: number; bytesPerSecond: number }> {
  const group = await Promise.all([0, 1, 2, 3, 4].map((i) => startReal(`m${i}`, key, config)));
  try {
    await Promise.all(group.slice(1).map((m) => m.join([group[0]!.address])));
    await until(() => group.every((m) => m.members().filter((v) => v.state === "alive").length === 5), 30_000);
    const windowMs = STEADY_WINDOW_PROBES * config.probeIntervalMs;
    const settled = performance.now();
    await until(() => performance.now() - settled >= windowMs, 2 * windowMs);
    const sent = () => group.reduce((sum, m) => sum + m.stats().transport.bytesSent, 0);
    const before = sent();
    const started = performance.now();
    await until(() => performance.now() - started >= windowMs, 2 * windowMs);
    const bytesPerSecond = (sent() - before) / 5 / ((performance.now() - started) / 1000);
    const killedAt = performance.now();
    await group[4]!.close();
    const survivors = group.slice(0, 4);
    await until(() => survivors.every((m) => m.members().find((v) => v.name === "m4")?.state === "dead"), 60_000);
    return { detectMs: performance.now() - killedAt, bytesPerSecond };
  } finally {
    await Promise.all(group.map((m) => m.close()));
  }
}

async function until(condition: () => boolean, limitMs: number): Promise<void> {
  const deadline = performance.now() + limitMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Sealed ping to one real member and its ack, `count` times in a row; round trips in ms. */
async function probeRoundTrips(key: Buffer, count: number): Promise<number[]> {
  const member = await startReal("m0", key, defaultGossipConfig);
  const client = await UdpTransport.open({ host: "127.0.0.1", port: 0, key });
  const bytesMax = defaultGossipConfig.messageBytesMax;
  try {
    const roundTrips: number[] = [];
    let waiting: { seq: number; resolve: () => void } | undefined;
    client.onReceive((_, payload) => {
      const decoded = decodeGossip(payload, bytesMax);
      if (decoded.ok && decoded.message.type === "ack" && decoded.message.seq === waiting?.seq) waiting.resolve();
    });
    for (let seq = 1; seq <= count; seq++) {
      const started = performance.now();
      await new Promise<void>((resolve) => {
        waiting = { seq, resolve };
        client.send(member.address, encodeGossip({ type: "ping", seq, target: "m0", updates: [] }, bytesMax));
      });
      roundTrips.push(performance.now() - started);
    }
    return roundTrips;
  } finally {
    await client.close();
    await member.close();
  }
}

/** The floor: the same round trips as bare datagrams echoed by a dgram socket (no seal, no codec, no core). */
async function rawEchoRoundTrips(count: number): Promise<number[]> {
  const echo = createSocket("udp4");
  const client = createSocket("udp4");
  await Promise.all([echo, client].map((socket) => new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve))));
  echo.on("message", (datagram, rinfo) => echo.send(datagram, rinfo.port, rinfo.address));
  const roundTrips: number[] = [];
  const datagram = Buffer.alloc(40);
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await new Promise<void>((resolve) => {
      client.once("message", () => resolve());
      client.send(datagram, echo.address().port, "127.0.0.1");
    });
    roundTrips.push(performance.now() - started);
  }
  await Promise.all([echo, client].map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  return roundTrips;
}

/**
 * Back of the envelope, per node: a ping out and an ack out per probe interval (about 12 B each plus
 * 29 B of seal), and a push-pull every 1.5 intervals on average, started by it or by a peer, sending
 * its table (about 35 B a member, in datagrams of up to 1,371 B).
 */
function expectedBytesPerSecond(config: GossipConfig, size: number): number {
  const tableBytes = size * 35 + 29 * Math.ceil((size * 35) / config.messageBytesMax);
  return (2 * (12 + 29)) / (config.probeIntervalMs / 1000) + (2 * tableBytes) / ((1.5 * config.pushPullIntervalMs) / 1000);
}

function suspicionRange(config: GossipConfig, size: number): string {
  const min = config.suspicionMultiplier * Math.max(1, Math.log10(size)) * config.probeIntervalMs;
  return `probe ~${config.probeIntervalMs} ms + suspicion ${(min / 1000).toFixed(1)}-${((min * config.suspicionMaxTimeoutMultiplier) / 1000).toFixed(1)} s`;
}

async function main(): Promise<void> {
  const key = randomBytes(32);
  const realTrials = Math.max(3, Math.floor(trials / 8));
  const rows: Row[] = [
    simulatedRow("simulated, LAN timings", 5, trials, defaultGossipConfig, suspicionRange(defaultGossipConfig, 5)),
    simulatedRow("simulated, LAN timings", 50, Math.max(2, Math.floor(trials / 5)), defaultGossipConfig, suspicionRange(defaultGossipConfig, 50)),
    simulatedRow("simulated, local timings", 5, trials, localGossipConfig, suspicionRange(localGossipConfig, 5)),
  ];
  const real: Row = { setup: "real UDP, local timings", members: 5, detectMs: [], bytesPerNodePerSecond: [], expectation: suspicionRange(localGossipConfig, 5), expectedBytesPerSecond: expectedBytesPerSecond(localGossipConfig, 5) };
  for (let i = 0; i < realTrials; i++) {
    const trial = await realTrial(key, localGossipConfig);
    real.detectMs.push(trial.detectMs);
    real.bytesPerNodePerSecond.push(trial.bytesPerSecond);
  }
  rows.push(real);
  const table = rows.map((row) => {
    const sorted = [...row.detectMs].sort((a, b) => a - b);
    return [row.setup, String(row.members), String(row.detectMs.length), (median(sorted) / 1000).toFixed(2), (percentile(sorted, 0.99) / 1000).toFixed(2), median(row.bytesPerNodePerSecond).toFixed(0), row.expectedBytesPerSecond.toFixed(0), row.expectation];
  });
  printTable(["setup", "members", "trials", "detect s p50", "detect s p99", "B/s per node", "expected B/s", "expected detection"], table);
  console.log("bytes: sealed datagrams (payload + 29 B of version, nonce and tag), not IP/UDP headers (28 B each)");
  const summary = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
  };
  const rtt = summary(await probeRoundTrips(key, 2000));
  const floor = summary(await rawEchoRoundTrips(2000));
  console.log(`probe round trip over real UDP (sealed ping to ack, 2,000 in a row): p50 ${rtt.p50.toFixed(3)} ms, p99 ${rtt.p99.toFixed(3)} ms`);
  console.log(`floor, a bare 40-byte datagram echoed by a dgram socket:          p50 ${floor.p50.toFixed(3)} ms, p99 ${floor.p99.toFixed(3)} ms`);
  const bars = rows.map((row) => ({ label: `${row.setup}, ${row.members}`, value: median(row.detectMs) / 1000 }));
  const bandwidth = rows.map((row) => ({ label: `${row.setup}, ${row.members}`, value: median(row.bytesPerNodePerSecond) }));
  const svg = chart("SWIM membership", [barsPanel("failure detection, median (s)", "s", bars, (v) => v.toFixed(2)), barsPanel("bytes/s sent per node, median", "B/s", bandwidth, (v) => v.toFixed(0))]);
  await writeResults("gossip", { rows, probeRoundTripMs: rtt, rawEchoRoundTripMs: floor }, svg);
}

await main();
