// The tracer of a node started with --otlp-endpoint: OpenTelemetry's SDK, spans batched and posted as
// OTLP/HTTP JSON, the current span carried through calls and promises by an AsyncLocalStorage, and
// W3C trace context (traceparent) read from callers and written into forwarded calls. Imported only
// by startTracing (tracing.ts), so a node without tracing never loads this file or OpenTelemetry.
import { diag, DiagLogLevel, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { AsyncLocalStorage } from "node:async_hooks";
import type { SpanOptions, TraceSpan, Tracer, TracingOptions } from "./tracing.ts";

/** How long shutdown waits for the last spans to be sent: a collector that is down must not hold up a node's exit. */
const SHUTDOWN_FLUSH_MS_MAX = 3_000;

const KINDS = { server: SpanKind.SERVER, client: SpanKind.CLIENT, internal: SpanKind.INTERNAL } as const;

/** Reads and writes headers as plain objects (both ends of a call use lower-case names). */
const headerGetter = {
  keys: (carrier: Record<string, string>) => Object.keys(carrier),
  get: (carrier: Record<string, string>, key: string) => carrier[key],
};
const headerSetter = {
  set: (carrier: Record<string, string>, key: string, value: string) => {
    carrier[key] = value;
  },
};

/** A span and the context it is current in. */
class RunningSpan implements TraceSpan {
  constructor(
    private readonly span: Span,
    private readonly context: Context,
    private readonly current: AsyncLocalStorage<Context>,
  ) {}

  setAttribute(key: string, value: string | number | boolean): void {
    this.span.setAttribute(key, value);
  }

  run<T>(step: () => T): T {
    return this.current.run(this.context, step);
  }

  end(error?: unknown): void {
    if (error !== undefined) {
      this.span.recordException(error as Error);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
    }
    this.span.end();
  }
}

export class OtlpTracer implements Tracer {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: ReturnType<BasicTracerProvider["getTracer"]>;
  private readonly propagator = new W3CTraceContextPropagator();
  private readonly current = new AsyncLocalStorage<Context>();

  constructor(options: TracingOptions) {
    // The exporter reports failures (a collector down, say) through OpenTelemetry's diagnostic logger.
    const warn = (message: string): void => options.logger.warn("tracing: OpenTelemetry reports a problem", { detail: message });
    diag.setLogger({ error: warn, warn, info: () => undefined, debug: () => undefined, verbose: () => undefined }, DiagLogLevel.WARN);
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ "service.name": "loghouse", "service.instance.id": options.nodeId }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: options.tracesUrl }))],
    });
    this.tracer = this.provider.getTracer("loghouse");
  }

  startSpan(name: string, options: SpanOptions): TraceSpan {
    const parent = this.parentOf(options);
    const span = this.tracer.startSpan(name, { kind: KINDS[options.kind], ...(options.attributes === undefined ? {} : { attributes: options.attributes }) }, parent);
    return new RunningSpan(span, trace.setSpan(parent, span), this.current);
  }

  async inSpan<T>(name: string, options: SpanOptions, work: (span: TraceSpan) => Promise<T>): Promise<T> {
    const span = this.startSpan(name, options);
    try {
      const result = await span.run(() => work(span));
      span.end();
      return result;
    } catch (error) {
      span.end(error);
      throw error;
    }
  }

  propagationHeaders(): Record<string, string> {
    const headers: Record<string, string> = {};
    const active = this.current.getStore();
    if (active !== undefined) this.propagator.inject(active, headers, headerSetter);
    return headers;
  }

  async shutdown(): Promise<void> {
    const givingUp = new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_FLUSH_MS_MAX).unref());
    await Promise.race([this.provider.shutdown(), givingUp]);
    diag.disable();
  }

  /** The caller's context from its traceparent if it sent one, else the current span's, else none. */
  private parentOf(options: SpanOptions): Context {
    if (options.traceparent !== undefined && options.traceparent !== null) {
      return this.propagator.extract(ROOT_CONTEXT, { traceparent: options.traceparent }, headerGetter);
    }
    return this.current.getStore() ?? ROOT_CONTEXT;
  }
}
