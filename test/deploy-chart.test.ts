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
import { spawnSync } from "node:child_process";
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

test("each pod runs as a non-root user with its log on its own volume, /readyz readiness and a port liveness check", () => {
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
  // Not the gRPC health service: it says SERVING on a member that knows no leader, whose writes fail.
  assert.deepEqual(container.readinessProbe.httpGet, { path: "/readyz", port: "rpc" });
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

test("each pod's node is named after the pod, advertises its DNS name, and joins through the others; pod 0 bootstraps only once every pod answers as a node of no cluster", async (t) => {
  const set = only(render("logs"), "StatefulSet");
  assert.equal(set.spec.podManagementPolicy, "Parallel", "the pods start together: pod 0 waits for the others");
  const container = set.spec.template.spec.containers[0];
  assert.deepEqual(container.command, ["/bin/sh", "-c"]);
  const dir = await tempDir(t);
  const fake = join(dir, "loghouse");
  // A stand-in for the CLI: `status` answers as $CLUSTER_UP says (member: a member of a cluster;
  // repairing: a member answering NOT_SERVING; empty: a node of no cluster, as a pod waiting to join
  // is; flicker: empty to every third question from the first, else nothing there, so that no round
  // of questions finds both pods up; anything else: nothing there);
  // `serve` prints its arguments.
  writeFileSync(
    fake,
    [
      "#!/bin/sh",
      'if [ "$1" = status ]; then',
      '  mode="$CLUSTER_UP"',
      '  if [ "$mode" = flicker ]; then n=$(cat "$COUNTER" 2>/dev/null || echo 0); echo $((n + 1)) > "$COUNTER"; if [ $((n % 3)) -eq 0 ]; then mode=empty; else mode=no; fi; fi',
      '  case "$mode" in',
      '    member) echo \'{"health":"SERVING","clusterId":"0123456789abcdef","servers":[{"id":"logs-loghouse-1"}]}\'; exit 0 ;;',
      '    repairing) echo \'{"health":"NOT_SERVING","clusterId":"0123456789abcdef","servers":[{"id":"logs-loghouse-1"}]}\'; exit 1 ;;',
      '    empty) echo \'{"health":"SERVING","clusterId":null,"servers":[]}\'; exit 0 ;;',
      '    *) echo "loghouse: UNAVAILABLE: cannot reach the node" >&2; exit 1 ;;',
      "  esac",
      "fi",
      'for arg in "$@"; do printf "%s\\n" "$arg"; done',
      "",
    ].join("\n"),
  );
  chmodSync(fake, 0o755);
  const peers = `${set.spec.serviceName}.streams.svc.cluster.local`;
  const podAddress = (ordinal: number): string => `logs-loghouse-${ordinal}.${peers}:8400`;
  const start = (ordinal: number, dataDir: string, clusterUp: string, timeoutMs?: number) =>
    spawnSync("/bin/sh", ["-c", container.args[0]], {
      env: { PATH: `${dir}:/usr/bin:/bin`, POD_NAME: `${set.metadata.name}-${ordinal}`, POD_NAMESPACE: "streams", LOGHOUSE_DATA_DIR: dataDir, CLUSTER_UP: clusterUp, COUNTER: join(dir, `counter-${clusterUp}`) },
      encoding: "utf8",
      ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }),
    });
  const argsOf = (ordinal: number, dataDir: string, clusterUp = "no"): string[] => {
    const result = start(ordinal, dataDir, clusterUp);
    assert.equal(result.status, 0, result.stderr);
    return result.stdout.trimEnd().split("\n");
  };
  const named = (ordinal: number): string[] => ["serve", "--node-id", `logs-loghouse-${ordinal}`, "--advertise", podAddress(ordinal)];
  const fresh = join(dir, "fresh");
  // The first start: every other pod answers as a node of no cluster, at once, or each in its turn
  // (pods restarting after their joins gave up: pod 1 answers in the first round, pod 2 in the second).
  assert.deepEqual(argsOf(0, fresh, "empty"), [...named(0), "--bootstrap"]);
  const waited = start(0, fresh, "flicker");
  assert.equal(waited.status, 0, waited.stderr);
  assert.deepEqual(waited.stdout.trimEnd().split("\n"), [...named(0), "--bootstrap"]);
  assert.match(waited.stderr, /^pod 0 has no state: it bootstraps once every other pod has answered as a node of no cluster \(1 of 2 so far\)\n$/);
  // Pods that do not answer are waited for, however long: before, pod 0 took them for absent and
  // bootstrapped, a second cluster beside any that were only slow or restarting.
  const stillWaiting = start(0, fresh, "no", 3_000);
  assert.equal(stillWaiting.signal, "SIGTERM", "still waiting when stopped");
  assert.equal(stillWaiting.stdout, "", "no serve was started");
  // Pod 0 that lost its volume while the others serve joins them, as it does while they repair.
  const joinOthers = [...named(0), "--join", `${podAddress(1)},${podAddress(2)}`];
  assert.deepEqual(argsOf(0, fresh, "member"), joinOthers);
  assert.deepEqual(argsOf(0, fresh, "repairing"), joinOthers);
  // Alone, pod 0 has nobody to wait for.
  assert.deepEqual(
    spawnSync("/bin/sh", ["-c", (only(render("logs", { replicas: 1 }), "StatefulSet").spec.template.spec.containers[0].args as string[])[0]!], {
      env: { PATH: `${dir}:/usr/bin:/bin`, POD_NAME: `${set.metadata.name}-0`, POD_NAMESPACE: "streams", LOGHOUSE_DATA_DIR: fresh },
      encoding: "utf8",
    }).stdout.trimEnd().split("\n"),
    [...named(0), "--bootstrap"],
  );
  // The others join through every other pod, so one that lost its volume is admitted while pod 0 is down.
  assert.deepEqual(argsOf(2, fresh), [...named(2), "--join", `${podAddress(0)},${podAddress(1)}`]);
  assert.deepEqual(argsOf(11, fresh).slice(0, 3), ["serve", "--node-id", "logs-loghouse-11"]);
  // A pod restarting with its volume resumes from its state: pod 0 neither waits nor bootstraps, and
  // joins the others when they answer (a member is left as it is; one whose first join failed joins now).
  writeFileSync(join(dir, "raft-state.json"), "{}");
  assert.deepEqual(argsOf(0, dir), named(0));
  assert.deepEqual(argsOf(0, dir, "member"), joinOthers);
  assert.deepEqual(argsOf(1, dir), [...named(1), "--join", `${podAddress(0)},${podAddress(2)}`]);
  // Every flag the script passes, and every variable the pod sets, is one `loghouse serve` takes.
  const flags = new Set(Object.keys(COMMANDS.serve!.options));
  for (const arg of [...argsOf(0, fresh, "empty"), ...argsOf(1, fresh)].filter((a) => a.startsWith("--"))) assert.ok(flags.has(arg.slice(2)), arg);
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
