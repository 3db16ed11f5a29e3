// The node's plain HTTP endpoints for operators and orchestrators, beside the RPCs on its one port:
//   GET /metrics  the Prometheus text exposition of the node's own registry;
//   GET /healthz  200 "ok" while the process serves HTTP at all (a liveness probe);
//   GET /readyz   200 while the node should get traffic, else 503 with a one-line reason.
// None of them asks for credentials, even with an ACL on: probes carry none (as the gRPC health
// service, which is open too), and Prometheus scrapes without them by default. The metrics hold
// counts, sizes and offsets, never records or principals; an operator who must hide them puts the
// port behind a firewall or a proxy that authenticates /metrics.
import type { NodeMetrics } from "../observability/node-metrics.ts";
import { respondText, type HttpRoutes } from "./http-routes.ts";

export function serveProbes(routes: HttpRoutes, metrics: NodeMetrics, notReadyReason: () => string | undefined): void {
  routes.get("/metrics", async (_request, response) => {
    const { body, contentType } = await metrics.exposition();
    respondText(response, 200, body, contentType);
  });
  routes.get("/healthz", (_request, response) => respondText(response, 200, "ok\n"));
  routes.get("/readyz", (_request, response) => {
    const reason = notReadyReason();
    if (reason === undefined) respondText(response, 200, "ready\n");
    else respondText(response, 503, `not ready: ${reason}\n`);
  });
}
