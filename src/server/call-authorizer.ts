// The one authorization check of every RPC, on the gRPC fast path, in the Connect router and for the
// cluster's admin operations. A call's principal is its connection's verified certificate CN, else
// the principal of its bearer token (--tokens), else nobody (anonymous). Each procedure is one
// action; with an ACL configured an anonymous call to it is UNAUTHENTICATED and a principal the
// ACL does not allow is PERMISSION_DENIED, each logged with principal and action. Health checks are
// open, but watching health (a stream that lasts) needs a principal, any: an anonymous caller could
// otherwise hold every stream the node allows open. Without an ACL every call is allowed (the
// single-node default on loopback). A stream is checked again whenever the ACL or the tokens are
// reloaded (watch): one its caller may no longer make is ended with the refusal, so that taking a
// permission away also stops the streams already open under it.
import { PermissionDeniedError, UnauthenticatedError } from "../errors.ts";
import type { Acl } from "../security/acl.ts";
import type { Action } from "../security/action.ts";
import type { TokenTable } from "../security/token-table.ts";
import type { Logger } from "./logger.ts";

/** Procedures anyone may call: health checks (probes and load balancers carry no credentials). */
const OPEN_SERVICES = new Set(["grpc.health.v1.Health"]);
/** Procedures of open services that still need a principal (any): streams that stay open. */
const AUTHENTICATED_PROCEDURES = new Set(["/grpc.health.v1.Health/Watch"]);

/**
 * Reflection describes the services and their messages: who may read the log may learn its schema
 * (buf curl --reflect sends its credentials with --reflect-header). It reveals no records.
 */
const CONSUME_SERVICES = new Set(["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]);

const LOG_ACTIONS: Readonly<Record<string, Action>> = {
  Produce: "produce",
  ProduceStream: "produce",
  ProduceBatch: "produce",
  Consume: "consume",
  ConsumeStream: "consume",
  ConsumeBatch: "consume",
  ConsumeBatchStream: "consume",
  OffsetForTimestamp: "consume",
  GetOffsets: "consume",
  // The members' addresses are for those who may read the log (clients use them to route).
  GetServers: "consume",
};

/**
 * The action of `procedure` ("/package.Service/Method"), or undefined for an open one. A procedure
 * not listed needs admin, the strictest, so that a new RPC is never open by omission.
 */
function actionOf(procedure: string): Action | undefined {
  const [, service = "", method = ""] = procedure.split("/");
  if (OPEN_SERVICES.has(service)) return undefined;
  if (CONSUME_SERVICES.has(service)) return "consume";
  if (service === "log.v1.Log") return LOG_ACTIONS[method] ?? "admin";
  return "admin";
}

export interface CallCredentials {
  /** The CN of the connection's verified client certificate. */
  readonly certificatePrincipal: string | undefined;
  /** The call's `authorization` header. */
  readonly authorization: string | undefined;
}

export interface Authorization {
  readonly acl: Acl | undefined;
  readonly tokens: TokenTable | undefined;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** The reason a refusal by authorize() is counted under (loghouse_rejected_calls_total). */
export function rejectionReasonOf(error: unknown): "unauthenticated" | "permission_denied" {
  return error instanceof UnauthenticatedError ? "unauthenticated" : "permission_denied";
}

/** A stream being served, checked again at each reload. */
interface OpenStream {
  readonly procedure: string;
  readonly credentials: CallCredentials;
  /** Ends the stream with `refusal`. */
  readonly revoke: (refusal: unknown) => void;
}

export class CallAuthorizer {
  private readonly streams = new Set<OpenStream>();

  constructor(
    private current: Authorization,
    private readonly logger: Logger,
  ) {}

  /** Takes a reloaded ACL and token table; calls from now on, and the streams open, are checked against them. */
  replace(next: Authorization): void {
    this.current = next;
    for (const stream of this.streams) {
      try {
        this.authorize(stream.procedure, stream.credentials);
      } catch (refusal) {
        this.streams.delete(stream);
        stream.revoke(refusal);
      }
    }
  }

  /**
   * Checks the stream of an authorized call again at each reload until the returned function is
   * called (when it ends); one no longer allowed is ended through `revoke`, with the refusal.
   */
  watch(procedure: string, credentials: CallCredentials, revoke: (refusal: unknown) => void): () => void {
    const stream = { procedure, credentials, revoke };
    this.streams.add(stream);
    return () => this.streams.delete(stream);
  }

  /**
   * Throws UnauthenticatedError or PermissionDeniedError unless the caller may make the call; returns
   * the principal it is made as (undefined: anonymous, or a node without an ACL).
   */
  authorize(procedure: string, credentials: CallCredentials): string | undefined {
    if (this.current.acl === undefined) return undefined;
    const action = actionOf(procedure);
    const principal = this.principalOf(credentials, procedure, action);
    if (action !== undefined) this.authorizeAction(action, principal, procedure);
    else if (principal === undefined && AUTHENTICATED_PROCEDURES.has(procedure)) {
      this.logger.warn("call refused: anonymous", { procedure });
      throw new UnauthenticatedError(`${procedure} needs a client certificate or a bearer token (an anonymous caller may use the health Check)`);
    }
    return principal;
  }

  /** Checks `action` for `principal` (for operations that are not one RPC of their own, `procedure` is absent). */
  authorizeAction(action: Action, principal: string | undefined, procedure?: string): void {
    const { acl } = this.current;
    if (acl === undefined) return;
    if (principal === undefined) {
      this.logger.warn("call refused: anonymous", { procedure, action });
      throw new UnauthenticatedError(`${action} needs a client certificate or a bearer token`);
    }
    if (!acl.allows(principal, action)) {
      this.logger.warn("call refused: not allowed", { principal, procedure, action });
      throw new PermissionDeniedError(`${principal} may not ${action}`);
    }
  }

  private principalOf(credentials: CallCredentials, procedure: string, action: Action | undefined): string | undefined {
    if (credentials.certificatePrincipal !== undefined) return credentials.certificatePrincipal;
    if (credentials.authorization === undefined) return undefined;
    const token = BEARER.exec(credentials.authorization)?.[1];
    const principal = token === undefined ? undefined : this.current.tokens?.principalOf(token);
    if (principal === undefined) {
      // A credential that does not check out is refused, not taken as anonymous.
      this.logger.warn("call refused: unknown bearer token", { procedure, action });
      throw new UnauthenticatedError("unknown bearer token");
    }
    return principal;
  }
}
