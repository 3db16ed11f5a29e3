// A cluster's identity: 16 hex digits drawn once, when the cluster is bootstrapped, and kept by every
// member (raft-state.json; a joining node takes it from the leader's answer). GetServers answers it,
// and the routing client names the cluster it means in the `loghouse-cluster-id` header of each call,
// so that a node of another cluster refuses the call before doing anything. Two clusters answer at
// addresses a caller treats as one when a member that lost its data directory is started with
// --bootstrap instead of --join: without the check, a client that reached it first wrote into that
// second cluster, and every record it acknowledged was missing from the first.
//
// A node that knows no cluster id (a node alone, or a member from before ids were drawn) takes a call
// naming any well-formed id, and a call that names none is not checked: both are as before. A header
// that is no id at all is refused everywhere, so that a client's mistake shows on its first node.
import { ClusterMismatchError, InvalidArgumentError, type LoghouseError } from "../errors.ts";

export const CLUSTER_ID_HEADER = "loghouse-cluster-id";

const CLUSTER_ID = /^[0-9a-f]{16}$/;

export function isClusterId(value: unknown): value is string {
  return typeof value === "string" && CLUSTER_ID.test(value);
}

/** `value` if it is a cluster id, else an InvalidArgumentError naming `what` (an option, a flag). */
export function parseClusterId(value: unknown, what: string): string {
  if (!isClusterId(value)) throw new InvalidArgumentError(`${what} must be a cluster id (16 hex digits, as GetServers and loghouse status show it), got ${JSON.stringify(value)}`);
  return value;
}

/** `{ clusterId }` when it is known, else nothing: the field of a request or answer that names its cluster. */
export function clusterField(clusterId: string | undefined): { clusterId?: string } {
  return clusterId === undefined ? {} : { clusterId };
}

/**
 * The refusal of a request that names cluster `named` (undefined: none) at a node of cluster `own`
 * (undefined: it knows none), or undefined when the two do not disagree.
 */
export function clusterRefusal(named: string | undefined, own: string | undefined): LoghouseError | undefined {
  if (named === undefined || named === own) return undefined;
  if (!CLUSTER_ID.test(named)) return new InvalidArgumentError(`${CLUSTER_ID_HEADER} must be 16 hex digits, got ${JSON.stringify(named.slice(0, 40))}`);
  if (own === undefined) return undefined;
  return new ClusterMismatchError(
    `this node belongs to cluster ${own}, not to cluster ${named}: either the cluster id given is wrong, or two clusters answer at the addresses used (was a member that lost its data started with --bootstrap instead of --join?)`,
  );
}
