// The Helm chart (deploy/helm/loghouse) and the Dockerfile, checked without helm or a container
// engine (neither runs here). The chart is rendered by test/support/chart-renderer.ts, which
// implements only the template subset the chart is written in (value lookups, quote, toYaml |
// nindent) and fails on anything else; the output is parsed with the `yaml` library and the objects
// checked: kinds and names, labels against every selector, the headless service the StatefulSet
// names, probes, resources, volume claims and the security context. The start script each pod runs
// is executed with /bin/sh for several ordinals, with a stand-in `loghouse` on PATH that prints its
// arguments, and every flag it passes must be one `loghouse serve` takes. The Dockerfile is read as
// text: stages, user, volume, port, health check, and that it installs what `npm pack` produces, as
// test/package-install.test.ts does. Limits: nothing here proves Kubernetes accepts the objects
// (no API schema validation) or that the image builds.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { COMMANDS } from "../src/cli/commands.ts";
import { objectsOf, renderChart } from "./support/chart-renderer.ts";
import { tempDir } from "./support/temp-dir.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CHART = join(ROOT, "deploy", "helm", "loghouse");
const values = parse(readFileSync(join(CHART, "values.yaml"), "utf8")) as { port: number; dataDir: string; replicas: number; resources: unknown; runAsUser: number; maxUnavailable: number };

function render(releaseName: string, overrides: Record<string, unknown> = {}): Record<string, any>[] {
  return objectsOf(renderChart(CHART, { releaseName, namespace: "streams", values: overrides }));
}

function only(objects: Record<string, any>[], kind: string, name?: string): Record<string, any> {
  const found = objects.filter((object) => object.kind === kind && (name === undefined || object.metadata.name === name));
  assert.equal(found.length, 1, `${kind} ${name ?? ""}: found ${found.length}`);
  return found[0]!;
}

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels[key] === value);
}

test("the chart renders a StatefulSet, a headless and a client service and a PodDisruptionBudget that agree", () => {
  const objects = render("logs", { replicas: 5 });
  assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort(), ["PodDisruptionBudget/logs-loghouse", "Service/logs-loghouse", "Service/logs-loghouse-peers", "StatefulSet/logs-loghouse"]);
  for (const object of objects) assert.equal(object.metadata.namespace, "streams");
  const set = only(objects, "StatefulSet");
  const podLabels = set.spec.template.metadata.labels as Record<string, string>;
  assert.equal(set.spec.replicas, 5);
  assert.ok(selects(set.spec.selector.matchLabels, podLabels));
  const headless = only(objects, "Service", set.spec.serviceName);
  assert.equal(headless.spec.clusterIP, "None");
  assert.equal(headless.spec.publishNotReadyAddresses, true);
  for (const service of objects.filter((o) => o.kind === "Service")) assert.ok(selects(service.spec.selector, podLabels), service.metadata.name);
  const rpc = { name: "rpc", port: values.port, targetPort: "rpc" };
  // Peers gossip over UDP on the port number (through the headless service); clients need TCP only.
  assert.deepEqual(headless.spec.ports, [rpc, { name: "gossip", port: values.port, targetPort: "gossip", protocol: "UDP" }]);
  assert.deepEqual(only(objects, "Service", "logs-loghouse").spec.ports, [rpc]);
  const budget = only(objects, "PodDisruptionBudget");
  assert.ok(selects(budget.spec.selector.matchLabels, podLabels));
  assert.equal(budget.spec.maxUnavailable, values.maxUnavailable);
  assert.equal(set.metadata.labels["app.kubernetes.io/version"], "0.1.0");
});

