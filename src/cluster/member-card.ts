// A member's name and address as one membership change carries them (the change's address field,
// opaque to the Raft core): `name@host:port`. A name never holds '@' (node-name.ts), so the first
// '@' splits the two. Every member learns each member's name and address from the log this way,
// and the bootstrap node's, which no entry carries, from the join answer (admin-protocol.ts).
import { isNodeName } from "./node-name.ts";

export function encodeMemberCard(name: string, address: string): string {
  return `${name}@${address}`;
}

/** The name and address in a change's address field; a bare address (no name) gives no name. */
export function decodeMemberCard(field: string): { readonly name: string | undefined; readonly address: string } {
  const at = field.indexOf("@");
  const name = field.slice(0, at);
  if (at < 0 || !isNodeName(name)) return { name: undefined, address: field };
  return { name, address: field.slice(at + 1) };
}
