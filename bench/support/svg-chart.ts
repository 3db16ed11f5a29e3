// Pictures of a run, as standalone SVG text (no library, no fonts to fetch): bars for throughput per
// trial, dots on a log scale for latency percentiles, and lanes of events along an axis (faults over
// time, or per seed). Each function returns one panel; chart() stacks panels under a title.

const WIDTH = 1160;
const LABEL_WIDTH = 470;
const PLOT_WIDTH = WIDTH - LABEL_WIDTH - 110;
const ROW_HEIGHT = 22;
const COLORS = ["#3b6ea8", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d6a9f", "#30343f"];

/** One panel: its SVG elements, drawn from y = 0, and its height. */
export interface Panel {
  readonly height: number;
  readonly body: string;
}

export interface Bar {
  readonly label: string;
  readonly value: number;
  /** A baseline measured beside the trials (raw writes, a storage-less server): drawn in grey. */
  readonly baseline?: boolean;
}

export interface PercentileRow {
  readonly label: string;
  /** Percentile name ("p50") to milliseconds; rows with none are left out. */
  readonly percentilesMs: Readonly<Record<string, number | null | undefined>>;
}

export interface Lane {
  readonly label: string;
  /** Where events happened on the axis, with how many at each point (drawn as the dot's area). */
  readonly points: ReadonlyArray<{ readonly at: number; readonly count: number }>;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function text(x: number, y: number, content: string, attributes = ""): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attributes}>${escapeXml(content)}</text>`;
}

function heading(title: string): string {
  return text(10, 16, title, 'font-weight="bold"');
}

/**
 * Horizontal bars, one per trial, the value printed after each. Linear from zero, unless the values
 * span more than two decades: then logarithmic from the decade below the smallest (said in the title).
 */
export function barsPanel(title: string, unit: string, bars: readonly Bar[], format: (value: number) => string): Panel {
  const positive = bars.map((bar) => bar.value).filter((value) => value > 0);
  const max = Math.max(1e-9, ...positive);
  const low = 10 ** Math.floor(Math.log10(Math.min(max, ...positive)));
  const logarithmic = max / low > 100;
  const fraction = (value: number): number => (logarithmic ? Math.log10(Math.max(value, low) / low) / Math.log10(max / low) : value / max);
  const rows = bars.map((bar, i) => {
    const y = 28 + i * ROW_HEIGHT;
    const width = Math.max(1, fraction(bar.value) * PLOT_WIDTH);
    return [
      text(LABEL_WIDTH - 8, y + 14, bar.label, 'text-anchor="end"'),
      `<rect x="${LABEL_WIDTH}" y="${y + 3}" width="${width.toFixed(1)}" height="${ROW_HEIGHT - 6}" fill="${bar.baseline === true ? "#aaaaaa" : COLORS[0]}"/>`,
      text(LABEL_WIDTH + width + 6, y + 14, `${format(bar.value)} ${unit}`),
    ].join("");
  });
  return { height: 36 + bars.length * ROW_HEIGHT, body: heading(logarithmic ? `${title} (logarithmic scale)` : title) + rows.join("") };
}

