// Bearer tokens (for browsers, which cannot easily present client certificates): a JSON file
// mapping each token to its principal, {"TOKEN": "principal", ...}. Tokens are kept and looked up
// by their SHA-256, so a lookup's time does not depend on how much of a guess matches a token.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { InvalidConfigError } from "../errors.ts";

function digest(token: string): string {
  return createHash("sha256").update(token).digest("base64");
}

export class TokenTable {
  private constructor(private readonly principals: ReadonlyMap<string, string>) {}

  static async load(file: string): Promise<TokenTable> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, "utf8"));
    } catch (error) {
      throw new InvalidConfigError(`cannot read the tokens file ${file}: ${(error as Error).message}`, { cause: error });
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new InvalidConfigError(`tokens file ${file} must hold a JSON object of token to principal`);
    const principals = new Map<string, string>();
    for (const [token, principal] of Object.entries(parsed)) {
      if (token.length < 16) throw new InvalidConfigError(`tokens file ${file}: a token must be at least 16 characters`);
      if (typeof principal !== "string" || principal.length === 0) throw new InvalidConfigError(`tokens file ${file}: each token maps to a principal name`);
      principals.set(digest(token), principal);
    }
    return new TokenTable(principals);
  }

  /** The principal of `token`, or undefined for a token not in the file. */
  principalOf(token: string): string | undefined {
    return this.principals.get(digest(token));
  }
}
