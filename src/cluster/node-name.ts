// A node's name: what operators, certificates and GetServers call a node (`--node-id`), as opposed
// to the Raft id its data directory draws (admission.ts). The rule fits a Kubernetes pod name
// (`loghouse-0`) and keeps the old numeric ids (`1`) valid as names.
import { InvalidArgumentError } from "../errors.ts";

export const NODE_NAME_RULE = "letters, digits, '-', '_' and '.', 1 to 63 characters";
const NODE_NAME = /^[A-Za-z0-9._-]{1,63}$/;

export function isNodeName(text: string): boolean {
  return NODE_NAME.test(text);
}

/** `text` as a node name; anything else is an InvalidArgumentError saying the rule. */
export function parseNodeName(text: unknown): string {
  if (typeof text !== "string" || !isNodeName(text)) throw new InvalidArgumentError(`node name must be ${NODE_NAME_RULE}; got ${JSON.stringify(text)}`);
  return text;
}
