// The end-of-run check of a fault run: compares what every node holds with what was acknowledged.
// Each acknowledged value is unique, so a value seen at another offset was moved, and a value seen
// twice was duplicated.

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
  /** Acknowledged values stored more than once on the reference node. */
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
  let duplicated = 0;
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
    if (offsets.length > 1) {
      duplicated++;
      note(`duplicated: offset ${offset} stored at ${offsets.join(",")}`);
    }
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