/** Each row's percentiles as dots joined by a line on a shared logarithmic millisecond axis. */
export function percentilesPanel(title: string, rows: readonly PercentileRow[]): Panel {
  const shown = rows
    .map((row) => ({ label: row.label, points: Object.entries(row.percentilesMs).filter((entry): entry is [string, number] => typeof entry[1] === "number" && entry[1] > 0) }))
    .filter((row) => row.points.length > 0);
  const values = shown.flatMap((row) => row.points.map(([, ms]) => ms));
  if (values.length === 0) return { height: 40, body: heading(title) + text(LABEL_WIDTH, 34, "no latency measured in this run") };
  const low = 10 ** Math.floor(Math.log10(Math.min(...values)));
  const high = 10 ** Math.ceil(Math.log10(Math.max(...values) * 1.0001));
  const x = (ms: number): number => LABEL_WIDTH + (Math.log10(ms / low) / Math.log10(high / low)) * PLOT_WIDTH;
  const axisY = 28 + shown.length * ROW_HEIGHT;
  const ticks: string[] = [];
  for (let tick = low; tick <= high * 1.0001; tick *= 10) {
    ticks.push(`<line x1="${x(tick).toFixed(1)}" y1="28" x2="${x(tick).toFixed(1)}" y2="${axisY}" stroke="#ddd"/>`, text(x(tick), axisY + 14, `${tick} ms`, 'text-anchor="middle"'));
  }
  const drawn = shown.map((row, i) => {
    const y = 28 + i * ROW_HEIGHT + ROW_HEIGHT / 2;
    const xs = row.points.map(([, ms]) => x(ms));
    const line = `<line x1="${Math.min(...xs).toFixed(1)}" y1="${y}" x2="${Math.max(...xs).toFixed(1)}" y2="${y}" stroke="#999"/>`;
    const dots = row.points.map(([name, ms], j) => `<circle cx="${x(ms).toFixed(1)}" cy="${y}" r="4" fill="${COLORS[j % COLORS.length]}"><title>${escapeXml(`${name} ${ms.toFixed(3)} ms`)}</title></circle>`);
    return text(LABEL_WIDTH - 8, y + 4, row.label, 'text-anchor="end"') + line + dots.join("");
  });
  const names = [...new Set(shown.flatMap((row) => row.points.map(([name]) => name)))];
  const legend = names.map((name, j) => `<circle cx="${LABEL_WIDTH + j * 70 + 5}" cy="${axisY + 30}" r="4" fill="${COLORS[j % COLORS.length]}"/>` + text(LABEL_WIDTH + j * 70 + 13, axisY + 34, name));
  return { height: axisY + 44, body: heading(title) + ticks.join("") + drawn.join("") + legend.join("") };
}

/** One lane per kind of event, a dot wherever (and as large as how many) events happened along the axis. */
export function lanesPanel(title: string, axis: { readonly from: number; readonly to: number; readonly unit: string; readonly scale?: number }, lanes: readonly Lane[]): Panel {
  const span = Math.max(1e-9, axis.to - axis.from);
  const x = (at: number): number => LABEL_WIDTH + ((at - axis.from) / span) * PLOT_WIDTH;
  const axisY = 28 + lanes.length * ROW_HEIGHT;
  const scale = axis.scale ?? 1;
  const ticks = Array.from({ length: 6 }, (_, i) => axis.from + (span * i) / 5).map(
    (at) => `<line x1="${x(at).toFixed(1)}" y1="28" x2="${x(at).toFixed(1)}" y2="${axisY}" stroke="#ddd"/>` + text(x(at), axisY + 14, `${Math.round(at / scale)} ${axis.unit}`, 'text-anchor="middle"'),
  );
  const drawn = lanes.map((lane, i) => {
    const y = 28 + i * ROW_HEIGHT + ROW_HEIGHT / 2;
    const total = lane.points.reduce((sum, point) => sum + point.count, 0);
    const dots = lane.points
      .filter((point) => point.count > 0)
      .map((point) => `<circle cx="${x(point.at).toFixed(1)}" cy="${y}" r="${Math.min(9, 3.5 * Math.sqrt(point.count)).toFixed(1)}" fill="${COLORS[i % COLORS.length]}" fill-opacity="0.7"/>`);
    return text(LABEL_WIDTH - 8, y + 4, `${lane.label} (${total})`, 'text-anchor="end"') + `<line x1="${LABEL_WIDTH}" y1="${y}" x2="${LABEL_WIDTH + PLOT_WIDTH}" y2="${y}" stroke="#eee"/>` + dots.join("");
  });
  return { height: axisY + 24, body: heading(title) + ticks.join("") + drawn.join("") };
}

/** A whole picture: a title line, then the panels one under another. */
export function chart(title: string, panels: readonly Panel[]): string {
  let y = 40;
  const placed = panels.map((panel) => {
    const group = `<g transform="translate(0,${y})">${panel.body}</g>`;
    y += panel.height + 16;
    return group;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    text(10, 24, title, 'font-size="16" font-weight="bold"'),
    ...placed,
    "</svg>",
    "",
  ].join("\n");
}
