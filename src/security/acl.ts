// A casbin ACL: the model and policy files (the Go original's work unchanged: subject, object "*",
// action), asked whether a principal may take an action. Default deny: what the policy does not
// allow is refused.
import { newEnforcer, type Enforcer } from "casbin";
import { InvalidConfigError } from "../errors.ts";
import { ACL_OBJECT, type Action } from "./action.ts";

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
    try {
      return new Acl(await newEnforcer(files.modelFile, files.policyFile));
    } catch (error) {
      throw new InvalidConfigError(`cannot load the ACL (model ${files.modelFile}, policy ${files.policyFile}): ${(error as Error).message}`, { cause: error });
    }
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
