// Public surface of the storage layer.
export { Log, type AppendOptions, type RawFrames, type ReadLimits, type RecoveryReport } from "./log.ts";
export { defaultLogConfig, resolveLogConfig, type DurabilityPolicy, type LogConfig } from "./config.ts";
export { COMPACT_HEADER_BYTES, FULL_HEADER_BYTES, type LogRecord } from "./frame.ts";
export type { ServedLog } from "./served-log.ts";
