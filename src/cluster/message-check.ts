// Peer messages that no correct peer sends, refused at the edge of the cluster layer before they reach
// the Raft core, whose assertions hold for its own state and for correct peers: a message that would
// trip one is a forgery or a broken peer, and closes that peer's connection instead of crashing the
// node (issue 8: a forged AppendResponse crashed the leader with an assertion).
import { MessageType, Role, type Message, type Status } from "../raft/index.ts";

/** Why `message` is out of protocol for a node in `status`, or undefined when it may be stepped. */
export function outOfProtocol(message: Message, status: () => Status): string | undefined {
  if (message.type === MessageType.Snapshot && message.snapshot === null) return "a snapshot message without a snapshot point";
  if (message.type === MessageType.AppendResponse && !message.reject) {
    const { role, term, lastIndex } = status();
    // A leader's own term: the only acknowledgements it acts on, and they cannot pass its log.
    if (role === Role.Leader && message.term === term && message.index > lastIndex) {
      return `node ${message.from} acknowledged index ${message.index}, beyond this leader's last ${lastIndex}`;
    }
  }
  return undefined;
}
