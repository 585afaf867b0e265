/**
 * Every policy of the pack, one array, no server: the pack's entry, the offline plan, the
 * offline scan and the tests all import this module.
 */
import type {
  EnforcementLevel,
  ResourceValidationPolicy,
  StackValidationPolicy,
} from "@pulumi/policy";
import { computePolicies } from "./compute";

/** The pack's name, as `pulumi preview --policy-pack` reports it. */
export const PACK_NAME = "guincho-lacerda";

/** The level of a policy that names none (CrossGuard's own default). */
export const PACK_ENFORCEMENT_LEVEL: EnforcementLevel = "advisory";

export const policies: (ResourceValidationPolicy | StackValidationPolicy)[] = [...computePolicies];
