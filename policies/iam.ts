/**
 * IAM: every kind of IAM member, binding and policy resource (project, bucket, service
 * account, secret, key ...) is read the same way, as (role, members) grants.
 */
import {
  type ReportViolation,
  type ResourceValidationArgs,
  type ResourceValidationPolicy,
  type PolicyConfigSchema,
} from "@pulumi/policy";
import { PUBLIC_MEMBERS } from "./storage";
import { configOf, arrayOf, describe, objectOf, quote } from "./util";

/** One role granted to some members. */
export interface Grant {
  role: string;
  members: string[];
}

/** Whether the type token names an IAM member, binding or policy resource. */
export function isIamType(type: string): boolean {
  const kind = (type.split(":").pop() ?? "").toLowerCase();
  return ["iammember", "iambinding", "iampolicy"].some((k) => kind.endsWith(k));
}

/** Whether the grant applies to a whole project, folder or organization. */
export function isHierarchyLevel(type: string): boolean {
  return /^gcp:(projects|folder|organizations)\//.test(type);
}

/** The grants an IAM resource makes: `member` or `members` with `role`, or `policyData`. */
export function grantsOf(props: Record<string, unknown>): Grant[] {
  const role = typeof props.role === "string" ? props.role : "";
  if (typeof props.member === "string") {
    return [{ role, members: [props.member] }];
  }
  if (Array.isArray(props.members)) {
    return [{ role, members: props.members.map(String) }];
  }
  if (typeof props.policyData === "string") {
    try {
      const policy = objectOf(JSON.parse(props.policyData));
      return arrayOf(policy.bindings).map((b) => ({
        role: String(objectOf(b).role ?? ""),
        members: arrayOf(objectOf(b).members).map(String),
      }));
    } catch {
      return [];
    }
  }
  return [];
}

type GrantCheck = (grant: Grant, args: ResourceValidationArgs, report: ReportViolation) => void;

/** Runs `check` on each grant of any IAM resource; other resources are not applicable. */
function onGrants(check: GrantCheck) {
  return (args: ResourceValidationArgs, report: ReportViolation): void => {
    if (!isIamType(args.type)) {
      return;
    }
    for (const grant of grantsOf(args.props)) {
      check(grant, args, report);
    }
  };
}

const BASIC_ROLES = ["roles/owner", "roles/editor", "roles/viewer"];

export const noBasicRoles: ResourceValidationPolicy = {
  name: "iam-no-basic-roles",
  description: "IAM must not grant the basic roles Owner, Editor or Viewer; use predefined roles.",
  enforcementLevel: "mandatory",
  validateResource: onGrants((grant, args, report) => {
    if (BASIC_ROLES.includes(grant.role)) {
      report(
        `${describe(args)} grants the basic role ${quote(grant.role)} to ${quote(grant.members)}. ` +
          "Grant the predefined roles the work needs instead (for example roles/compute.viewer).",
      );
    }
  }),
};

const IMPERSONATION_ROLES = [
  "roles/iam.serviceAccountUser",
  "roles/iam.serviceAccountTokenCreator",
];

export const noProjectImpersonation: ResourceValidationPolicy = {
  name: "iam-no-project-service-account-user",
  description:
    "Service Account User and Token Creator must be granted on one service account, not on the project.",
  enforcementLevel: "mandatory",
  validateResource: onGrants((grant, args, report) => {
    if (isHierarchyLevel(args.type) && IMPERSONATION_ROLES.includes(grant.role)) {
      report(
        `${describe(args)} grants ${quote(grant.role)} on the whole project to ` +
          `${quote(grant.members)}, which lets them act as every service account. Grant it on ` +
          "the one service account instead (gcp.serviceaccount.IAMMember).",
      );
    }
  }),
};

export const noPublicMembers: ResourceValidationPolicy = {
  name: "iam-no-public-members",
  description: "IAM must not grant any role to allUsers or allAuthenticatedUsers.",
  enforcementLevel: "mandatory",
  validateResource: onGrants((grant, args, report) => {
    const open = grant.members.filter((m) => PUBLIC_MEMBERS.includes(m));
    if (open.length > 0) {
      report(
        `${describe(args)} grants ${quote(grant.role)} to ${quote(open)}, that is to anyone. ` +
          "Grant it to named users, groups or service accounts.",
      );
    }
  }),
};

interface PersonalConfig {
  personalDomains: string[];
}

const PERSONAL_SCHEMA: PolicyConfigSchema = {
  properties: {
    personalDomains: {
      type: "array",
      items: { type: "string" },
      default: [
        "gmail.com",
        "googlemail.com",
        "hotmail.com",
        "outlook.com",
        "yahoo.com",
        "live.com",
        "aol.com",
        "icloud.com",
        "protonmail.com",
        "mail.com",
        "zoho.com",
      ],
    },
  },
};

export const noPersonalAccounts: ResourceValidationPolicy = {
  name: "iam-no-personal-accounts",
  description:
    "IAM should grant roles to the organization's accounts, not personal e-mail accounts.",
  enforcementLevel: "advisory",
  configSchema: PERSONAL_SCHEMA,
  validateResource: onGrants((grant, args, report) => {
    const { personalDomains } = configOf<PersonalConfig>(PERSONAL_SCHEMA, args);
    const personal = grant.members.filter((m) => {
      const domain = m.split("@")[1]?.toLowerCase();
      return m.startsWith("user:") && domain !== undefined && personalDomains.includes(domain);
    });
    if (personal.length > 0) {
      report(
        `${describe(args)} grants ${quote(grant.role)} to personal account(s) ${quote(personal)}. ` +
          "Use accounts of the company's Google Workspace or Cloud Identity domain, or a group.",
      );
    }
  }),
};

const KEY_TYPES = ["gcp:serviceaccount/key:Key", "gcp:storage/hmacKey:HmacKey"];

export const noServiceAccountKeys: ResourceValidationPolicy = {
  name: "iam-no-service-account-keys",
  description:
    "No service account keys or HMAC keys: the VM uses its attached account, CI uses Workload Identity Federation.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (KEY_TYPES.includes(args.type)) {
      report(
        `${describe(args)} creates a long-lived key that can leak and never expires by itself. ` +
          "Remove it: attach the service account to the VM, and use Workload Identity " +
          "Federation for CI.",
      );
    }
  },
};

const WIF_PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider";

export const wifProviderCondition: ResourceValidationPolicy = {
  name: "iam-wif-provider-condition",
  description:
    "Workload Identity Federation providers must restrict which external identities get in (attributeCondition).",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    const condition = args.props.attributeCondition;
    if (args.type === WIF_PROVIDER && (typeof condition !== "string" || condition.trim() === "")) {
      report(
        `${describe(args)} lets any token of its issuer in: attributeCondition is ` +
          `${quote(condition)}. Set attributeCondition, for GitHub for example ` +
          "'assertion.repository == \"<owner>/<repo>\"'.",
      );
    }
  },
};

/** The IAM rules, in the order the docs list them. */
export const iamPolicies: ResourceValidationPolicy[] = [
  noBasicRoles,
  noProjectImpersonation,
  noPublicMembers,
  noPersonalAccounts,
  noServiceAccountKeys,
  wifProviderCondition,
];
