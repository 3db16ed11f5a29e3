// How `loghouse consume` prints a record: text (the raw value), json (one object per record), or a
// template with fields in braces ("{offset} {time} {value}"), each followed by a newline.
import { UsageError } from "../errors.ts";

export interface PrintedRecord {
  readonly offset: bigint;
  readonly timestampMs: bigint;
  readonly type: number;
  readonly value: Buffer;
}

/** Renders one record as the bytes of one output line (without its newline); undefined skips it. */
export type RecordPrinter = (record: PrintedRecord) => Buffer | string | undefined;

const FIELDS: Readonly<Record<string, (record: PrintedRecord) => Buffer | string>> = {
  offset: (record) => record.offset.toString(),
  time: (record) => new Date(Number(record.timestampMs)).toISOString(),
  timestampMs: (record) => record.timestampMs.toString(),
  type: (record) => String(record.type),
  value: (record) => record.value,
  valueBase64: (record) => record.value.toString("base64"),
};

const TEMPLATE_ESCAPES: Readonly<Record<string, string>> = { n: "\n", t: "\t", "\\": "\\" };

export function recordPrinter(format: string | undefined): RecordPrinter {
  // A cluster's own entries (type 1: a leader's no-op, 2: a membership change) are records too;
  // text output shows data only, JSON and templates show everything (with its type).
  if (format === undefined || format === "text") return (record) => (record.type === 0 ? record.value : undefined);
  if (format === "json") return (record) => JSON.stringify(recordJson(record));
  if (!format.includes("{")) throw new UsageError(`--format must be text, json or a template with fields such as {offset}, got ${format}`);
  return templatePrinter(format);
}

function templatePrinter(template: string): RecordPrinter {
  // The template is cut once into literal text and field readers; each record then only joins them.
  const parts: ((record: PrintedRecord) => Buffer | string)[] = [];
  let parsedTo = 0;
  for (const match of template.matchAll(/((?:[^{\\]|\\.)*)(?:\{([^}]*)\}|$)/g)) {
    // The pieces must follow one another: a character skipped is a "{" never closed or a "\\" at the end.
    if (match.index !== parsedTo) throw new UsageError(`--format has a "{" that is not closed, or a "\\" at its end: ${template}`);
    parsedTo = match.index + match[0].length;
    const [, literal, field] = match;
    const text = (literal ?? "").replace(/\\(.)/g, (_, c: string) => TEMPLATE_ESCAPES[c] ?? `\\${c}`);
    if (text !== "") parts.push(() => text);
    if (field === undefined) continue;
    const read = FIELDS[field];
    if (read === undefined) throw new UsageError(`--format names an unknown field {${field}} (fields: ${Object.keys(FIELDS).map((name) => `{${name}}`).join(" ")})`);
    parts.push(read);
  }
  return (record) => Buffer.concat(parts.map((part) => { const piece = part(record); return typeof piece === "string" ? Buffer.from(piece) : piece; }));
}

function recordJson(record: PrintedRecord): Record<string, unknown> {
  const text = record.value.toString("utf8");
  const exact = Buffer.from(text, "utf8").equals(record.value);
  return {
    offset: record.offset.toString(),
    timestampMs: Number(record.timestampMs),
    ...(record.type === 0 ? {} : { type: record.type }),
    ...(exact ? { value: text } : { valueBase64: record.value.toString("base64") }),
  };
}
