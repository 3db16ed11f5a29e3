// Records from bytes, for `loghouse produce`: the input is split at a delimiter (bytes, never decoded
// as text, so any value survives), and each piece is taken raw, or decoded from base64 or JSON.
import { InvalidArgumentError, UsageError } from "../errors.ts";

export type InputFormat = "raw" | "base64" | "json";

const ESCAPES: Readonly<Record<string, number>> = { n: 0x0a, t: 0x09, r: 0x0d, "0": 0x00, "\\": 0x5c };

/** The delimiter's bytes from its command-line spelling (`\n`, `\0`, `\x1e`, or literal text). */
export function parseDelimiter(text: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== "\\") {
      bytes.push(...Buffer.from(text[i]!, "utf8"));
      continue;
    }
    const hex = /^x([0-9a-fA-F]{2})/.exec(text.slice(i + 1));
    const escaped = ESCAPES[text[i + 1] ?? ""];
    if (hex !== null) {
      bytes.push(parseInt(hex[1]!, 16));
      i += 3;
    } else if (escaped !== undefined) {
      bytes.push(escaped);
      i++;
    } else {
      throw new UsageError(`--delimiter has an unknown escape at ${JSON.stringify(text.slice(i, i + 2))} (use \\n \\t \\r \\0 \\\\ or \\xHH)`);
    }
  }
  if (bytes.length === 0) throw new UsageError("--delimiter must not be empty");
  return Buffer.from(bytes);
}

export function parseInputFormat(text: string | undefined): InputFormat {
  if (text === undefined) return "raw";
  if (text === "raw" || text === "base64" || text === "json") return text;
  throw new UsageError(`--format must be raw, base64 or json, got ${text}`);
}

/** The pieces of `input` between delimiters; a last piece with no delimiter after it counts, an empty one does not. */
export async function* splitRecords(input: AsyncIterable<Buffer>, delimiter: Buffer): AsyncGenerator<Buffer> {
  // What is pending is buffer[start, end). Each chunk is copied in after it, into room that doubles
  // when it runs out, so that a long piece costs time in proportion to its length: joining each chunk
  // to all that was pending (as before) took 25 s for one 64 MB line. A piece handed out is a view
  // of bytes never written again (room is only ever added after `end`, or in a new buffer).
  let buffer = Buffer.alloc(0);
  let start = 0;
  let end = 0;
  for await (const chunk of input) {
    // Search from just before the new bytes: a delimiter may straddle the two.
    let searchFrom = Math.max(start, end - delimiter.length + 1);
    if (end + chunk.length > buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(SPLIT_BUFFER_BYTES_MIN, 2 * (end - start + chunk.length)));
      buffer.copy(grown, 0, start, end);
      searchFrom -= start;
      end -= start;
      start = 0;
      buffer = grown;
    }
    chunk.copy(buffer, end);
    end += chunk.length;
    const pending = buffer.subarray(0, end);
    for (let at = pending.indexOf(delimiter, searchFrom); at !== -1; at = pending.indexOf(delimiter, searchFrom)) {
      yield pending.subarray(start, at);
      start = at + delimiter.length;
      searchFrom = start;
    }
  }
  if (end > start) yield buffer.subarray(start, end);
}

/** The smallest buffer splitRecords gathers pieces in. */
const SPLIT_BUFFER_BYTES_MIN = 64 * 1024;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The bytes of standard base64 `text` (padded or not), or undefined unless it is exactly what those
 * bytes encode to: Node's decoder drops what it cannot use, so "a" or "A=" would be an empty record.
 */
function decodeBase64(text: string): Buffer | undefined {
  if (!BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, "base64");
  const canonical = bytes.toString("base64");
  return text === canonical || text === canonical.replace(/=+$/, "") ? bytes : undefined;
}

/** A record's value from one piece of input; `position` (1-based) names it in errors. */
export function decodeRecord(format: InputFormat, piece: Buffer, position: number): Buffer {
  if (format === "raw") return piece;
  const text = piece.toString("utf8").trim();
  if (format === "base64") {
    const bytes = decodeBase64(text);
    if (bytes === undefined) throw new InvalidArgumentError(`record ${position} is not base64`);
    return bytes;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InvalidArgumentError(`record ${position} is not JSON`);
  }
  if (typeof parsed === "string") return Buffer.from(parsed, "utf8");
  const object = parsed as { value?: unknown; valueBase64?: unknown } | null;
  if (typeof object?.value === "string") return Buffer.from(object.value, "utf8");
  if (typeof object?.valueBase64 === "string") {
    const bytes = decodeBase64(object.valueBase64);
    if (bytes === undefined) throw new InvalidArgumentError(`record ${position}: "valueBase64" is not base64`);
    return bytes;
  }
  throw new InvalidArgumentError(`record ${position} must be a JSON string or an object with "value" or "valueBase64"`);
}
