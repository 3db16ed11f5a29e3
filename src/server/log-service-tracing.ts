// Server spans around the log service's produce RPCs, for a node started with tracing (a node without
// it serves the handlers unwrapped). The span's parent is the caller's traceparent header when it
// sends one (a follower forwarding an append does), and the appends the handler makes are its
// children. A ProduceStream has one span for the whole call, counting its messages: a span per
// message would cost more than the message itself.
import type { SpanAttributes, SpanOptions, TraceSpan, Tracer } from "../observability/tracing.ts";
import { valueCount } from "../storage/index.ts";
import type { CallContext } from "./call-context.ts";
import type { LogHandlers } from "./log-service.ts";

function serverSpan(method: string, context: CallContext, attributes: SpanAttributes = {}): SpanOptions {
  return {
    kind: "server",
    traceparent: context.requestHeader?.get("traceparent"),
    attributes: { "rpc.system": "grpc", "rpc.service": "log.v1.Log", "rpc.method": method, ...attributes },
  };
}

/** Yields `answers`, each step run in `span`, which ends with the stream (counting its messages). */
async function* inStreamSpan<T>(span: TraceSpan, answers: AsyncIterable<T>): AsyncGenerator<T> {
  const iterator = answers[Symbol.asyncIterator]();
  let messages = 0;
  let failure: unknown;
  try {
    for (;;) {
      const next = await span.run(() => iterator.next());
      if (next.done === true) return;
      messages++;
      yield next.value;
    }
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    span.setAttribute("loghouse.messages", messages);
    span.end(failure);
    await iterator.return?.();
  }
}

/** `handlers` with Produce, ProduceBatch and ProduceStream each in a server span. */
export function traceProduces(handlers: LogHandlers, tracer: Tracer): LogHandlers {
  return {
    ...handlers,
    produce: (request, context) => tracer.inSpan("log.v1.Log/Produce", serverSpan("Produce", context), async () => handlers.produce(request, context)),
    produceBatch: (request, context) =>
      tracer.inSpan("log.v1.Log/ProduceBatch", serverSpan("ProduceBatch", context, { "loghouse.records": valueCount(request.values) }), async () => handlers.produceBatch(request, context)),
    produceStream: (requests, context) => inStreamSpan(tracer.startSpan("log.v1.Log/ProduceStream", serverSpan("ProduceStream", context)), handlers.produceStream(requests, context)),
  };
}
