// Compiles src/ into dist/ with esbuild: one .js per .ts file, in the same folders, relative imports
// rewritten from .ts to .js, packages left as imports. Nothing is bundled together, so the CLI's
// lazy imports stay lazy and every file sits as deep in dist/ as in src/ (paths relative to the
// package root, such as the native addon's, hold in both). Takes well under a second.
//
// When npm packs or publishes (npm runs `prepare`, hence this, after `prepack`), it also writes
// what only the package needs: the type declarations (npm run build:types) and the prebuilt native
// addon for this platform in prebuilds/ (npm run build:prebuilt, prebuildify).
//
// The web console (src/console/, a browser app) is not compiled file by file: it is bundled for
// browsers into dist/console/app.js, beside its index.html and stylesheet, which every node serves at /.
//
// dist/.build-stamp records when the build started: bin/loghouse.js in a source checkout runs
// dist/ only when no file under src/ is newer than the stamp.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const source = join(root, "src");
const out = join(root, "dist");
// Built aside, then swapped in, so that a process starting from dist/ meanwhile (a test's node)
// finds the old build or the new one, never half of one.
const staging = join(root, `dist.building-${process.pid}`);
const consoleSource = join(source, "console");
const started = new Date();

function typescriptFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (path === consoleSource) return [];
    if (entry.isDirectory()) return typescriptFiles(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

/** Leaves every relative import to its own output file, renamed from .ts to .js. */
const relativeImportsStay = {
  name: "relative-imports-stay",
  setup(builder) {
    builder.onResolve({ filter: /^\.\.?\// }, (args) => (args.kind === "entry-point" ? undefined : { path: args.path.replace(/\.ts$/, ".js"), external: true }));
  },
};

const entryPoints = typescriptFiles(source);
rmSync(staging, { recursive: true, force: true });
await build({
  entryPoints,
  outdir: staging,
  outbase: source,
  bundle: true,
  packages: "external",
  plugins: [relativeImportsStay],
  format: "esm",
  platform: "node",
  target: "node20",
  logLevel: "warning",
});
await build({
  entryPoints: [join(consoleSource, "app.ts")],
  outdir: join(staging, "console"),
  bundle: true,
  minify: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  logLevel: "warning",
});
for (const name of ["index.html", "console.css"]) cpSync(join(consoleSource, name), join(staging, "console", name));
mkdirSync(staging, { recursive: true });
const stamp = join(staging, ".build-stamp");
writeFileSync(stamp, `${started.toISOString()}\n`);
utimesSync(stamp, started, started);
const previous = join(root, `dist.previous-${process.pid}`);
try {
  renameSync(out, previous);
} catch (error) {
  if (error.code !== "ENOENT") throw error;
}
renameSync(staging, out);
rmSync(previous, { recursive: true, force: true });
console.log(`built ${entryPoints.length} files and the console from ${relative(root, source)}/ into ${relative(root, out)}/ in ${Date.now() - started.getTime()} ms`);
if (process.env.npm_command === "pack" || process.env.npm_command === "publish") {
  execFileSync("npm", ["run", "build:types"], { cwd: root, stdio: "inherit" });
  buildPrebuiltAddon();
}

/**
 * prebuildify compiles the addon in ./build, which running nodes and tests of this checkout load;
 * so it runs in a copy of the package's build inputs, and only its prebuilds/ comes back.
 */
function buildPrebuiltAddon() {
  const stage = mkdtempSync(join(tmpdir(), "loghouse-prebuild-"));
  try {
    for (const name of ["package.json", "binding.gyp", "native"]) cpSync(join(root, name), join(stage, name), { recursive: true });
    symlinkSync(join(root, "node_modules"), join(stage, "node_modules"));
    execFileSync("npm", ["run", "build:prebuilt"], { cwd: stage, stdio: "inherit" });
    rmSync(join(root, "prebuilds"), { recursive: true, force: true });
    cpSync(join(stage, "prebuilds"), join(root, "prebuilds"), { recursive: true });
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
