// Members' addresses as people write them: HOST:PORT ("[::1]:8400" for IPv6), and lists of them
// "HOST:PORT,HOST:PORT", spaces around commas allowed, empty entries (a trailing comma) dropped. Any
// member will do as a contact, so the same list serves the client's seeds, the CLI's --server and a
// node's --join. A client refuses an address that is not HOST:PORT when it is made: grpc-js took
// "127.0.0.1" for port 443 and failed on a stray space only at the first call.
import { InvalidArgumentError } from "../errors.ts";

export function splitAddressList(list: string): string[] {
  return list
    .split(",")
    .map((address) => address.trim())
    .filter((address) => address !== "");
}

/** `value`'s host and port when it is HOST:PORT (spaces around it ignored), else undefined. */
export function splitHostPort(value: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]\s]+)\]|([^:\s/]*)):(\d{1,5})$/.exec(value.trim());
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  return match === null || host === undefined || host === "" || port > 65_535 ? undefined : { host, port };
}

/** `address` (one node's) trimmed, if it is HOST:PORT with a port from 1; else InvalidArgumentError. */
export function nodeAddress(address: unknown): string {
  const parts = typeof address === "string" ? splitHostPort(address) : undefined;
  if (parts === undefined || parts.port === 0) throw new InvalidArgumentError(`an address must be HOST:PORT with a port from 1 (e.g. 127.0.0.1:8400), got ${JSON.stringify(address) ?? String(address)}`);
  return (address as string).trim();
}

/** The addresses of `addresses` (a list, or one string with commas): at least one, each as nodeAddress takes it. */
export function memberAddresses(addresses: unknown): string[] {
  const list = typeof addresses === "string" ? splitAddressList(addresses) : Array.isArray(addresses) ? addresses.flatMap((entry) => (typeof entry === "string" ? splitAddressList(entry) : [entry])) : undefined;
  if (list === undefined || list.length === 0) throw new InvalidArgumentError(`addresses must name at least one member as HOST:PORT, got ${JSON.stringify(addresses) ?? String(addresses)}`);
  return list.map(nodeAddress);
}
