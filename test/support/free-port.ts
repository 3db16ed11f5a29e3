// A port that was free a moment ago on loopback, for nodes that must know their port before they
// listen (a cluster member advertises it to its peers). Free for TCP and for UDP both: a member's
// gossip binds the same number over UDP, where any process's ephemeral sockets (gossip's own
// senders among them) may hold it; a TCP check alone once handed a node a port whose UDP side was
// taken, and the node exited with EADDRINUSE.
import { createSocket } from "node:dgram";
import { createServer } from "node:net";

const ATTEMPTS_MAX = 50;

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < ATTEMPTS_MAX; attempt++) {
    const port = await freeTcpPort();
    if (await udpFree(port)) return port;
  }
  throw new Error(`no port free for both TCP and UDP on loopback in ${ATTEMPTS_MAX} attempts`);
}

async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function udpFree(port: number): Promise<boolean> {
  const socket = createSocket("udp4");
  return new Promise((resolve) => {
    socket.once("error", () => {
      socket.close();
      resolve(false);
    });
    socket.bind(port, "127.0.0.1", () => socket.close(() => resolve(true)));
  });
}
