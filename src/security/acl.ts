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

export class Acl {
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
    return this.enforcer.enforceSync(principal, ACL_OBJECT, action);
  }
}
