// Public surface of the loghouse package: the node (server), the Node client, the wire contract's
// generated descriptors (for connect-es clients, e.g. in browsers), and the error catalogue.
export { LoghouseClient, type ClientOptions, type ClientTlsOptions, type ConsumedRecord, type ConsumeOptions, type ReadOptions, type AbortOptions } from "./client/client.ts";
export { Producer, type ProducerOptions } from "./client/producer.ts";
export { ClusterClient, type ClusterClientOptions } from "./client/cluster-client.ts";
export type { ProduceDelivery } from "./client/retry-policy.ts";
export { LoghouseServer, type ServerOptions } from "./server/server.ts";
export { defaultServerLimits, resolveServerConfig, type ServerConfig, type ServerConfigInput, type ServerLimits } from "./server/config.ts";
export { defaultProducerLimits, type ProducerLimits } from "./storage/producer-sequences.ts";
export { jsonLogger, silentLogger, type Logger, type LogLevel } from "./server/logger.ts";
export { Log as LogService } from "./gen/log/v1/log_pb.ts";
export { Health as HealthService } from "./gen/grpc/health/v1/health_pb.ts";
export { Admin as AdminService } from "./gen/loghouse/admin/v1/admin_pb.ts";
export * from "./errors.ts";
