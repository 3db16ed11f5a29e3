// The standard grpc.health.v1.Health service (gRPC's health-checking protocol): "" (the whole
// server) and each named service report SERVING until shutdown begins, then NOT_SERVING. Watch
// streams send the current status and every change, waiting without polling.
import { Code, ConnectError } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus, type HealthCheckRequest } from "../gen/grpc/health/v1/health_pb.ts";
import type { CallContext, ServiceHandlers } from "./call-context.ts";

export { ServingStatus };

/** The serving status of the server and its services, with change notification. */
export class HealthState {
  private status = ServingStatus.SERVING;
  private changed = new EventTarget();

  constructor(private readonly services: ReadonlySet<string>) {}

  /** Status of `service` ("" is the whole server); undefined for a service this server does not have. */
  statusOf(service: string): ServingStatus | undefined {
    if (service !== "" && !this.services.has(service)) return undefined;
    return this.status;
  }

  set(status: ServingStatus): void {
    if (status === this.status) return;
    this.status = status;
    this.changed.dispatchEvent(new Event("change"));
  }

  /** Resolves at the next change; rejects with the signal's reason when it aborts. */
  nextChange(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.changed.removeEventListener("change", onChange);
        reject(signal.reason);
      };
      const onChange = (): void => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      this.changed.addEventListener("change", onChange, { once: true });
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}

export function createHealthService(state: HealthState): ServiceHandlers<typeof Health> {
  return {
    async check(request: HealthCheckRequest) {
      const status = state.statusOf(request.service);
      if (status === undefined) throw new ConnectError(`unknown service: ${request.service}`, Code.NotFound);
      return { status };
    },
    async *watch(request: HealthCheckRequest, context: CallContext) {
      for (let last: ServingStatus | undefined; ; ) {
        const status = state.statusOf(request.service) ?? ServingStatus.SERVICE_UNKNOWN;
        if (status !== last) yield { status };
        last = status;
        await state.nextChange(context.signal);
      }
    },
  };
}
