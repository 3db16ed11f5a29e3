// Plain HTTP endpoints on the node's one port, beside the RPCs: whatever no RPC route matches
// (over HTTP/1.1 or HTTP/2, with TLS or without) is looked up here by method and path, and
// anything not registered is a 404. Metrics, health probes and the console register here.
import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";

type Fallback = NonNullable<ConnectNodeAdapterOptions["fallback"]>;
export type HttpRequest = Parameters<Fallback>[0];
export type HttpResponse = Parameters<Fallback>[1];
export type HttpRoute = (request: HttpRequest, response: HttpResponse, path: string) => void | Promise<void>;

export class HttpRoutes {
  private readonly exact = new Map<string, HttpRoute>();
  private readonly prefixes: Array<{ prefix: string; route: HttpRoute }> = [];

  /** Serves GET (and HEAD) requests for exactly `path`. */
  get(path: string, route: HttpRoute): void {
    if (this.exact.has(path)) throw new Error(`an HTTP route for ${path} exists already`);
    this.exact.set(path, route);
  }

  /** Serves GET (and HEAD) requests for every path under `prefix` (which ends with "/"). */
  getUnder(prefix: string, route: HttpRoute): void {
    if (!prefix.endsWith("/")) throw new Error(`an HTTP route prefix ends with "/": ${prefix}`);
    this.prefixes.push({ prefix, route });
  }

  /** The fallback for requests no RPC matched. */
  readonly handle = (request: HttpRequest, response: HttpResponse): void => {
    const path = new URL(request.url ?? "/", "http://node").pathname;
    const route = this.exact.get(path) ?? this.prefixes.find(({ prefix }) => path.startsWith(prefix))?.route;
    if (route === undefined || (request.method !== "GET" && request.method !== "HEAD")) {
      respondText(response, route === undefined ? 404 : 405, route === undefined ? "not found\n" : "method not allowed\n");
      return;
    }
    Promise.resolve()
      .then(() => route(request, response, path))
      .catch(() => {
        if (!response.headersSent) respondText(response, 500, "internal error\n");
        else response.end();
      });
  };
}

/** Ends `response` with a plain-text body. */
export function respondText(response: HttpResponse, status: number, body: string, contentType = "text/plain; charset=utf-8"): void {
  response.statusCode = status;
  response.setHeader("content-type", contentType);
  response.setHeader("content-length", Buffer.byteLength(body));
  response.end(body);
}
