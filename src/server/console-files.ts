// Serves the web console (built by scripts/build.mjs into dist/console/) on the node's port: the
// page at / and its files under /console/. The build sits beside this module's own location, so it
// is found whether the node runs from dist/ (installed package: dist/server/ → dist/console/) or from
// the sources through tsx (src/server/ → dist/console/). Before a build there is nothing to serve,
// and the page says how to build it.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { respondText, type HttpRoutes, type HttpResponse } from "./http-routes.ts";

// From src/server/, "../console/" is the console's sources, which hold no app.js: only a build counts.
const CANDIDATE_DIRS = ["../console/", "../../dist/console/"].map((relative) => fileURLToPath(new URL(relative, import.meta.url)));
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
};
/** File names the console may ask for: no directories, no dot files. */
const FILE_NAME = /^[a-z0-9][a-z0-9-]*\.(html|js|css)$/;

/** Registers GET / (the page) and GET /console/NAME (its script and stylesheet). */
export function registerConsole(routes: HttpRoutes): void {
  routes.get("/", (_request, response) => sendFile(response, "index.html"));
  routes.getUnder("/console/", (_request, response, path) => sendFile(response, path.slice("/console/".length)));
}

/** Where the built console was found (searched again on each request until it is). */
let builtDir: string | undefined;

async function sendFile(response: HttpResponse, name: string): Promise<void> {
  const type = FILE_NAME.exec(name)?.[1];
  builtDir ??= CANDIDATE_DIRS.find((candidate) => existsSync(`${candidate}app.js`));
  const dir = builtDir;
  if (dir === undefined) {
    respondText(response, 404, "the web console is not built: run `npm run build`\n");
    return;
  }
  const body = type === undefined ? undefined : await readFile(`${dir}${name}`).catch(() => undefined);
  if (body === undefined) {
    respondText(response, 404, "not found\n");
    return;
  }
  response.statusCode = 200;
  response.setHeader("content-type", CONTENT_TYPES[type!]!);
  response.setHeader("content-length", body.length);
  // A node may be upgraded under a page; the files are small, so the browser asks each time.
  response.setHeader("cache-control", "no-cache");
  response.end(body);
}
