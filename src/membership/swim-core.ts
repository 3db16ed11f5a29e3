// The SWIM membership protocol as a pure, deterministic state machine (Das et al. 2002, with the
// Lifeguard refinements of hashicorp/memberlist). It owns no socket, clock or timer: the driver hands
// it the time with every input (`tick`, `receive`, `join`, ...) and collects what it produced with
// `takeOutbox` (messages to send, each fitting one datagram) and `takeEvents` (membership changes). The
// same core runs over UDP (membership.ts) and in the simulator (gossip-simulation.ts).
//
// Each probe interval one member, taken in a shuffled round-robin order, is pinged; without an ack
// within the probe timeout, `indirectChecks` helpers ping it on our behalf and answer with an ack or a
// nack. A member that stays silent is suspected, and declared dead when its suspicion times out
// (sooner as others confirm it) unless it refutes with a higher incarnation. Updates ride on probes,
// acks and periodic gossip messages, each sent λ·log n times; a full push-pull sync runs on join, with
// a random member periodically (tried once more a probe interval later if no table came back), and with
// a random dead member (so a healed partition merges).
import assert from "node:assert/strict";
import type { RandomSource } from "../raft/random.ts";
import { BroadcastQueue } from "./broadcast-queue.ts";
import { encodedHeadBytes, encodedRecordBytes, encodedUpdateBytes, ITEMS_PER_MESSAGE_MAX } from "./gossip-codec.ts";
import { validateGossipConfig, type GossipConfig } from "./gossip-config.ts";
import type { GossipMessage, MemberRecord, Update } from "./gossip-message.ts";
import type { MemberState, MemberView, MembershipEvent } from "./member.ts";
import { Suspicion } from "./suspicion.ts";

/** Who this node is: its unique name, its advertised host:port and its role. */
export interface SwimIdentity {
  readonly name: string;
  readonly address: string;
  readonly role: string;
}

/**
 * Whether this node, of role `ownRole`, lets a live claim on its name made from another address (of
 * role `claimRole`) stand instead of refuting it. A node still joining yields to a member, so that a
 * second process started under a member's name does not fight the member for it in every node's
 * table. A claim from this node's own address is always refuted: it is this node's earlier life (a
 * node back at its address after losing its disk), which the new one replaces. While it yields, a
 * suspicion or a verdict of death about the name is about the member, and is not refuted either.
 */
export type NameYield = (claimRole: string, ownRole: string) => boolean;

export interface Outgoing {
  /** host:port of the receiver. */
  readonly to: string;
  readonly message: GossipMessage;
}

/** Counters of what the core did and dropped. */
export interface SwimCounters {
  probes: number;
  probesFailed: number;
  refutations: number;
  /** Pings naming another member than this node (a different node now holds the address). */
  misaddressed: number;
  /** New members not tracked because membersMax was reached. */
  membersDropped: number;
  /** Indirect probes refused because relaysMax were outstanding. */
  relaysDropped: number;
}

interface Member {
  name: string;
  address: string;
  role: string;
  state: MemberState;
  incarnation: number;
  stateChangedMs: number;
  suspicion: Suspicion | undefined;
}

interface Probe {
  readonly seq: number;
  readonly target: string;
  readonly indirectAtMs: number;
  readonly endMs: number;
  acked: boolean;
  indirectSent: boolean;
  nacksExpected: number;
  nacks: number;
}

interface Relay {
  readonly requester: string;
  readonly seq: number;
  readonly deadlineMs: number;
}

const SEQ_LIMIT = 0x1_0000_0000;

/** The messages that carry piggybacked updates. */
type Probing = Exclude<GossipMessage, { type: "sync" }>;

export class SwimCore {
  readonly counters: SwimCounters = { probes: 0, probesFailed: 0, refutations: 0, misaddressed: 0, membersDropped: 0, relaysDropped: 0 };
  private readonly members = new Map<string, Member>();
  private readonly self: Member;
  private readonly broadcasts: BroadcastQueue;
  private readonly relays = new Map<number, Relay>();
  private outbox: Outgoing[] = [];
  private events: MembershipEvent[] = [];
  private probeOrder: string[] = [];
  private probeIndex = 0;
  private probe: Probe | undefined;
  private seq = 0;
  private awareness = 0;
  private nowMs: number;
  private nextProbeMs: number;
  private nextGossipMs: number;
  private nextPushPullMs: number;
  private nextReconnectMs: number;
  /**
   * When a periodic push-pull still unanswered is sent once more: its first datagram or the whole answer
   * can be lost, and the next round is up to two intervals away.
   */
  private pushPullRetryMs: number | undefined;
  /** Seeds asked for their table that have not answered yet: asked again every probe interval. */
  private joinAddresses: readonly string[] = [];
  /** The member at another address this node last let hold its name (see NameYield), if any. */
  private nameHolder: { readonly address: string; readonly role: string } | undefined;
  private nextJoinMs = 0;

