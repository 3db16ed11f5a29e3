// The cluster view: the members from GetServers (name, address, leader, role, liveness, term, lag)
// and the cluster's id, refreshed on a period. Each answer also tells the connection where the members listen, for a
// failover. An error leaves the last table in place and says so in the caption.
import { Server_Liveness, Server_Role, type Server } from "../gen/log/v1/log_pb.ts";
import type { NodeConnection } from "./node-connection.ts";

export class ClusterView {
  constructor(
    private readonly connection: NodeConnection,
    private readonly body: HTMLTableSectionElement,
    private readonly source: HTMLElement,
    private readonly clusterId: HTMLElement,
  ) {}

  /** Asks the current node for its members and shows them. */
  async refresh(): Promise<void> {
    try {
      const { servers, clusterId } = await this.connection.client.getServers({});
      this.connection.rememberMembers(servers.map((server) => server.rpcAddr));
      const byName = [...servers].sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }));
      this.body.replaceChildren(...byName.map((server) => this.row(server)));
      this.source.textContent = this.connection.baseUrl;
      this.clusterId.textContent = clusterId === "" ? "" : `, cluster ${clusterId}`;
    } catch (error) {
      this.source.textContent = `${this.connection.baseUrl} (not answering: ${(error as Error).message})`;
    }
  }

  private row(server: Server): HTMLTableRowElement {
    const liveness = server.liveness === Server_Liveness.UNSPECIFIED ? "unknown" : Server_Liveness[server.liveness].toLowerCase();
    const cells = [
      server.id,
      server.rpcAddr,
      server.isLeader ? "leader" : "",
      server.role === Server_Role.LEARNER ? "learner" : "voter",
      liveness,
      server.term.toString(),
      server.lag === undefined ? "unknown" : server.lag.toString(),
    ];
    const row = document.createElement("tr");
    row.dataset.id = server.id;
    if (server.isLeader) row.dataset.leader = "true";
    for (const [index, text] of cells.entries()) {
      const cell = document.createElement(index === 0 ? "th" : "td");
      if (index === 0) cell.setAttribute("scope", "row");
      if (index === 4) cell.className = `liveness-${liveness}`;
      cell.textContent = text;
      row.append(cell);
    }
    return row;
  }
}
