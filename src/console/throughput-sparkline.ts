// The throughput sparkline: polls the node's GET /metrics, turns the counter of appended records
// into a rate per second between two polls, and draws the latest rates as an SVG polyline. A node
// without metrics (404) or without the counter says "no metrics".
import type { NodeConnection } from "./node-connection.ts";
import { sumOfSamples } from "./metrics-text.ts";

const COUNTER = "loghouse_records_appended_total";
/** Rates kept and drawn. */
const POINTS_MAX = 30;

export class ThroughputSparkline {
  private previous: { count: number; atMs: number } | undefined;
  private readonly rates: number[] = [];

  constructor(
    private readonly connection: NodeConnection,
    private readonly line: SVGPolylineElement,
    private readonly caption: HTMLElement,
  ) {
    // Counters of another node are not comparable with this one's.
    connection.onChange(() => {
      this.previous = undefined;
    });
  }

  async sample(): Promise<void> {
    const count = await this.readCounter().catch(() => undefined);
    if (count === undefined) {
      this.previous = undefined;
      this.caption.textContent = "Records appended per second: no metrics";
      return;
    }
    const atMs = performance.now();
    if (this.previous !== undefined && atMs > this.previous.atMs) {
      this.rates.push(Math.max(0, count - this.previous.count) / ((atMs - this.previous.atMs) / 1000));
      if (this.rates.length > POINTS_MAX) this.rates.shift();
      this.draw();
    }
    this.previous = { count, atMs };
  }

  private async readCounter(): Promise<number | undefined> {
    const token = this.connection.bearerToken;
    const response = await fetch(new URL("metrics", `${this.connection.baseUrl}/`), token === "" ? {} : { headers: { authorization: `Bearer ${token}` } });
    if (!response.ok) return undefined;
    return sumOfSamples(await response.text(), COUNTER);
  }

  private draw(): void {
    const width = Number(this.line.ownerSVGElement?.getAttribute("width") ?? 240);
    const height = Number(this.line.ownerSVGElement?.getAttribute("height") ?? 40);
    const top = Math.max(1, ...this.rates);
    const step = width / (POINTS_MAX - 1);
    // The latest rate sits at the right edge; a first one alone is drawn as a short flat line.
    const drawn = this.rates.length === 1 ? [this.rates[0]!, this.rates[0]!] : this.rates;
    const left = width - (drawn.length - 1) * step;
    this.line.setAttribute("points", drawn.map((rate, i) => `${(left + i * step).toFixed(1)},${(height - 1 - (rate / top) * (height - 2)).toFixed(1)}`).join(" "));
    this.caption.textContent = `Records appended per second: ${Math.round(this.rates.at(-1)!)} now, ${Math.round(top)} at most in the last ${this.rates.length} samples`;
  }
}