  constructor(
    identity: SwimIdentity,
    private readonly config: GossipConfig,
    private readonly random: RandomSource,
    nowMs: number,
    private readonly yieldsName: NameYield = () => false,
  ) {
    validateGossipConfig(config);
    this.nowMs = nowMs;
    this.self = { ...identity, state: "alive", incarnation: 0, stateChangedMs: nowMs, suspicion: undefined };
    this.members.set(identity.name, this.self);
    this.broadcasts = new BroadcastQueue(config.broadcastsMax);
    this.broadcasts.enqueue(aliveUpdate(this.self));
    this.nextProbeMs = nowMs + random.intBelow(config.probeIntervalMs);
    this.nextGossipMs = nowMs + random.intBelow(config.gossipIntervalMs);
    this.nextPushPullMs = nowMs + this.jittered(config.pushPullIntervalMs);
    this.nextReconnectMs = nowMs + this.jittered(config.reconnectIntervalMs);
  }

  // ---- inputs ----

  /** Advances time: probes, suspicion timeouts, gossip rounds, push-pull and reconnect syncs, reaping. */
  tick(nowMs: number): void {
    this.advance(nowMs);
    const probe = this.probe;
    if (probe !== undefined && !probe.acked && !probe.indirectSent && nowMs >= probe.indirectAtMs) this.probeIndirectly(probe);
    if (probe !== undefined && nowMs >= probe.endMs) this.finishProbe(probe);
    if (this.probe === undefined && nowMs >= this.nextProbeMs && this.self.state === "alive") this.startProbe();
    this.retryJoin();
    this.expireSuspicions();
    this.expireRelays();
    if (nowMs >= this.nextGossipMs) {
      this.nextGossipMs = nowMs + this.config.gossipIntervalMs;
      this.gossipRound();
    }
    if (nowMs >= this.nextPushPullMs) {
      this.nextPushPullMs = nowMs + this.jittered(this.config.pushPullIntervalMs);
      this.pushPullRetryMs = nowMs + this.config.probeIntervalMs;
      this.syncWithOne(["alive", "suspect"]);
    } else if (this.pushPullRetryMs !== undefined && nowMs >= this.pushPullRetryMs) {
      this.pushPullRetryMs = undefined;
      this.syncWithOne(["alive", "suspect"]);
    }
    if (nowMs >= this.nextReconnectMs) {
      this.nextReconnectMs = nowMs + this.jittered(this.config.reconnectIntervalMs);
      this.syncWithOne(["dead"]);
    }
    this.reap();
  }

  /** Handles one decoded message that arrived from `from` (host:port). */
  receive(from: string, message: GossipMessage, nowMs: number): void {
    this.advance(nowMs);
    if (message.type === "sync") {
      for (const record of message.members) this.mergeRecord(record);
      if (message.replyWanted) this.sendSync(from, false);
      else this.synced(from);
      return;
    }
    for (const update of message.updates) this.apply(update);
    // A sender that still accuses us (even of an incarnation already refuted, whose refutation it
    // missed) hears our current incarnation straight back: in the ack of its probe (Lifeguard's buddy
    // system), or in a gossip message of its own.
    const accused = this.self.state === "alive" && !this.yieldingName() && message.updates.some((u) => u.name === this.self.name && (u.kind === "suspect" || u.kind === "dead"));
    const answer = accused ? [aliveUpdate(this.self)] : [];
    if (accused && message.type !== "ping") this.send(from, { type: "gossip", updates: answer });
    switch (message.type) {
      case "ping":
        if (message.target !== this.self.name) this.counters.misaddressed++;
        else this.send(from, { type: "ack", seq: message.seq, updates: answer });
        return;
      case "ping-req":
        return this.relay(from, message.seq, message.target, message.address);
      case "ack":
        return this.acked(message.seq);
      case "nack":
        if (this.probe?.seq === message.seq) this.probe.nacks++;
        return;
      case "gossip":
        return;
    }
  }

