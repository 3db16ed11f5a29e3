// HOST:PORT strings as the command line and configuration take them ("[::1]:8400" for IPv6).
import { InvalidConfigError } from "../errors.ts";

export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value.trim());
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (match === null || host === undefined || host === "" || !(port >= 0 && port <= 65_535)) {
    throw new InvalidConfigError(`${what} must be HOST:PORT (e.g. 127.0.0.1:8400), got ${JSON.stringify(value)}`);
  }
  return { host, port };
}
