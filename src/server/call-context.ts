// What a handler sees of its call, and the shape of a service's handlers. Handlers take only the
// call's signal, so the gRPC fast path can call them without building connect's full
// HandlerContext, while connect's router (which passes a HandlerContext) accepts them unchanged.
import type { DescService } from "@bufbuild/protobuf";
import { createContextKey, type ContextValues, type ServiceImpl } from "@connectrpc/connect";

/** Where connect's router keeps the principal the authorizer established (see principalOf). */
export const CALL_PRINCIPAL = createContextKey<string | undefined>(undefined, { description: "the call's principal" });

export interface CallContext {
  /** Aborts when the client cancels, the deadline passes, or the server shuts down. */
  readonly signal: AbortSignal;
  /** The call's request headers (a caller's W3C traceparent, say): connect's Headers, or the fast path's. */
  readonly requestHeader?: { get(name: string): string | null };
  /** What is left of the call's deadline now, in ms (undefined: none); a follower forwards it with an append. */
  timeoutMs?(): number | undefined;
  /** The fast path's principal (see principalOf). */
  readonly principal?: string | undefined;
  /** Connect's context values (see principalOf). */
  readonly values?: ContextValues;
}

/**
 * The principal the call was authorized as on a node with an ACL (its certificate's or its token's);
 * undefined for an anonymous call and on a node without an ACL. The fast path sets it on its call,
 * connect's router in the call's context values.
 */
export function principalOf(context: CallContext): string | undefined {
  return context.principal ?? context.values?.get(CALL_PRINCIPAL);
}

/** A service implementation whose handlers need only a CallContext; assignable to ServiceImpl<S>. */
export type ServiceHandlers<S extends DescService> = {
  [K in keyof ServiceImpl<S>]: (
    input: Parameters<ServiceImpl<S>[K]>[0],
    context: CallContext,
  ) => ReturnType<ServiceImpl<S>[K]>;
};
