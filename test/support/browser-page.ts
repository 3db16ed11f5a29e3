// The script of the page that test/server-browser.test.ts loads into Chromium (bundled by esbuild):
// a browser client of the node over Connect (JSON and binary) and gRPC-Web, from another origin,
// with no proxy; given a token, over HTTPS with it as a bearer token. It leaves its findings in
// window.loghouseResults (or window.loghouseError).
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { Log } from "../../src/gen/log/v1/log_pb.ts";
import { bearerToken } from "../../src/web.ts";

const parameters = new URLSearchParams(location.search);
const baseUrl = parameters.get("server")!;
const token = parameters.get("token");
const interceptors = token === null ? [] : [bearerToken(token)];
const variants: Array<[string, Transport]> = [
  ["connect-json", createConnectTransport({ baseUrl, interceptors })],
  ["connect-binary", createConnectTransport({ baseUrl, useBinaryFormat: true, interceptors })],
  ["grpc-web", createGrpcWebTransport({ baseUrl, interceptors })],
];
const decoder = new TextDecoder();
const encoder = new TextEncoder();

async function exercise(name: string, transport: Transport): Promise<Record<string, unknown>> {
  const log = createClient(Log, transport);
  const { offset } = await log.produce({ record: { value: encoder.encode(`hello from ${name}`) } });
  const consumed = await log.consume({ offset });
  let outOfRange = "";
  try {
    await log.consume({ offset: 2n ** 64n - 1n });
  } catch (error) {
    const connectError = ConnectError.from(error);
    outOfRange = `${Code[connectError.code]}: ${connectError.rawMessage}`;
  }
  // Follow the tail: start a stream at the end, then append from here and see it arrive.
  const { endOffset } = await log.getOffsets({});
  const abort = new AbortController();
  const tail: string[] = [];
  const following = (async () => {
    for await (const response of log.consumeStream({ offset: endOffset }, { signal: abort.signal })) {
      tail.push(decoder.decode(response.record!.value));
      abort.abort();
    }
  })().catch((error: unknown) => {
    if (ConnectError.from(error).code !== Code.Canceled) throw error;
  });
  await log.produceBatch({ values: [encoder.encode(`tail ${name}`)] });
  await following;
  return { offset: offset.toString(), consumed: decoder.decode(consumed.record!.value), outOfRange, tail };
}

const results: Record<string, unknown> = {};
(async () => {
  for (const [name, transport] of variants) results[name] = await exercise(name, transport);
  if (token !== null) {
    // Without the token the node does not know the caller.
    const anonymous = createClient(Log, createConnectTransport({ baseUrl }));
    results.withoutToken = await anonymous.getOffsets({}).then(
      () => "allowed",
      (error: unknown) => Code[ConnectError.from(error).code],
    );
  }
  (window as unknown as { loghouseResults: unknown }).loghouseResults = results;
})().catch((error: unknown) => {
  (window as unknown as { loghouseError: string }).loghouseError = String((error as Error)?.stack ?? error);
});