test("each pod runs as a non-root user with its log on its own volume, gRPC readiness and a port liveness check", () => {
  const set = only(render("logs"), "StatefulSet");
  const pod = set.spec.template.spec;
  assert.equal(pod.containers.length, 1);
  const container = pod.containers[0];
  assert.equal(container.image, "loghouse:0.1.0");
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.notEqual(pod.securityContext.runAsUser, 0);
  assert.equal(container.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(container.resources, values.resources);
  assert.deepEqual(container.ports, [{ name: "rpc", containerPort: values.port }, { name: "gossip", containerPort: values.port, protocol: "UDP" }]);
  assert.deepEqual(container.readinessProbe.grpc, { port: values.port });
  assert.deepEqual(container.livenessProbe.tcpSocket, { port: "rpc" });
  assert.deepEqual(container.startupProbe.tcpSocket, { port: "rpc" });
  const env = Object.fromEntries(container.env.map((e: { name: string; value?: string }) => [e.name, e.value]));
  assert.equal(env.LOGHOUSE_DATA_DIR, values.dataDir);
  assert.equal(env.LOGHOUSE_LISTEN, `0.0.0.0:${values.port}`);
  assert.equal(env.LOGHOUSE_DEAD_MEMBER_TIMEOUT, "60s");
  assert.equal(env.LOGHOUSE_MIN_VOTERS, "3");
  const [claim] = set.spec.volumeClaimTemplates;
  assert.equal(set.spec.volumeClaimTemplates.length, 1);
  assert.deepEqual(container.volumeMounts, [{ name: claim.metadata.name, mountPath: values.dataDir }]);
  assert.deepEqual(claim.spec.accessModes, ["ReadWriteOnce"]);
  assert.equal(claim.spec.resources.requests.storage, "10Gi");
});

test("each pod's node is named after the pod, advertises its DNS name, and joins through pod 0 (which bootstraps)", async (t) => {
  const set = only(render("logs"), "StatefulSet");
  const container = set.spec.template.spec.containers[0];
  assert.deepEqual(container.command, ["/bin/sh", "-c"]);
  const dir = await tempDir(t);
  const fake = join(dir, "loghouse");
  // A stand-in for the CLI: `status` answers as $CLUSTER_UP says (yes: SERVING; no: nothing there;
  // repairing: a pod that answers NOT_SERVING); `serve` prints its arguments.
  writeFileSync(
    fake,
    '#!/bin/sh\nif [ "$1" = status ]; then\n  case "$CLUSTER_UP" in\n    yes) exit 0 ;;\n    repairing) echo \'{"health":"NOT_SERVING"}\'; exit 1 ;;\n    *) echo "loghouse: UNAVAILABLE: cannot reach the node" >&2; exit 1 ;;\n  esac\nfi\nfor arg in "$@"; do printf "%s\\n" "$arg"; done\n',
  );
  chmodSync(fake, 0o755);
  const peers = `${set.spec.serviceName}.streams.svc.cluster.local`;
  const argsOf = (ordinal: number, dataDir: string, clusterUp: "yes" | "no" | "repairing" = "no"): string[] =>
    execFileSync("/bin/sh", ["-c", container.args[0]], { env: { PATH: `${dir}:/usr/bin:/bin`, POD_NAME: `${set.metadata.name}-${ordinal}`, POD_NAMESPACE: "streams", LOGHOUSE_DATA_DIR: dataDir, CLUSTER_UP: clusterUp }, encoding: "utf8" }).trimEnd().split("\n");
  const fresh = join(dir, "fresh");
  assert.deepEqual(argsOf(0, fresh), ["serve", "--node-id", "logs-loghouse-0", "--advertise", `logs-loghouse-0.${peers}:8400`, "--bootstrap"]);
  // Pod 0 that lost its volume while the others serve joins them: before, it bootstrapped a second
  // cluster at its old address, which took acknowledged writes the cluster never had.
  const joinOthers = ["serve", "--node-id", "logs-loghouse-0", "--advertise", `logs-loghouse-0.${peers}:8400`, "--join", `logs-loghouse-1.${peers}:8400,logs-loghouse-2.${peers}:8400`];
  assert.deepEqual(argsOf(0, fresh, "yes"), joinOthers);
  // A pod that answers NOT_SERVING is there all the same: no second cluster beside it.
  assert.deepEqual(argsOf(0, fresh, "repairing"), joinOthers);
  assert.deepEqual(argsOf(2, fresh), ["serve", "--node-id", "logs-loghouse-2", "--advertise", `logs-loghouse-2.${peers}:8400`, "--join", `logs-loghouse-0.${peers}:8400`]);
  assert.deepEqual(argsOf(11, fresh).slice(0, 3), ["serve", "--node-id", "logs-loghouse-11"]);
  // A pod restarting with its volume resumes from its state: pod 0 does not bootstrap again, the
  // others join again (a member is left as it is; one stopped before its first join is admitted).
  writeFileSync(join(dir, "raft-state.json"), "{}");
  assert.deepEqual(argsOf(0, dir), ["serve", "--node-id", "logs-loghouse-0", "--advertise", `logs-loghouse-0.${peers}:8400`]);
  // With the others up it joins them: a member is left as it is, and one whose first join failed joins now.
  assert.deepEqual(argsOf(0, dir, "yes"), joinOthers);
  assert.deepEqual(argsOf(1, dir), ["serve", "--node-id", "logs-loghouse-1", "--advertise", `logs-loghouse-1.${peers}:8400`, "--join", `logs-loghouse-0.${peers}:8400`]);
  // Every flag the script passes, and every variable the pod sets, is one `loghouse serve` takes.
  const flags = new Set(Object.keys(COMMANDS.serve!.options));
  for (const arg of [...argsOf(0, fresh), ...argsOf(1, fresh)].filter((a) => a.startsWith("--"))) assert.ok(flags.has(arg.slice(2)), arg);
  const serveHelp = COMMANDS.serve!.options;
  for (const { name } of container.env.filter((e: { name: string }) => e.name.startsWith("LOGHOUSE_"))) {
    assert.ok(Object.values(serveHelp).some((option) => option.help.includes(`env ${name}`)), name);
  }
});

test("the renderer refuses templates outside its subset, and values it does not have", async (t) => {
  const dir = await tempDir(t);
  const { mkdirSync } = await import("node:fs");
  mkdirSync(join(dir, "templates"));
  writeFileSync(join(dir, "Chart.yaml"), "name: x\nversion: 1.0.0\nappVersion: '1'\n");
  writeFileSync(join(dir, "values.yaml"), "a: 1\n");
  for (const [template, message] of [
    ["{{ if .Values.a }}x{{ end }}", /outside the subset/],
    ["{{- .Values.a }}", /whitespace trimming/],
    ["{{ .Values.b }}", /\.Values\.b is not set/],
  ] as const) {
    writeFileSync(join(dir, "templates", "t.yaml"), template);
    assert.throws(() => renderChart(dir, { releaseName: "r", namespace: "n" }), message);
  }
});

test("the Dockerfile packs the package, installs the tarball as the package test does, and runs it unprivileged", () => {
  const lines = readFileSync(join(ROOT, "Dockerfile"), "utf8").replace(/\\\n/g, " ").split("\n").filter((line) => line.trim() !== "" && !line.startsWith("#"));
  const stages: string[][] = [];
  for (const line of lines) {
    if (line.startsWith("FROM ")) stages.push([]);
    stages[stages.length - 1]!.push(line);
  }
  assert.ok(stages.length >= 2, "multi-stage");
  const [build, runtime] = [stages[0]!, stages[stages.length - 1]!];
  for (const line of build.filter((l) => l.startsWith("COPY "))) {
    for (const source of line.split(/\s+/).slice(1, -1)) assert.ok(existsSync(join(ROOT, source)), `COPY ${source}`);
  }
  assert.ok(build.some((l) => /RUN .*npm ci .*&& npm pack /.test(l)));
  assert.ok(runtime.some((l) => /COPY --from=build \/tmp\/loghouse\.tgz/.test(l)));
  assert.ok(runtime.some((l) => /RUN .*npm install --omit=dev .*\/tmp\/loghouse\.tgz/.test(l)));
  const user = runtime.find((l) => l.startsWith("USER "))!.split(/\s+/)[1]!;
  assert.equal(user, `${values.runAsUser}:${values.runAsUser}`);
  assert.ok(runtime.join("\n").includes(`LOGHOUSE_DATA_DIR=${values.dataDir}`));
  assert.ok(runtime.includes(`VOLUME ["${values.dataDir}"]`));
  assert.ok(runtime.includes(`EXPOSE ${values.port}`));
  assert.match(runtime.find((l) => l.startsWith("HEALTHCHECK "))!, /CMD \["loghouse", "status", "--server", "127\.0\.0\.1:8400", "--timeout", "3s"\]/);
  assert.ok(runtime.includes('ENTRYPOINT ["loghouse"]'));
});
