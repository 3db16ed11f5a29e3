#!/usr/bin/env -S node --max-semi-space-size=32
// The `loghouse` command. The CLI is TypeScript; tsx (a runtime dependency) runs it without a build step.
// A node allocates a short-lived object or two per record it handles; a 32 MiB young generation (the
// default is 16) lets nearly all of them die there instead of being copied and promoted, which
// saves about a tenth of a replicated node's CPU (bench:cluster). Run this file itself (npm start,
// npx loghouse, or spawning it) so that the flag applies.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
