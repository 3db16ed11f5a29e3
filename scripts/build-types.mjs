// Type declarations for the package: tsc (typescript 7, which has no JS API, so it runs as a
// command) emits dist/**/*.d.ts beside the JavaScript of scripts/build.mjs; then relative imports in
// them are renamed from .ts to .js, as in the JavaScript, so that a consumer's compiler resolves them
// to the .d.ts files without allowImportingTsExtensions.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
execFileSync(join(root, "node_modules", ".bin", "tsc"), ["-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });

function declarations(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? declarations(path) : entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

let count = 0;
for (const file of declarations(join(root, "dist"))) {
  const text = readFileSync(file, "utf8");
  writeFileSync(file, text.replace(/((?:from |import\()["']\.\.?\/[^"']*)\.ts(["'])/g, "$1.js$2"));
  count++;
}
console.log(`wrote ${count} declaration files into dist/`);
