// Work to do when a test ends, last registered first (like Go's t.Cleanup): a test that makes a
// directory and then starts a node in it stops the node before the directory goes. node:test runs
// t.after hooks first registered first, which would remove a directory under a running node.
import type { TestContext } from "node:test";

const stacks = new WeakMap<TestContext, (() => unknown)[]>();

/** Runs `fn` when test `t` ends, before everything registered earlier; every step runs even if one fails. */
export function cleanup(t: TestContext, fn: () => unknown): void {
  let stack = stacks.get(t);
  if (stack === undefined) {
    const steps: (() => unknown)[] = [];
    stacks.set(t, steps);
    t.after(async () => {
      const failures: unknown[] = [];
      for (let step = steps.pop(); step !== undefined; step = steps.pop()) {
        try {
          await step();
        } catch (error) {
          failures.push(error);
        }
      }
      if (failures.length === 1) throw failures[0];
      if (failures.length > 1) throw new AggregateError(failures, "cleanup steps failed");
    });
    stack = steps;
  }
  stack.push(fn);
}
