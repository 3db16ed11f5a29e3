// A list of members' addresses as people write it: "HOST:PORT,HOST:PORT", spaces around commas
// allowed, empty entries (a trailing comma) dropped. Any member will do as a contact, so the same
// list serves the client's seeds, the CLI's --server and a node's --join.

export function splitAddressList(list: string): string[] {
  return list
    .split(",")
    .map((address) => address.trim())
    .filter((address) => address !== "");
}
