// Traces, off by default: what the server and the cluster ask of a tracer, and the one way to get a
// real one (startTracing), which loads OpenTelemetry only then. A node started without an OTLP
// endpoint never imports an OpenTelemetry module and its services are built without tracing, so
// it pays nothing at start-up or per call.
//
// Spans (README, "Logs, reflection and traces"): the server side of Produce, ProduceBatch and
// ProduceStream (one span per call; a stream's span counts its messages rather than having one span
// each), the append under each (from handing the records to the log until they are durable: fsynced
// on one node, committed on a majority in a cluster), and on a follower the forward of an append to
// the leader, whose trace context travels in the forwarded call's W3C traceparent header, so the
// leader's spans are its children. A traceparent sent by a client is the parent of the server span.
import { InvalidConfigError } from "../errors.ts";
import type { Logger } from "../logger.ts";

export type SpanAttributes = Readonly<Record<string, string | number | boolean>>;

export interface SpanOptions {
  readonly kind: "server" | "client" | "internal";
  readonly attributes?: SpanAttributes;
  /**
   * The caller's W3C traceparent (a server span's incoming header): the span's parent. Absent, the
   * parent is the span the code runs in, if any.
   */
  readonly traceparent?: string | null;
}

export interface TraceSpan {
  setAttribute(key: string, value: string | number | boolean): void;
  /** Runs `step` with this span current: what it starts (calls, promises) is the span's child. */
  run<T>(step: () => T): T;
  /** Ends the span; with `error`, marked as failed. */
  end(error?: unknown): void;
}

export interface Tracer {
  /** Starts a span, which the caller runs steps in and ends (a stream's span lasts over many steps). */
  startSpan(name: string, options: SpanOptions): TraceSpan;
  /** Runs `work` in a new span and ends it when the result settles (failed if it rejects). */
  inSpan<T>(name: string, options: SpanOptions, work: (span: TraceSpan) => Promise<T>): Promise<T>;
  /** The headers that carry the current span's context to another node (empty outside a span). */
  propagationHeaders(): Record<string, string>;
  /** Sends the spans not yet exported and stops. */
  shutdown(): Promise<void>;
}

/**
 * Where an OTLP/HTTP endpoint takes spans: a base URL (http://collector:4318, as
 * OTEL_EXPORTER_OTLP_ENDPOINT) gets /v1/traces appended; a URL already ending in it is kept.
 */
export function otlpTracesUrl(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new InvalidConfigError(`--otlp-endpoint must be an http:// or https:// URL, got ${JSON.stringify(endpoint)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new InvalidConfigError(`--otlp-endpoint must be an http:// or https:// URL, got ${JSON.stringify(endpoint)}`);
  if (!url.pathname.endsWith("/v1/traces")) url.pathname = `${url.pathname.replace(/\/+$/, "")}/v1/traces`;
  return url.href;
}

export interface TracingOptions {
  /** The OTLP/HTTP URL spans are posted to (see otlpTracesUrl). */
  readonly tracesUrl: string;
  /** Reported as service.instance.id, to tell the nodes apart. */
  readonly nodeId: string;
  readonly logger: Logger;
}

/** Starts exporting spans to `options.tracesUrl`, loading OpenTelemetry now (and only now). */
export async function startTracing(options: TracingOptions): Promise<Tracer> {
  const { OtlpTracer } = await import("./tracing-otlp.ts");
  return new OtlpTracer(options);
}
