// A node process holding many small records ("record N" at offset N), with a gRPC test client to it:
// the set-up of tests that attack a node with reads.
import { join } from "node:path";
import type { TestContext } from "node:test";
import { cleanup } from "./cleanup.ts";
import { grpcTestClient, type GrpcTestClient } from "./grpc-log-client.ts";
import { startNode, stopNode, type NodeProcess } from "./node-process.ts";
import { tempDir } from "./temp-dir.ts";

const BATCH_RECORDS = 50_000;

export async function startFilledNode(t: TestContext, records: number): Promise<{ node: NodeProcess; client: GrpcTestClient }> {
  const node = await startNode(["--data-dir", join(await tempDir(t), "data"), "--listen", "127.0.0.1:0"]);
  cleanup(t, () => stopNode(node));
  const client = grpcTestClient(node.address);
  cleanup(t, () => client.close());
  for (let first = 0; first < records; first += BATCH_RECORDS) {
    const count = Math.min(BATCH_RECORDS, records - first);
    await client.unary("produceBatch", { values: Array.from({ length: count }, (_, i) => Buffer.from(`record ${first + i}`)) });
  }
  return { node, client };
}
