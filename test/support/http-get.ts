// A plain GET over HTTP/1.1 or HTTP/2 (prior knowledge, or ALPN over TLS), for the node's probes and
// metrics and for Prometheus's query API: the status, the content type and the whole body.
import * as http from "node:http";
import * as http2 from "node:http2";
import * as https from "node:https";

export interface HttpAnswer {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: string;
}

export interface HttpGetOptions {
  readonly http2?: boolean;
  /** The CA to trust: the URL is then https. */
  readonly ca?: Buffer;
}

export function httpGet(url: string, options: HttpGetOptions = {}): Promise<HttpAnswer> {
  return options.http2 === true ? http2Get(url, options.ca) : http1Get(url, options.ca);
}

function http1Get(url: string, ca: Buffer | undefined): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const onResponse = (response: http.IncomingMessage): void => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.once("end", () => resolve({ status: response.statusCode ?? 0, contentType: response.headers["content-type"], body }));
      response.once("error", reject);
    };
    const request = ca === undefined ? http.get(url, { agent: false }, onResponse) : https.get(url, { agent: false, ca }, onResponse);
    request.once("error", reject);
  });
}

function http2Get(url: string, ca: Buffer | undefined): Promise<HttpAnswer> {
  const { origin, pathname, search } = new URL(url);
  return new Promise((resolve, reject) => {
    const session = http2.connect(origin, ca === undefined ? {} : { ca });
    session.once("error", reject);
    const stream = session.request({ ":path": `${pathname}${search}` });
    let status = 0;
    let contentType: string | undefined;
    let body = "";
    stream.setEncoding("utf8");
    stream.once("response", (headers) => {
      status = Number(headers[":status"]);
      contentType = headers["content-type"];
    });
    stream.on("data", (chunk: string) => (body += chunk));
    stream.once("end", () => {
      session.close();
      resolve({ status, contentType, body });
    });
    stream.once("error", (error) => {
      session.close();
      reject(error);
    });
  });
}

/**
 * The value of one sample in a Prometheus text exposition: `name` with exactly the labels given
 * (in any order; none for a metric without labels), or undefined when the body has no such sample.
 */
export function sampleValue(exposition: string, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  const wanted = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .sort()
    .join(",");
  for (const line of exposition.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found = (match[2] ?? "").split(/,(?=[a-zA-Z_]+=")/).filter((pair) => pair !== "").sort().join(",");
    if (found === wanted) return Number(match[3]);
  }
  return undefined;
}
