// HOST:PORT strings as the command line and configuration take them ("[::1]:8400" for IPv6).
import { splitHostPort } from "../client/address-list.ts";
import { InvalidConfigError } from "../errors.ts";

export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const parts = splitHostPort(value);
  if (parts === undefined) throw new InvalidConfigError(`${what} must be HOST:PORT (e.g. 127.0.0.1:8400), got ${JSON.stringify(value)}`);
  return parts;
}
