// The console's reading of Prometheus's text format (src/console/metrics-text.ts): the sum of one
// metric's samples over its label sets, and nothing from metrics that only share its prefix.
import assert from "node:assert/strict";
import { test } from "node:test";
import { sumOfSamples } from "../src/console/metrics-text.ts";

test("sums one metric's samples over its label sets and ignores names that only share a prefix", () => {
  const text = [
    "# HELP loghouse_records_appended_total Records appended.",
    "# TYPE loghouse_records_appended_total counter",
    'loghouse_records_appended_total{path="produce"} 12',
    'loghouse_records_appended_total{path="replication",note="a } in a label"} 30 1700000000000',
    "loghouse_records_appended_total_created 1700000000",
    "loghouse_records_appended_totally 99",
    "",
  ].join("\n");
  assert.equal(sumOfSamples(text, "loghouse_records_appended_total"), 42);
  assert.equal(sumOfSamples("loghouse_records_appended_total 7\n", "loghouse_records_appended_total"), 7);
  assert.equal(sumOfSamples("other_metric 1\n", "loghouse_records_appended_total"), undefined);
});
