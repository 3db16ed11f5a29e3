import { DataLossError, NotLeaderError, OffsetOutOfRangeError } from "../errors.ts";
import type { SeededRandom } from "../raft/random.ts";
import type { EventQueue } from "./event-queue.ts";
import type { History } from "./history.ts";
import type { SimServer } from "./sim-server.ts";

export interface ClientsSetting {
  readonly queue: EventQueue;
  readonly random: SeededRandom;
  readonly history: History;
  readonly servers: ReadonlyMap<number, SimServer>;
  /** The server a client that asked around would take for the leader, if any. */
  readonly leader: () => SimServer | undefined;
  readonly log: (line: string) => void;
  readonly fail: (error: unknown) => void;
}

const PRODUCERS = 3;
/** Producers with ids above this one are idempotent. */
const PLAIN_PRODUCERS = 1;
/** A client gives up waiting for an answer after this long (the outcome is then unknown). */
const PRODUCE_TIMEOUT_MS = 2_000;
const READ_COUNT_MAX = 8;

interface Producer {
  readonly id: number;
  sequence: number;
  /**
   * An idempotent producer's id: it sends a failed batch again, the same values under the same
   * batch number, until one attempt is acknowledged (the checker then finds a value committed twice
   * if the cluster appended a retry again). Absent: each attempt sends new values.
   */
  readonly producerId: Uint8Array | undefined;
  /** The idempotent producer's batch waiting for an acknowledgement, if any. */
  unacknowledged: { readonly values: string[]; readonly sequence: bigint } | undefined;
  batches: bigint;
  /** Whether a value this producer first sent after healing was acknowledged. */
  acknowledgedAfterHeal: boolean;
}

/**
 * Simulated clients of the log each server serves (the production ReplicatedLog, as the RPC layer
 * serves it). Producers append values through any node (mostly the leader, as the client library
 * finds it; a follower forwards to the leader) and, after a failure or a timeout whose outcome is
 * unknown, retry with a new value, or (idempotent producers) with the same values and batch number;
 * a consumer reads committed ranges from any node. Every answer goes to the history checker.
 */
export class SimClients {
  private readonly producers: Producer[] = [];
  private running = false;
  private healedAt = Infinity;

  constructor(private readonly setting: ClientsSetting) {}

  start(): void {
    this.running = true;
    for (let id = 1; id <= PRODUCERS; id++) {
      const producerId = id > PLAIN_PRODUCERS ? Buffer.from(`sim-producer-${id}`) : undefined;
      const producer: Producer = { id, sequence: 0, producerId, unacknowledged: undefined, batches: 0n, acknowledgedAfterHeal: false };
      this.producers.push(producer);
      this.later(() => this.produce(producer));
    }
    this.later(() => this.consume());
  }

  stop(): void {
    this.running = false;
  }

  healed(): void {
    this.healedAt = this.setting.queue.now;
  }

  allAcknowledgedAfterHeal(): boolean {
    return this.producers.every((producer) => producer.acknowledgedAfterHeal);
  }

  private later(run: () => void, delayMs?: number): void {
    const { queue, random } = this.setting;
    queue.schedule(delayMs ?? 1 + random.intBelow(40), () => {
      if (this.running) run();
    });
  }

  private produce(producer: Producer): void {
    const { random, log, history, fail } = this.setting;
    const server = this.pickServer(0.6);
    const served = server?.served ?? null;
    if (server === undefined || served === null) return this.later(() => this.produce(producer));
    const sentAt = this.setting.queue.now;
    const { values, append } = this.nextBatch(producer, served);
    const batch = producer.unacknowledged;
    let answered = false;
    const next = (): void => {
      if (answered) return;
      answered = true;
      this.later(() => this.produce(producer));
    };
    append().then(
      (firstOffset) => {
        // A late answer to an earlier attempt of a batch since acknowledged leaves the next batch be.
        if (producer.unacknowledged === batch) producer.unacknowledged = undefined;
        log(`client ${producer.id} acknowledged ${values.join(",")} at ${firstOffset} by node ${server.id}`);
        try {
          values.forEach((value, i) => history.onAcknowledged(value, firstOffset + i));
        } catch (error) {
          fail(error);
        }
        if (sentAt >= this.healedAt) producer.acknowledgedAfterHeal = true;
        next();
      },
      (error: unknown) => {
        const outcome = error instanceof NotLeaderError ? "not written" : "outcome unknown";
        log(`client ${producer.id} failed ${values.join(",")} on node ${server.id}: ${(error as Error).name} (${outcome})`);
        next();
      },
    );
    this.later(next, PRODUCE_TIMEOUT_MS);
  }

  /** The values `producer` sends next (again, for an idempotent producer whose batch is unacknowledged) and how. */
  private nextBatch(producer: Producer, served: NonNullable<SimServer["served"]>): { values: string[]; append: () => Promise<number> } {
    const { producerId } = producer;
    if (producerId !== undefined && producer.unacknowledged !== undefined) {
      const { values, sequence } = producer.unacknowledged;
      return { values, append: async () => (await served.appendOnce(values.map((value) => Buffer.from(value)), { producerId, sequence })).firstOffset };
    }
    const count = 1 + this.setting.random.intBelow(3);
    const values = Array.from({ length: count }, () => `c${producer.id}-${++producer.sequence}`);
    if (producerId === undefined) return { values, append: () => served.append(values.map((value) => Buffer.from(value))) };
    producer.unacknowledged = { values, sequence: producer.batches++ };
    return this.nextBatch(producer, served);
  }

  private consume(): void {
    const server = this.pickServer(0);
    const served = server?.served ?? null;
    if (server !== undefined && served !== null && served.nextOffset > served.lowestOffset) {
      const { random } = this.setting;
      const offset = served.lowestOffset + random.intBelow(served.nextOffset - served.lowestOffset);
      try {
        this.setting.history.onRead(server.id, offset, served.readRange(offset, { countMax: 1 + random.intBelow(READ_COUNT_MAX) }));
      } catch (error) {
        // A damaged record (the node repairs it) or a range the node no longer holds is an answer too.
        if (!(error instanceof DataLossError) && !(error instanceof OffsetOutOfRangeError)) this.setting.fail(error);
      }
    }
    this.later(() => this.consume());
  }

  /** The leader with chance `leaderChance`, else any running server. */
  private pickServer(leaderChance: number): SimServer | undefined {
    const { random, servers } = this.setting;
    const leader = this.setting.leader();
    if (leader !== undefined && random.chance(leaderChance)) return leader;
    const up = [...servers.values()].filter((server) => server.replica !== null);
    return up.length === 0 ? undefined : random.pick(up);
  }
}
