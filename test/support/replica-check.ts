// The end-of-run check of a fault run: compares what every node holds with what was acknowledged.
// Each value written is unique, so an acknowledged value seen at another offset was moved, and any
// value of user data seen twice (acknowledged or not: a retried produce whose outcome was never
// learned must not land twice either) was duplicated.
import assert from "node:assert/strict";

/** The type of a record a producer wrote (the others are the cluster's own: batch marks, membership). */
const USER_DATA_TYPE = 0;

export interface StoredRecord {
  readonly offset: number;
  readonly type: number;
  /** The value, hex-encoded. */
  readonly value: string;
}

export interface ReplicaReport {
  readonly acknowledged: number;
  /** Acknowledged records absent from the reference node. */
  readonly lost: number;
  /** User data values stored more than once on the reference node, acknowledged or not. */
  readonly duplicated: number;
  /** Acknowledged values stored at another offset than the one acknowledged. */
  readonly moved: number;
  /** Nodes whose records differ from the reference node's at any offset both hold. */
  readonly divergentNodes: number;
  /** Up to 20 examples of what went wrong. */
  readonly examples: string[];
}

/**
 * Checks `replicas` (node id → its committed records, in offset order) against `acknowledged`
 * (offset → value hex). The reference is the node holding the most records.
 */
export function checkReplicas(acknowledged: ReadonlyMap<number, string>, replicas: ReadonlyMap<number, readonly StoredRecord[]>): ReplicaReport {
  const examples: string[] = [];
  const note = (text: string): void => {
    if (examples.length < 20) examples.push(text);
  };
  const [referenceId, reference] = [...replicas].reduce((best, entry) => (entry[1].length > best[1].length ? entry : best));
  const byOffset = new Map(reference.map((record) => [record.offset, record]));
  const offsetsByValue = new Map<string, number[]>();
  for (const record of reference) offsetsByValue.set(record.value, [...(offsetsByValue.get(record.value) ?? []), record.offset]);
  let lost = 0;
  let moved = 0;
  for (const [offset, value] of acknowledged) {
    const offsets = offsetsByValue.get(value) ?? [];
    if (offsets.length === 0) {
      lost++;
      note(`lost: offset ${offset}`);
    } else if (!offsets.includes(offset)) {
      moved++;
      note(`moved: offset ${offset} found at ${offsets.join(",")}`);
    }
  }
  let duplicated = 0;
  for (const record of reference) {
    const offsets = offsetsByValue.get(record.value)!;
    if (record.type !== USER_DATA_TYPE || offsets.length < 2 || offsets[0] !== record.offset) continue;
    duplicated++;
    const acknowledgedOffset = offsets.find((at) => acknowledged.get(at) === record.value);
    note(`duplicated: stored at ${offsets.join(",")}, ${acknowledgedOffset === undefined ? "never acknowledged" : `acknowledged at ${acknowledgedOffset}`}`);
  }
  let divergentNodes = 0;
  for (const [id, records] of replicas) {
    const differing = records.find((record) => {
      const other = byOffset.get(record.offset);
      return other === undefined ? false : other.value !== record.value || other.type !== record.type;
    });
    if (differing !== undefined) {
      divergentNodes++;
      note(`divergent: node ${id} differs from node ${referenceId} at offset ${differing.offset}`);
    }
  }
  return { acknowledged: acknowledged.size, lost, duplicated, moved, divergentNodes, examples };
}

/** Asserts that `replicas` lost, duplicated and moved nothing acknowledged, and do not diverge (checkReplicas), naming examples if they do. */
export function assertReplicasIntact(acknowledged: ReadonlyMap<number, string>, replicas: ReadonlyMap<number, readonly StoredRecord[]>): void {
  const report = checkReplicas(acknowledged, replicas);
  assert.deepEqual(
    { lost: report.lost, duplicated: report.duplicated, moved: report.moved, divergentNodes: report.divergentNodes },
    { lost: 0, duplicated: 0, moved: 0, divergentNodes: 0 },
    report.examples.join("; ") || "no examples",
  );
}
