// Public surface of the storage layer.
export { Log, type LogDependencies, type LogEvents, type LogMetrics, type RawFrames, type RecoveryReport } from "./log.ts";
export type { DamagedRange, ScrubOptions, ScrubReport } from "./scrub.ts";
export { defaultLogConfig, resolveLogConfig, type DurabilityPolicy, type LogConfig } from "./config.ts";
export { COMPACT_HEADER_BYTES, FULL_HEADER_BYTES, type LogRecord } from "./frame.ts";
export type { AppendOptions, ReadLimits, RecordLog } from "./record-log.ts";
export { isGathered, largestValueBytes, valueCount, valueViews, type AppendValues, type GatheredValues } from "./gathered-values.ts";
export { checkRecordBytes } from "./append-batch.ts";
export { FREE_SPACE_PROBE_EVERY_MS, noSpaceAsStorageFull } from "./full-disk.ts";
export type { AppendCall, ServedLog } from "./served-log.ts";
export { BATCH_MARK_TYPE, decodeBatchMark, type BatchMark, type ProducerBatch } from "./batch-mark.ts";
export { ProducerAppends, storedValuesIn } from "./producer-appends.ts";
export { defaultProducerLimits, resolveProducerLimits, type AppendedBatch, type ProducerLimits, type ProducerTableOptions } from "./producer-sequences.ts";
export { LogProducers, type ProducerAppender } from "./log-producers.ts";