  /**
   * Asks each of `addresses` for its member table, sending ours, and asks again every probe interval
   * until one answers (a `synced` event reports each answer): any one member suffices.
   */
  join(addresses: readonly string[], nowMs: number): void {
    this.advance(nowMs);
    this.joinAddresses = addresses.filter((address) => address !== this.self.address);
    this.nextJoinMs = nowMs;
    this.retryJoin();
  }

  private retryJoin(): void {
    if (this.joinAddresses.length === 0 || this.nowMs < this.nextJoinMs || this.self.state !== "alive") return;
    this.nextJoinMs = this.nowMs + this.config.probeIntervalMs;
    for (const address of this.joinAddresses) this.sendSync(address, true);
  }

  private synced(from: string): void {
    // A table spans several datagrams and one may have been lost: a join is followed by a second,
    // early push-pull with a random member rather than waiting for the periodic one.
    if (this.joinAddresses.length > 0) this.nextPushPullMs = this.nowMs + this.jittered(this.config.probeIntervalMs);
    this.joinAddresses = [];
    this.pushPullRetryMs = undefined;
    this.events.push({ type: "synced", address: from });
  }

  /** Says goodbye: others mark this node left (not dead); it stops probing and never refutes again. */
  leave(nowMs: number): void {
    this.advance(nowMs);
    if (this.self.state === "left") return;
    this.self.incarnation++;
    this.setState(this.self, "left");
    this.broadcasts.enqueue({ kind: "left", name: this.self.name, incarnation: this.self.incarnation });
    this.gossipRound();
  }

  /** Changes this node's role and spreads it with a new incarnation. */
  setRole(role: string, nowMs: number): void {
    this.advance(nowMs);
    assert(this.self.state === "alive", "a node that left cannot change its role");
    this.self.role = role;
    this.self.incarnation++;
    this.broadcasts.enqueue(aliveUpdate(this.self));
  }

  // ---- outputs ----

  takeOutbox(): Outgoing[] {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }

