// The web console's entry (bundled by scripts/build.mjs into dist/console/app.js): connects to the
// node that served the page (or the proxy in front of the cluster) and wires the live tail, the
// produce form, the cluster view and the throughput sparkline to the markup of index.html.
import { ClusterView } from "./cluster-view.ts";
import { LiveTail } from "./live-tail.ts";
import { NodeConnection } from "./node-connection.ts";
import { wireProduceForm } from "./produce-form.ts";
import { ThroughputSparkline } from "./throughput-sparkline.ts";

/** How often the cluster view and the sparkline are refreshed. */
const REFRESH_MS = 2_000;

function element<T extends Element>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`the page lacks #${id}`);
  return found as unknown as T;
}

// The page's own directory is the node (or the proxy path in front of it), without the trailing "/".
const connection = new NodeConnection(new URL(".", location.href).href.replace(/\/$/, ""));
const nodeLabel = element<HTMLOutputElement>("node");
nodeLabel.textContent = connection.baseUrl;
connection.onChange((baseUrl) => (nodeLabel.textContent = baseUrl));

const tail = new LiveTail(connection, element("tail"), element("tail-status"));
const cluster = new ClusterView(connection, element<HTMLTableElement>("members").tBodies[0]!, element("members-source"), element("members-cluster"));
const sparkline = new ThroughputSparkline(connection, element<SVGSVGElement>("sparkline").querySelector("polyline")!, element("throughput"));
wireProduceForm(connection, element("produce-form"), element("produce-value"), element("produce-status"));

const token = element<HTMLInputElement>("token");
token.value = connection.bearerToken;
element<HTMLFormElement>("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  connection.setToken(token.value.trim());
  if (!tail.isPaused) tail.resume();
  void cluster.refresh();
});

const pause = element<HTMLButtonElement>("pause");
pause.addEventListener("click", () => {
  if (tail.isPaused) tail.resume();
  else tail.pause();
  pause.textContent = tail.isPaused ? "Resume" : "Pause";
  pause.setAttribute("aria-pressed", String(tail.isPaused));
});
element<HTMLFormElement>("jump-offset-form").addEventListener("submit", (event) => {
  event.preventDefault();
  tail.jumpTo(BigInt(element<HTMLInputElement>("jump-offset").value));
});
element<HTMLFormElement>("jump-time-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const status = element("tail-status");
  tail.jumpToTime(new Date(element<HTMLInputElement>("jump-time").value).getTime()).catch((error: unknown) => {
    status.textContent = `No jump: ${(error as Error).message}`;
  });
});

const refresh = (): void => {
  void cluster.refresh();
  void sparkline.sample();
};
refresh();
setInterval(refresh, REFRESH_MS);
tail.resume();
