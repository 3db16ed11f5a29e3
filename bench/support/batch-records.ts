// How many records the batch trials put in one batch: 10,000, or fewer so that a batch stays near
// 1 MiB (the producer's default batch size) when records are larger, well inside a node's default
// messageBytesMax (8 MiB), which 10,000 records of 1 kB would pass.

/** Records in one batch of `recordBytes`-byte records. */
export function batchRecordsFor(recordBytes: number): number {
  return Math.max(1, Math.min(10_000, Math.floor((1 << 20) / recordBytes)));
}
