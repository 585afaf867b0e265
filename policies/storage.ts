/**
 * Cloud Storage: uniform access, public access prevention, no public ACLs, and backup
 * buckets (label `purpose: backups`) that keep what they hold. Public IAM grants on buckets
 * are caught by iam-no-public-members, which covers every kind of IAM resource.
 */
import * as storage from "@pulumi/gcp/storage";
import { validateResourceOfType, type ResourceValidationPolicy } from "@pulumi/policy";
import { arrayOf, describe, labelsOf, objectOf, quote } from "./util";

/** The IAM members that mean "anyone". */
export const PUBLIC_MEMBERS = ["allUsers", "allAuthenticatedUsers"];

/** Predefined ACLs that hand read or write to anyone. */
const PUBLIC_PREDEFINED_ACLS = ["publicRead", "publicReadWrite", "authenticatedRead"];

/** The backup bucket is the one labelled `purpose: backups`. */
export function isBackupBucket(props: Record<string, unknown>): boolean {
  return labelsOf(props).purpose === "backups";
}

export const uniformAccess: ResourceValidationPolicy = {
  name: "storage-uniform-access",
  description: "Buckets must use uniform bucket-level access (IAM only, no object ACLs).",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(storage.Bucket, (bucket, args, report) => {
    if (bucket.uniformBucketLevelAccess !== true) {
      report(
        `${describe(args)} allows per-object ACLs: uniformBucketLevelAccess is ` +
          `${quote(bucket.uniformBucketLevelAccess)}. Set uniformBucketLevelAccess to true.`,
      );
    }
  }),
};

export const publicAccessPrevention: ResourceValidationPolicy = {
  name: "storage-public-access-prevention",
  description: 'Buckets must enforce public access prevention (the default is "inherited").',
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(storage.Bucket, (bucket, args, report) => {
    if (bucket.publicAccessPrevention !== "enforced") {
      report(
        `${describe(args)} can be made public: publicAccessPrevention is ` +
          `${quote(bucket.publicAccessPrevention)}. Set publicAccessPrevention to "enforced".`,
      );
    }
  }),
};

function publicEntities(values: unknown[]): string[] {
  return values
    .map(String)
    .filter((v) => PUBLIC_MEMBERS.some((m) => v === m || v.endsWith(`:${m}`)));
}

export const noPublicAcls: ResourceValidationPolicy = {
  name: "storage-no-public-acls",
  description: "Bucket and object ACLs must not grant access to allUsers or allAuthenticatedUsers.",
  enforcementLevel: "mandatory",
  validateResource: [
    storage.BucketAccessControl,
    storage.DefaultObjectAccessControl,
    storage.ObjectAccessControl,
  ]
    .map((cls) =>
      validateResourceOfType(cls as typeof storage.BucketAccessControl, (acl, args, report) => {
        const hit = publicEntities([acl.entity]);
        if (hit.length > 0) {
          report(
            `${describe(args)} grants ${quote(acl.role)} to ${quote(acl.entity)}. Remove it; ` +
              "share through IAM with named principals.",
          );
        }
      }),
    )
    .concat(
      [storage.BucketACL, storage.DefaultObjectACL, storage.ObjectACL].map((cls) =>
        validateResourceOfType(cls as typeof storage.BucketACL, (acl, args, report) => {
          const hit = publicEntities(arrayOf(acl.roleEntities));
          const predefined = (acl as { predefinedAcl?: unknown }).predefinedAcl;
          if (hit.length > 0) {
            report(
              `${describe(args)} grants access to anyone: roleEntities include ${quote(hit)}. ` +
                "Remove them; share through IAM with named principals.",
            );
          }
          if (typeof predefined === "string" && PUBLIC_PREDEFINED_ACLS.includes(predefined)) {
            report(
              `${describe(args)} grants access to anyone: predefinedAcl is ${quote(predefined)}. ` +
                'Use "private" or "projectPrivate".',
            );
          }
        }),
      ),
    ),
};

export const backupVersioning: ResourceValidationPolicy = {
  name: "storage-backup-versioning",
  description:
    "The backup bucket must keep overwritten and deleted objects: versioning on, or a retention policy.",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(storage.Bucket, (bucket, args, report) => {
    const props = bucket as unknown as Record<string, unknown>;
    if (!isBackupBucket(props)) {
      return;
    }
    const versioning = objectOf(props.versioning).enabled === true;
    // NOTE: Cloud Storage does not let versioning and a retention policy coexist on one
    // bucket; a retention policy already forbids overwriting or deleting an object.
    if (!versioning && props.retentionPolicy === undefined) {
      report(
        `${describe(args)} is the backup bucket but keeps no previous versions: versioning is ` +
          `${quote(props.versioning)} and there is no retentionPolicy. Set versioning ` +
          "{ enabled: true } (or a retentionPolicy, which Cloud Storage allows instead of it).",
      );
    }
  }),
};

/** The storage rules, in the order the docs list them. */
export const storagePolicies: ResourceValidationPolicy[] = [
  uniformAccess,
  publicAccessPrevention,
  noPublicAcls,
  backupVersioning,
];
