// A scripted log.v1.Log served by grpc-js over a real socket, for the routing client's failures that
// a real node cannot make on demand: each produce (one record or a batch) and read is answered with
// the next scripted answer, GetServers with the members the test names, and a following stream with
// the record at the offset asked for (then it stays open), and the admin service's RemoveMember by the
// script too. Counts the produce, read and admin calls.
import * as grpc from "@grpc/grpc-js";
import type { TestContext } from "node:test";
import { grpcServiceDefinition } from "../../src/client/grpc-definition.ts";
import { Log } from "../../src/gen/log/v1/log_pb.ts";
import { Admin } from "../../src/gen/loghouse/admin/v1/admin_pb.ts";
import { CLUSTER_ID_HEADER } from "../../src/wire/cluster-id.ts";
import { cleanup } from "./cleanup.ts";

/** A scripted answer: success, a failure, or "vanish": the node shuts down mid-call, answering nothing (an ambiguous failure after which it is gone). */
export type Answer = Partial<grpc.ServiceError> | "ok" | "vanish";

/** A member as GetServers names it. */
export interface ScriptedMember {
  readonly id: string;
  readonly rpcAddr: string;
  readonly isLeader: boolean;
  readonly term?: bigint;
}

export interface ScriptedNodeOptions {
  /** The port to listen on (default: any free one). */
  readonly port?: number;
  /** The members GetServers answers, asked each time (default: this node alone, leading). */
  readonly members?: (self: string) => ScriptedMember[];
  /** The cluster id GetServers answers (default: none, as a node alone). */
  readonly clusterId?: string;
  /** How long GetServers takes to answer, in ms (default: at once). */
  readonly serversDelayMs?: number;
}

export interface ScriptedNode {
  readonly address: string;
  /** Produce, read and admin calls answered (or vanished on) so far. */
  calls(): number;
  /** The produce and produceBatch requests received, in order. */
  readonly produced: object[];
  /** The loghouse-cluster-id header of each produce received ("" where absent), in order. */
  readonly producedFor: string[];
}

/** A failure as a node sends it: a status, and the catalogue's code in the metadata when it has one. */
export function failure(code: grpc.status, catalogueCode?: string): Partial<grpc.ServiceError> {
  const metadata = new grpc.Metadata();
  if (catalogueCode !== undefined) metadata.set("loghouse-error-code", catalogueCode);
  return { code, details: catalogueCode ?? "connection lost", metadata };
}

/** Starts a scripted node that stops when test `t` ends; produces are answered offset 7, reads the record "seven" at 7. */
export async function scriptedNode(t: TestContext, answers: Answer[], options: ScriptedNodeOptions = {}): Promise<ScriptedNode> {
  const server = new grpc.Server();
  let address = "";
  let calls = 0;
  const produced: object[] = [];
  const producedFor: string[] = [];
  const members = options.members ?? ((self: string) => [{ id: "1", rpcAddr: self, isLeader: true }]);
  const next = <T>(value: T, callback: grpc.sendUnaryData<T>): void => {
    calls++;
    const answer = answers.shift() ?? "ok";
    if (answer === "ok") callback(null, value);
    else if (answer === "vanish") server.forceShutdown();
    else callback(answer);
  };
  server.addService(grpcServiceDefinition(Log, false), {
    getServers: (_call: unknown, callback: grpc.sendUnaryData<object>) => {
      const answer = (): void => callback(null, { servers: members(address).map((member) => ({ isVoter: true, ...member })), clusterId: options.clusterId ?? "" });
      if (options.serversDelayMs === undefined) answer();
      else setTimeout(answer, options.serversDelayMs);
    },
    produce: (call: { request: object; metadata: grpc.Metadata }, callback: grpc.sendUnaryData<object>) => {
      produced.push(call.request);
      producedFor.push(String(call.metadata.get(CLUSTER_ID_HEADER)[0] ?? ""));
      next({ offset: 7n }, callback);
    },
    produceBatch: (call: { request: { values: unknown[] }; metadata: grpc.Metadata }, callback: grpc.sendUnaryData<object>) => {
      produced.push(call.request);
      producedFor.push(String(call.metadata.get(CLUSTER_ID_HEADER)[0] ?? ""));
      next({ firstOffset: 7n, count: call.request.values.length }, callback);
    },
    consume: (_call: unknown, callback: grpc.sendUnaryData<object>) => next({ record: { value: Buffer.from("seven"), offset: 7n } }, callback),
    consumeBatchStream: (call: grpc.ServerWritableStream<{ offset: bigint }, object>) => {
      call.write({ records: [{ value: Buffer.from("seven"), offset: call.request.offset }], nextOffset: call.request.offset + 1n });
    },
  });
  server.addService(grpcServiceDefinition(Admin, false), {
    removeMember: (_call: unknown, callback: grpc.sendUnaryData<object>) => next({}, callback),
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (error, at) => (error ? reject(error) : resolve(at))),
  );
  address = `127.0.0.1:${bound}`;
  cleanup(t, () => server.forceShutdown());
  return { address, calls: () => calls, produced, producedFor };
}