  takeEvents(): MembershipEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }

  /** What this node knows of member `name`. */
  member(name: string): MemberView | undefined {
    const member = this.members.get(name);
    return member === undefined ? undefined : view(member);
  }

  /** Every member this node knows, itself included, by name. */
  memberViews(): MemberView[] {
    return [...this.members.values()].map(view).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** Updates still to be disseminated. */
  pendingBroadcasts(): number {
    return this.broadcasts.size();
  }

  /** Lifeguard's local health score: 0 is healthy; timeouts are stretched by (score + 1). */
  healthScore(): number {
    return this.awareness;
  }

  // ---- probing ----

  private startProbe(): void {
    const target = this.nextProbeTarget();
    const scale = this.awareness + 1;
    this.nextProbeMs = this.nowMs + this.config.probeIntervalMs * scale;
    if (target === undefined) return;
    const seq = this.nextSeq();
    this.counters.probes++;
    this.probe = {
      seq,
      target: target.name,
      indirectAtMs: this.nowMs + this.config.probeTimeoutMs * scale,
      endMs: this.nextProbeMs,
      acked: false,
      indirectSent: false,
      nacksExpected: 0,
      nacks: 0,
    };
    // Lifeguard's buddy system: a suspect learns it is suspected from the probe itself.
    const buddy: Update[] = target.state === "suspect" ? [suspectUpdate(target, this.self.name)] : [];
    this.send(target.address, { type: "ping", seq, target: target.name, updates: buddy }, target.name);
  }

  private nextProbeTarget(): Member | undefined {
    for (let attempts = 0; attempts < 2; attempts++) {
      while (this.probeIndex < this.probeOrder.length) {
        const member = this.members.get(this.probeOrder[this.probeIndex++] as string);
        if (member !== undefined && member !== this.self && isReachable(member.state)) return member;
      }
      this.probeOrder = this.shuffled([...this.members.values()].filter((m) => m !== this.self && isReachable(m.state))).map((m) => m.name);
      this.probeIndex = 0;
    }
    return undefined;
  }

  private probeIndirectly(probe: Probe): void {
    probe.indirectSent = true;
    const target = this.members.get(probe.target);
    if (target === undefined) return;
    const helpers = this.shuffled([...this.members.values()].filter((m) => m !== this.self && m !== target && m.state === "alive"));
    for (const helper of helpers.slice(0, this.config.indirectChecks)) {
      probe.nacksExpected++;
      this.send(helper.address, { type: "ping-req", seq: probe.seq, target: target.name, address: target.address, updates: [] }, helper.name);
    }
  }

  private finishProbe(probe: Probe): void {
    this.probe = undefined;
    if (probe.acked) return this.adjustAwareness(-1);
    this.counters.probesFailed++;
    // Missing nacks mean our own messages are not getting through: blame ourselves, not the target.
    this.adjustAwareness(probe.nacksExpected > 0 ? probe.nacksExpected - probe.nacks : 1);
    const target = this.members.get(probe.target);
    // On a suspect, our own failed probe is an independent confirmation (Lifeguard).
    if (target !== undefined && isReachable(target.state)) this.apply(suspectUpdate(target, this.self.name));
  }

  private acked(seq: number): void {
    if (this.probe?.seq === seq) {
      this.probe.acked = true;
      return;
    }
    const relay = this.relays.get(seq);
    if (relay === undefined) return;
    this.relays.delete(seq);
    this.send(relay.requester, { type: "ack", seq: relay.seq, updates: [] });
  }

  private relay(requester: string, seq: number, target: string, address: string): void {
    if (this.relays.size >= this.config.relaysMax) {
      this.counters.relaysDropped++;
      return;
    }
    const relaySeq = this.nextSeq();
    this.relays.set(relaySeq, { requester, seq, deadlineMs: this.nowMs + this.config.probeTimeoutMs });
    this.send(address, { type: "ping", seq: relaySeq, target, updates: [] }, target);
  }

  private expireRelays(): void {
    for (const [seq, relay] of this.relays) {
      if (this.nowMs < relay.deadlineMs) continue;
      this.relays.delete(seq);
      this.send(relay.requester, { type: "nack", seq: relay.seq, updates: [] });
    }
  }

  private adjustAwareness(delta: number): void {
    this.awareness = Math.min(this.config.awarenessMax, Math.max(0, this.awareness + delta));
  }

  // ---- updates ----

  private apply(update: Update): void {
    switch (update.kind) {
      case "alive":
        return this.applyAlive(update);
      case "suspect":
        return this.applySuspect(update.name, update.incarnation, update.from);
      case "dead":
      case "left":
        return this.applyDead(update.name, update.incarnation, update.kind);
    }
  }

  private applyAlive(update: Update & { kind: "alive" }): void {
    if (update.name === this.self.name) {
      const impostor = update.address !== this.self.address || update.role !== this.self.role;
      if (this.yieldsTo(update.address, update.role)) return;
      if (update.incarnation > this.self.incarnation || (update.incarnation === this.self.incarnation && impostor)) this.refute(update.incarnation);
      return;
    }
    let member = this.members.get(update.name);
    if (member === undefined) {
      member = this.admit(update);
      if (member === undefined) return;
    } else if (update.incarnation <= member.incarnation) {
      return;
    }
    const metadataChanged = member.address !== update.address || member.role !== update.role;
    const previous = member.state;
    member.address = update.address;
    member.role = update.role;
    member.incarnation = update.incarnation;
    member.suspicion = undefined;
    if (previous !== "alive") this.setState(member, "alive");
    if (previous === "left") this.events.push({ type: "joined", member: view(member) });
    else if (previous !== "alive") this.events.push({ type: "alive", member: view(member) });
    else if (metadataChanged) this.events.push({ type: "updated", member: view(member) });
    this.broadcasts.enqueue(update);
  }

  /** A member seen for the first time, if there is room (forgetting the longest dead one if needed). */
  private admit(update: Update & { kind: "alive" }): Member | undefined {
    if (this.members.size >= this.config.membersMax) this.forgetOldestDead();
    if (this.members.size >= this.config.membersMax) {
      this.counters.membersDropped++;
      return undefined;
    }
    const member: Member = { ...update, state: "left", incarnation: -1, stateChangedMs: this.nowMs, suspicion: undefined };
    this.members.set(member.name, member);
    return member;
  }

  private applySuspect(name: string, incarnation: number, from: string): void {
    if (name === this.self.name) {
      if (this.yieldingName()) return;
      if (incarnation >= this.self.incarnation) {
        this.refute(incarnation);
        this.adjustAwareness(1);
      }
      return;
    }
    const member = this.members.get(name);
    if (member === undefined || incarnation < member.incarnation) return;
    if (member.state === "suspect") {
      if ((member.suspicion as Suspicion).confirm(from)) this.broadcasts.enqueue({ kind: "suspect", name, incarnation, from });
      return;
    }
    if (member.state !== "alive") return;
    member.incarnation = incarnation;
    member.suspicion = this.newSuspicion(from);
    this.setState(member, "suspect");
    this.events.push({ type: "suspect", member: view(member) });
    this.broadcasts.enqueue({ kind: "suspect", name, incarnation, from });
  }

  private newSuspicion(from: string): Suspicion {
    const n = this.liveMembers();
    const minMs = Math.floor(this.config.suspicionMultiplier * Math.max(1, Math.log10(n)) * this.config.probeIntervalMs);
    const expected = Math.max(0, Math.min(this.config.suspicionConfirmationsExpected, n - 2));
    return new Suspicion(this.nowMs, minMs, minMs * this.config.suspicionMaxTimeoutMultiplier, expected, from);
  }

  private applyDead(name: string, incarnation: number, kind: "dead" | "left"): void {
    if (name === this.self.name) {
      if (this.self.state !== "left" && !this.yieldingName() && incarnation >= this.self.incarnation) this.refute(incarnation);
      return;
    }
    const member = this.members.get(name);
    if (member === undefined || incarnation < member.incarnation) return;
    // A member declared dead that turns out to have left is reported as left; nothing else changes a verdict.
    if (member.state === "left" || (member.state === "dead" && kind === "dead")) return;
    member.incarnation = incarnation;
    member.suspicion = undefined;
    this.setState(member, kind);
    this.events.push({ type: kind, member: view(member) });
    this.broadcasts.enqueue(kind === "left" ? { kind, name, incarnation } : { kind, name, incarnation, from: this.self.name });
  }

  /** Whether this node lets a claim on its name from `address` (of `role`) stand; it is then the name's holder. */
  private yieldsTo(address: string, role: string): boolean {
    if (address === this.self.address || !this.yieldsName(role, this.self.role)) return false;
    this.nameHolder = { address, role };
    return true;
  }

  /**
   * Whether this node lets another address hold its name (NameYield): then a suspicion or a verdict
   * of death about the name is about the holder, and refuting it would move the name to this node.
   */
  private yieldingName(): boolean {
    return this.nameHolder !== undefined && this.yieldsName(this.nameHolder.role, this.self.role);
  }

  private refute(accused: number): void {
    if (this.self.state === "left") return;
    this.counters.refutations++;
    this.self.incarnation = Math.max(this.self.incarnation, accused) + 1;
    this.broadcasts.enqueue(aliveUpdate(this.self));
  }

  private expireSuspicions(): void {
    for (const member of this.members.values()) {
      if (member.suspicion === undefined || this.nowMs < member.suspicion.deadlineMs()) continue;
      this.applyDead(member.name, member.incarnation, "dead");
    }
  }

  private reap(): void {
    for (const member of this.members.values()) {
      if (isReachable(member.state) || this.nowMs - member.stateChangedMs < this.config.deadMemberRetainMs) continue;
      this.members.delete(member.name);
    }
  }

  private forgetOldestDead(): void {
    let oldest: Member | undefined;
    for (const m of this.members.values()) if (!isReachable(m.state) && (oldest === undefined || m.stateChangedMs < oldest.stateChangedMs)) oldest = m;
    if (oldest !== undefined) this.members.delete(oldest.name);
  }

  // ---- dissemination ----

  private gossipRound(): void {
    if (this.broadcasts.size() === 0) return;
    const recent = (m: Member) => isReachable(m.state) || this.nowMs - m.stateChangedMs < this.config.gossipToTheDeadMs;
    const targets = this.shuffled([...this.members.values()].filter((m) => m !== this.self && recent(m)));
    for (const target of targets.slice(0, this.config.gossipFanout)) {
      const updates = this.piggyback({ type: "gossip", updates: [] }, [], target.name);
      if (updates.length > 0) this.outbox.push({ to: target.address, message: { type: "gossip", updates } });
    }
  }

  /** Sends `message` with as many pending updates piggybacked as fit, after its own; `recipient` is its name if known. */
  private send(to: string, message: Probing, recipient?: string): void {
    this.outbox.push({ to, message: { ...message, updates: this.piggyback(message, message.updates, recipient) } });
  }

  private piggyback(message: GossipMessage, own: readonly Update[], recipient: string | undefined): Update[] {
    const used = own.reduce((sum, u) => sum + encodedUpdateBytes(u), encodedHeadBytes(message));
    assert(used <= this.config.messageBytesMax, "a message's own content must fit a datagram");
    const limit = this.config.retransmitMultiplier * Math.ceil(Math.log10(this.liveMembers() + 1));
    return [...own, ...this.broadcasts.take(this.config.messageBytesMax - used, ITEMS_PER_MESSAGE_MAX - own.length, limit, recipient)];
  }

  private syncWithOne(states: readonly MemberState[]): void {
    const candidates = [...this.members.values()].filter((m) => m !== this.self && states.includes(m.state));
    if (candidates.length > 0 && this.self.state === "alive") this.sendSync((candidates[this.random.intBelow(candidates.length)] as Member).address, true);
  }

  /** Our whole table, in as many datagrams as it takes; only the first asks for a reply. */
  private sendSync(to: string, replyWanted: boolean): void {
    let chunk: MemberRecord[] = [];
    let bytes = encodedHeadBytes({ type: "sync", replyWanted, members: [] });
    let first = true;
    const flush = () => {
      this.outbox.push({ to, message: { type: "sync", replyWanted: replyWanted && first, members: chunk } });
      first = false;
      chunk = [];
      bytes = encodedHeadBytes({ type: "sync", replyWanted, members: [] });
    };
    for (const member of this.members.values()) {
      const record = view(member);
      const recordBytes = encodedRecordBytes(record);
      if (bytes + recordBytes > this.config.messageBytesMax || chunk.length === ITEMS_PER_MESSAGE_MAX) flush();
      chunk.push(record);
      bytes += recordBytes;
    }
    flush();
  }

  private mergeRecord(record: MemberRecord): void {
    // A record of this node's name at another address names its holder whatever it says of it.
    if (record.name === this.self.name) this.yieldsTo(record.address, record.role);
    switch (record.state) {
      case "alive":
        return this.applyAlive({ kind: "alive", name: record.name, incarnation: record.incarnation, address: record.address, role: record.role });
      // As memberlist does, a remote verdict of dead only makes us suspect: we check for ourselves.
      case "suspect":
        this.applyAlive({ kind: "alive", name: record.name, incarnation: record.incarnation, address: record.address, role: record.role });
        return this.applySuspect(record.name, record.incarnation, this.self.name);
      case "dead":
        return this.applySuspect(record.name, record.incarnation, this.self.name);
      case "left":
        return this.applyDead(record.name, record.incarnation, "left");
    }
  }

  // ---- helpers ----

  private advance(nowMs: number): void {
    assert(nowMs >= this.nowMs, `time went backwards: ${nowMs} < ${this.nowMs}`);
    this.nowMs = nowMs;
  }

  private setState(member: Member, state: MemberState): void {
    member.state = state;
    member.stateChangedMs = this.nowMs;
  }

  private liveMembers(): number {
    let n = 0;
    for (const m of this.members.values()) if (isReachable(m.state)) n++;
    return Math.max(1, n);
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) % SEQ_LIMIT;
    return this.seq;
  }

  private jittered(intervalMs: number): number {
    return intervalMs + this.random.intBelow(Math.max(1, intervalMs));
  }

  private shuffled<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.random.intBelow(i + 1);
      [items[i], items[j]] = [items[j] as T, items[i] as T];
    }
    return items;
  }
}

function isReachable(state: MemberState): boolean {
  return state === "alive" || state === "suspect";
}

function view(m: Member): MemberView {
  return { name: m.name, address: m.address, role: m.role, state: m.state, incarnation: m.incarnation };
}

function aliveUpdate(m: Member): Update {
  return { kind: "alive", name: m.name, incarnation: m.incarnation, address: m.address, role: m.role };
}

function suspectUpdate(m: Member, from: string): Update {
  return { kind: "suspect", name: m.name, incarnation: m.incarnation, from };
}
