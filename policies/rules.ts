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
import { dnsPolicies } from "./dns";
import { firewallPolicies } from "./firewall";
import { iamPolicies } from "./iam";
import { networkPolicies } from "./network";
import { secretsPolicies } from "./secrets";
import { storagePolicies } from "./storage";
import { systemPolicies } from "./system";
import { tlsPolicies } from "./tls";

/** The pack's name, as `pulumi preview --policy-pack` reports it. */
export const PACK_NAME = "guincho-lacerda";

/** The level of a policy that names none (CrossGuard's own default). */
export const PACK_ENFORCEMENT_LEVEL: EnforcementLevel = "advisory";

/** All the pack's policies, grouped by area in the order docs/policies.md lists them. */
export const policies: (ResourceValidationPolicy | StackValidationPolicy)[] = [
  ...computePolicies,
  ...firewallPolicies,
  ...networkPolicies,
  ...tlsPolicies,
  ...storagePolicies,
  ...iamPolicies,
  ...dnsPolicies,
  ...secretsPolicies,
  ...systemPolicies,
];
