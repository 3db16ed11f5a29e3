// A casbin ACL: the model and policy files (the Go original's work unchanged: subject, object "*",
// action), asked whether a principal may take an action. Default deny: what the policy does not
// allow is refused. A policy rule without subject, object and action, or naming an action no call
// takes (a misspelt "consum"), is refused at load, naming the rule: it would grant nothing, silently.
import { newEnforcer, type Enforcer } from "casbin";
import { InvalidConfigError } from "../errors.ts";
import { ACL_OBJECT, ACTIONS, type Action } from "./action.ts";

export interface AclFiles {
  readonly modelFile: string;
  readonly policyFile: string;
}

/** Decisions remembered per principal and action (a reload builds a new Acl); bounded, as tokens may name many principals. */
const DECISIONS_MAX = 10_000;

export class Acl {
  private readonly decisions = new Map<string, boolean>();

  private constructor(private readonly enforcer: Enforcer) {}

  /** Loads both files; InvalidConfigError names the file set that could not be read or parsed. */
  static async load(files: AclFiles): Promise<Acl> {
    let enforcer: Enforcer;
    try {
      enforcer = await newEnforcer(files.modelFile, files.policyFile);
    } catch (error) {
      throw new InvalidConfigError(`cannot load the ACL (model ${files.modelFile}, policy ${files.policyFile}): ${(error as Error).message}`, { cause: error });
    }
    for (const rule of await enforcer.getPolicy()) {
      const problem = ruleProblem(rule);
      if (problem !== undefined) throw new InvalidConfigError(`ACL policy ${files.policyFile}: rule "p, ${rule.join(", ")}" ${problem}`);
    }
    return new Acl(enforcer);
  }

  allows(principal: string, action: Action): boolean {
    const key = `${action}\u0000${principal}`;
    let allowed = this.decisions.get(key);
    if (allowed === undefined) {
      // casbin evaluates its matcher per call (~15 µs here): the same question gets the same answer.
      allowed = this.enforcer.enforceSync(principal, ACL_OBJECT, action);
      if (this.decisions.size >= DECISIONS_MAX) this.decisions.clear();
      this.decisions.set(key, allowed);
    }
    return allowed;
  }
}

/**
 * What is wrong with a policy rule, if anything: it must start with subject, object, action (a model
 * may add fields, such as an effect), and the action be one that calls take (or a pattern a model may match).
 */
function ruleProblem(rule: readonly string[]): string | undefined {
  if (rule.length < 3) return `has ${rule.length} field${rule.length === 1 ? "" : "s"}, not subject, object and action`;
  const action = rule[2]!;
  if (!(ACTIONS as readonly string[]).includes(action) && !/[*?[\]().|]/.test(action)) return `grants "${action}", which no call takes (${ACTIONS.join(", ")})`;
  return undefined;
}
