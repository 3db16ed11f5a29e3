// Renders a Helm chart's templates for tests, where no `helm` runs. It implements a small, stated
// subset of Helm's template language and refuses anything else, so a chart that outgrows the subset
// fails its test instead of being checked wrongly:
//   {{ .Values.a.b }}  {{ .Release.Name }}  {{ .Release.Namespace }}  {{ .Chart.Name }}
//   {{ .Chart.Version }}  {{ .Chart.AppVersion }}, each optionally piped to `quote`,
//   and {{ toYaml .Values.x | nindent N }}.
// Not covered: control structures (if, range, with), named templates (define, include), whitespace
// trimming ({{- -}}), and every other function. Values are merged over values.yaml one level of
// objects at a time, as Helm merges --set values. The output is the YAML text of each template.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";

export interface RenderOptions {
  readonly releaseName: string;
  readonly namespace: string;
  readonly values?: Readonly<Record<string, unknown>>;
}

type Tree = Readonly<Record<string, unknown>>;

function merge(base: Tree, override: Tree): Tree {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const under = merged[key];
    const bothObjects = typeof value === "object" && value !== null && !Array.isArray(value) && typeof under === "object" && under !== null && !Array.isArray(under);
    merged[key] = bothObjects ? merge(under as Tree, value as Tree) : value;
  }
  return merged;
}

function lookup(scope: Tree, path: string, template: string): unknown {
  let value: unknown = scope;
  for (const key of path.slice(1).split(".")) {
    if (typeof value !== "object" || value === null || !(key in value)) throw new Error(`${template}: ${path} is not set`);
    value = (value as Tree)[key];
  }
  return value;
}

function evaluate(expression: string, scope: Tree, template: string): string {
  const toYaml = /^toYaml (\.[\w.]+) \| nindent (\d+)$/.exec(expression);
  if (toYaml !== null) {
    const indent = " ".repeat(Number(toYaml[2]));
    const text = stringify(lookup(scope, toYaml[1]!, template)).trimEnd();
    return `\n${text.split("\n").map((line) => indent + line).join("\n")}`;
  }
  const plain = /^(\.[\w.]+)( \| quote)?$/.exec(expression);
  if (plain === null) throw new Error(`${template}: {{ ${expression} }} is outside the subset this renderer supports`);
  const value = lookup(scope, plain[1]!, template);
  if (typeof value === "object" && value !== null) throw new Error(`${template}: ${plain[1]} is an object; use toYaml`);
  return plain[2] === undefined ? String(value) : JSON.stringify(String(value));
}

/** Each template's rendered text, by file name. */
export function renderChart(chartDir: string, options: RenderOptions): Map<string, string> {
  const chart = parse(readFileSync(join(chartDir, "Chart.yaml"), "utf8")) as Tree;
  const values = merge(parse(readFileSync(join(chartDir, "values.yaml"), "utf8")) as Tree, options.values ?? {});
  const scope: Tree = {
    Values: values,
    Release: { Name: options.releaseName, Namespace: options.namespace },
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
  };
  const rendered = new Map<string, string>();
  for (const file of readdirSync(join(chartDir, "templates")).sort()) {
    const text = readFileSync(join(chartDir, "templates", file), "utf8");
    rendered.set(file, text.replace(/\{\{(-?)\s*(.*?)\s*(-?)\}\}/g, (whole, trimLeft: string, expression: string, trimRight: string) => {
      if (trimLeft !== "" || trimRight !== "") throw new Error(`${file}: ${whole}: whitespace trimming is outside the subset this renderer supports`);
      return evaluate(expression, scope, file);
    }));
  }
  return rendered;
}

/** The Kubernetes objects in rendered templates (documents that hold only comments are left out). */
export function objectsOf(rendered: Map<string, string>): Record<string, any>[] {
  return [...rendered.values()].flatMap((text) => text.split(/^---$/m).map((document) => parse(document) as Record<string, any> | null)).filter((object) => object !== null) as Record<string, any>[];
}
