// Round trips to the other members, measured by a leader from its heartbeats: from the first
// heartbeat sent to a peer since its last answer, to the next answer. Heartbeats carry no id, so an
// answer pairs with the oldest heartbeat still unanswered; one unanswered for longer than
// STALE_HEARTBEAT_MS (lost, or the peer was down) is forgotten, so that a peer coming back does not
// report its whole absence as one round trip.
import { MessageType, type Message } from "../raft/index.ts";

const STALE_HEARTBEAT_MS = 2_000;

export class PeerRoundTrips {
  /** When the oldest unanswered heartbeat to each peer left. */
  private readonly sentAtMs = new Map<number, number>();
  private readonly lastSeconds = new Map<number, number>();

  /** `now` is a monotonic clock in milliseconds. */
  constructor(private readonly now: () => number) {}

  /** Sees every message this node sends. */
  sent(message: Message): void {
    if (message.type !== MessageType.Heartbeat) return;
    const now = this.now();
    const pending = this.sentAtMs.get(message.to);
    if (pending === undefined || now - pending > STALE_HEARTBEAT_MS) this.sentAtMs.set(message.to, now);
  }

  /** Sees every message this node receives. */
  received(message: Message): void {
    if (message.type !== MessageType.HeartbeatResponse) return;
    const sentAt = this.sentAtMs.get(message.from);
    if (sentAt === undefined) return;
    this.sentAtMs.delete(message.from);
    this.lastSeconds.set(message.from, (this.now() - sentAt) / 1000);
  }

  /** The last round trip measured to `peer`, in seconds, if any. */
  secondsTo(peer: number): number | undefined {
    return this.lastSeconds.get(peer);
  }
}
