// Which node the console talks to, and how it finds another when that one stops answering. It starts
// with the page's own origin (the node that served it, or a proxy in front of the cluster) and
// remembers the members' addresses from GetServers; on failover it tries the current node first,
// then the others at the same scheme (through a proxy, the members' addresses are not reachable
// and only the origin answers: it is retried). The bearer token lives in sessionStorage.
import type { Client } from "@connectrpc/connect";
import type { Log } from "../gen/log/v1/log_pb.ts";
import { createLogClient } from "../web.ts";

const TOKEN_KEY = "loghouse-token";
/** A node that does not answer a probe within this long is skipped. */
const PROBE_TIMEOUT_MS = 2_000;

export type LogClient = Client<typeof Log>;

export class NodeConnection {
  private current: string;
  private token: string;
  private members: string[] = [];
  private readonly listeners: Array<(baseUrl: string) => void> = [];
  client: LogClient;

  constructor(private readonly origin: string) {
    this.current = origin;
    this.token = sessionStorage.getItem(TOKEN_KEY) ?? "";
    this.client = this.clientFor(origin);
  }

  /** The node's base URL, such as "http://127.0.0.1:8400". */
  get baseUrl(): string {
    return this.current;
  }

  get bearerToken(): string {
    return this.token;
  }

  /** Calls `listener` whenever the console moves to another node (or changes its token). */
  onChange(listener: (baseUrl: string) => void): void {
    this.listeners.push(listener);
  }

  /** Uses `token` from now on (empty: none), for this tab only. */
  setToken(token: string): void {
    this.token = token;
    if (token === "") sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, token);
    this.moveTo(this.current);
  }

  /** Remembers where the members listen (host:port from GetServers), as failover candidates. */
  rememberMembers(addresses: readonly string[]): void {
    const scheme = new URL(this.origin).protocol;
    this.members = addresses.filter((address) => address !== "").map((address) => `${scheme}//${address}`);
  }

  /** Moves to the first node that answers: this one, the origin, then the other members. Resolves false if none did. */
  async failover(): Promise<boolean> {
    const candidates = [...new Set([this.current, this.origin, ...this.members])];
    for (const baseUrl of candidates) {
      const client = this.clientFor(baseUrl);
      const answered = await client.getOffsets({}, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) }).then(
        () => true,
        () => false,
      );
      if (!answered) continue;
      if (baseUrl !== this.current) this.moveTo(baseUrl);
      return true;
    }
    return false;
  }

  private moveTo(baseUrl: string): void {
    this.current = baseUrl;
    this.client = this.clientFor(baseUrl);
    for (const listener of this.listeners) listener(baseUrl);
  }

  private clientFor(baseUrl: string): LogClient {
    return createLogClient(baseUrl, { binary: true, ...(this.token === "" ? {} : { token: this.token }) });
  }
}
