// Network namespaces for a fault run: each node runs in a namespace of its own, joined by a veth pair
// to one bridge in the namespace of the run (where the clients are), so that a node's link can be
// cut and restored (a partition) and its packets to one peer dropped (nftables, one way) while every
// process keeps running. Needs CAP_NET_ADMIN (root); `NetworkLab.unavailable()` says why a machine
// cannot, so that a run can report the partitions it skips instead of passing without them.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";

/** Every node listens on this port of its own address. */
const NODE_PORT = 8400;
const BRIDGE_HOST = 254;

export class NetworkLab {
  private readonly cut = new Set<number>();
  /** Node id → the peers it may not send to. */
  private readonly drops = new Map<number, Set<number>>();
  private destroyed = false;

  private constructor(
    private readonly token: string,
    private readonly subnet: string,
    readonly ids: readonly number[],
    /** Whether one-way drops are possible (nftables is installed). */
    readonly oneWay: boolean,
  ) {}

  /** Why namespaces cannot be used here, or undefined when they can. */
  static unavailable(): string | undefined {
    const probe = `lhprobe${randomBytes(3).toString("hex")}`;
    try {
      ip("netns", "add", probe);
      ip("netns", "del", probe);
      return undefined;
    } catch (error) {
      return `network namespaces are not permitted here (${firstLine(error)})`;
    }
  }

  /** Creates a namespace per node in `ids`, all on one new bridge with a fresh /24. */
  static create(ids: readonly number[]): NetworkLab {
    const token = randomBytes(2).toString("hex");
    const subnet = `10.${200 + (process.pid % 50)}.${randomBytes(1)[0]!}`;
    const lab = new NetworkLab(token, subnet, ids, commandExists("nft"));
    try {
      lab.build();
    } catch (error) {
      lab.destroy();
      throw error;
    }
    return lab;
  }

  /** host:port node `id` listens on (and the others dial). */
  address(id: number): string {
    return `${this.subnet}.${id}:${NODE_PORT}`;
  }

  /** `command args` run inside node `id`'s namespace (ip netns exec replaces itself with the command, so the pid is the node's). */
  wrap(id: number, command: string, args: readonly string[]): { command: string; args: string[] } {
    return { command: "ip", args: ["netns", "exec", this.namespace(id), command, ...args] };
  }

  /** Cuts node `id` off from everyone (peers and clients) until restore(). */
  isolate(id: number): void {
    ip("link", "set", this.hostVeth(id), "down");
    this.cut.add(id);
  }

  restore(id: number): void {
    ip("link", "set", this.hostVeth(id), "up");
    this.cut.delete(id);
  }

  isIsolated(id: number): boolean {
    return this.cut.has(id);
  }

  /** Drops every packet node `from` sends to node `to` (answers included), until allow(). */
  dropOneWay(from: number, to: number): void {
    if (!this.oneWay) throw new Error("one-way drops need nftables (nft)");
    const blocked = this.drops.get(from) ?? new Set<number>();
    blocked.add(to);
    this.drops.set(from, blocked);
    this.writeRules(from);
  }

  /** Lets node `from` send to every peer again. */
  allow(from: number): void {
    if (!this.drops.delete(from)) return;
    this.writeRules(from);
  }

  /** Restores every link and lifts every drop. */
  healAll(): void {
    for (const id of [...this.cut]) this.restore(id);
    for (const id of [...this.drops.keys()]) this.allow(id);
  }

  /** Removes the namespaces, links and bridge; safe to call more than once. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const id of this.ids) {
      quietly(() => ip("netns", "del", this.namespace(id)));
      quietly(() => ip("link", "del", this.hostVeth(id)));
    }
    quietly(() => ip("link", "del", this.bridge));
  }

  private build(): void {
    ip("link", "add", this.bridge, "type", "bridge");
    ip("addr", "add", `${this.subnet}.${BRIDGE_HOST}/24`, "dev", this.bridge);
    ip("link", "set", this.bridge, "up");
    for (const id of this.ids) {
      const namespace = this.namespace(id);
      const inner = `${this.hostVeth(id)}i`;
      ip("netns", "add", namespace);
      ip("link", "add", this.hostVeth(id), "type", "veth", "peer", "name", inner);
      ip("link", "set", inner, "netns", namespace);
      ip("link", "set", this.hostVeth(id), "master", this.bridge);
      ip("link", "set", this.hostVeth(id), "up");
      ip("-n", namespace, "addr", "add", `${this.subnet}.${id}/24`, "dev", inner);
      ip("-n", namespace, "link", "set", inner, "up");
      ip("-n", namespace, "link", "set", "lo", "up");
    }
  }

  /** Replaces node `from`'s drop rules with what `drops` says (one table of our own in its namespace). */
  private writeRules(from: number): void {
    const blocked = [...(this.drops.get(from) ?? [])].map((to) => `${this.subnet}.${to}`);
    const rules = [
      "table inet loghouse_lab {}",
      "delete table inet loghouse_lab",
      "table inet loghouse_lab {",
      "  chain output {",
      "    type filter hook output priority 0; policy accept;",
      ...(blocked.length === 0 ? [] : [`    ip daddr { ${blocked.join(", ")} } drop`]),
      "  }",
      "}",
    ].join("\n");
    execFileSync("ip", ["netns", "exec", this.namespace(from), "nft", "-f", "-"], { input: rules, stdio: ["pipe", "ignore", "pipe"] });
  }

  private get bridge(): string {
    return `lh${this.token}br`;
  }

  private namespace(id: number): string {
    return `lh${this.token}n${id}`;
  }

  private hostVeth(id: number): string {
    return `lh${this.token}v${id}`;
  }
}

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

function commandExists(command: string): boolean {
  try {
    execFileSync(command, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function quietly(action: () => void): void {
  try {
    action();
  } catch {
    // Already gone: cleanup is best effort, and the namespace's deletion takes its links with it.
  }
}

function firstLine(error: unknown): string {
  const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
  return (stderr || (error as Error).message).split("\n")[0]!;
}
