// The actions an ACL grants. Every RPC is exactly one of them: the Go original's produce and
// consume, admin for anything that changes the cluster, replicate for peer traffic and joining.
export type Action = "produce" | "consume" | "admin" | "replicate";

export const ACTIONS: readonly Action[] = ["produce", "consume", "admin", "replicate"];

/** What a call is made on: the Go original's ACL has no objects but the wildcard. */
export const ACL_OBJECT = "*";
