/**
 * This system's own rules: stateful resources protected in prod, backups kept at least the
 * stage's minimum, alerts that reach someone, required labels. Each takes its numbers from
 * the stage's policy config (policies/config/<stage>.json); the schema defaults are prod's.
 */
import * as compute from "@pulumi/gcp/compute";
import * as monitoring from "@pulumi/gcp/monitoring";
import * as storage from "@pulumi/gcp/storage";
import {
  validateResourceOfType,
  type ResourceValidationArgs,
  type ResourceValidationPolicy,
  type StackValidationPolicy,
  type PolicyConfigSchema,
} from "@pulumi/policy";
import { isBackupBucket } from "./storage";
import { configOf, arrayOf, describe, labelsOf, numberOf, objectOf, quote } from "./util";

const DAY_SECONDS = 86400;

const STATEFUL_TYPES = [
  "gcp:compute/instance:Instance",
  "gcp:compute/disk:Disk",
  "gcp:compute/regionDisk:RegionDisk",
  "gcp:storage/bucket:Bucket",
];

/** What keeps a stateful resource from being deleted or replaced, and what is missing. */
export function protectionGaps(args: Pick<ResourceValidationArgs, "type" | "props" | "opts">) {
  const gaps: string[] = [];
  if (args.opts.protect !== true) {
    gaps.push("Pulumi protect is off");
  }
  if (args.type === "gcp:compute/instance:Instance" && args.props.deletionProtection !== true) {
    gaps.push(`deletionProtection is ${quote(args.props.deletionProtection)}`);
  }
  if (args.type === "gcp:storage/bucket:Bucket" && args.props.forceDestroy === true) {
    gaps.push("forceDestroy is true");
  }
  return gaps;
}

export const statefulProtected: ResourceValidationPolicy = {
  name: "stateful-protected",
  description:
    "In prod the VM, its disks and the buckets must be protected: Pulumi protect, deletion protection, no forceDestroy.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (!STATEFUL_TYPES.includes(args.type)) {
      return;
    }
    const gaps = protectionGaps(args);
    if (gaps.length > 0) {
      report(
        `${describe(args)} holds state but can be deleted or replaced: ${gaps.join(", ")}. ` +
          "Set the resource option protect: true" +
          (args.type.endsWith(":Instance") ? ", deletionProtection: true" : "") +
          (args.type.endsWith(":Bucket") ? ", forceDestroy: false" : "") +
          ". (A prod rule: previews of dev and staging pass --policy-pack-config " +
          "policies/config/<stage>.json.)",
      );
    }
  },
};

interface RetentionConfig {
  minimumRetentionDays: number;
}

function days(seconds: number): string {
  return `${Math.round((seconds / DAY_SECONDS) * 10) / 10} days`;
}

/** Lifecycle Delete rules that remove live backups sooner than `minDays`. */
function earlyDeletions(lifecycleRules: unknown, minDays: number): number[] {
  return arrayOf(lifecycleRules)
    .filter((rule) => objectOf(objectOf(rule).action).type === "Delete")
    .map((rule) => objectOf(objectOf(rule).condition))
    .filter((c) => c.withState !== "ARCHIVED" && c.isLive !== false)
    .map((c) => numberOf(c.age))
    .filter((age): age is number => age !== undefined && age < minDays);
}

const RETENTION_SCHEMA: PolicyConfigSchema = {
  properties: { minimumRetentionDays: { type: "integer", minimum: 1, default: 30 } },
};

export const backupRetention: ResourceValidationPolicy = {
  name: "backup-retention-minimum",
  description:
    "Backups (the backup bucket, snapshot schedules) must be kept at least the stage's minimum number of days.",
  enforcementLevel: "mandatory",
  configSchema: RETENTION_SCHEMA,
  validateResource: [
    validateResourceOfType(storage.Bucket, (bucket, args, report) => {
      const props = bucket as unknown as Record<string, unknown>;
      if (!isBackupBucket(props)) {
        return;
      }
      const { minimumRetentionDays: minDays } = configOf<RetentionConfig>(RETENTION_SCHEMA, args);
      const minSeconds = minDays * DAY_SECONDS;
      const raw = objectOf(props.retentionPolicy).retentionPeriod;
      const period = numberOf(raw);
      if (props.retentionPolicy !== undefined && (period === undefined || period < minSeconds)) {
        report(
          `${describe(args)} keeps backups too briefly: retentionPolicy.retentionPeriod is ` +
            `${quote(raw)}${period === undefined ? "" : ` (${days(period)})`}; this stage ` +
            `needs at least ${minDays} days. Set it to "${minSeconds}" (seconds) or more.`,
        );
      } else if (props.retentionPolicy === undefined) {
        if (objectOf(props.versioning).enabled !== true) {
          report(
            `${describe(args)} does not keep backups for ${minDays} days: there is no ` +
              `retentionPolicy and versioning is off. Set retentionPolicy { retentionPeriod: ` +
              `"${minSeconds}" } (seconds).`,
          );
        }
        const early = earlyDeletions(props.lifecycleRules, minDays);
        if (early.length > 0) {
          report(
            `${describe(args)} deletes backups after ${early.join(", ")} day(s) (lifecycle ` +
              `Delete with condition.age); this stage keeps them at least ${minDays} days. ` +
              `Raise condition.age to ${minDays} or more.`,
          );
        }
      }
    }),
    validateResourceOfType(compute.ResourcePolicy, (policy, args, report) => {
      const schedule = objectOf(policy.snapshotSchedulePolicy);
      const retention = objectOf(schedule.retentionPolicy);
      const kept = numberOf(retention.maxRetentionDays);
      const { minimumRetentionDays: minDays } = configOf<RetentionConfig>(RETENTION_SCHEMA, args);
      if (kept !== undefined && kept < minDays) {
        report(
          `${describe(args)} keeps disk snapshots ${kept} days ` +
            `(snapshotSchedulePolicy.retentionPolicy.maxRetentionDays); this stage needs at ` +
            `least ${minDays}. Set maxRetentionDays to ${minDays} or more.`,
        );
      }
    }),
  ],
};

export const alertHasChannel: ResourceValidationPolicy = {
  name: "alert-notification-channel",
  description: "Every enabled alert policy must notify at least one notification channel.",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(monitoring.AlertPolicy, (alert, args, report) => {
    if (alert.enabled !== false && arrayOf(alert.notificationChannels).length === 0) {
      report(
        `${describe(args)} notifies nobody: notificationChannels is ` +
          `${quote(alert.notificationChannels)}. Add the stage's e-mail or SMS channel to ` +
          "notificationChannels.",
      );
    }
  }),
};

interface LabelsConfig {
  requiredLabels: string[];
  labelledTypes: string[];
}

const LABELS_SCHEMA: PolicyConfigSchema = {
  properties: {
    requiredLabels: {
      type: "array",
      items: { type: "string" },
      default: ["app", "stage", "managed-by"],
    },
    labelledTypes: {
      type: "array",
      items: { type: "string" },
      default: [
        "gcp:compute/instance:Instance",
        "gcp:compute/instanceTemplate:InstanceTemplate",
        "gcp:compute/disk:Disk",
        "gcp:storage/bucket:Bucket",
        "gcp:dns/managedZone:ManagedZone",
        "gcp:secretmanager/secret:Secret",
        "gcp:compute/globalForwardingRule:GlobalForwardingRule",
        "gcp:compute/globalAddress:GlobalAddress",
      ],
    },
  },
};

export const requiredLabels: ResourceValidationPolicy = {
  name: "required-labels",
  description: "Resources that take labels should carry the labels app, stage and managed-by.",
  enforcementLevel: "advisory",
  configSchema: LABELS_SCHEMA,
  validateResource: (args, report) => {
    const { requiredLabels: required, labelledTypes } = configOf<LabelsConfig>(LABELS_SCHEMA, args);
    if (!labelledTypes.includes(args.type)) {
      return;
    }
    const labels = labelsOf(args.props);
    const missing = required.filter((key) => typeof labels[key] !== "string" || labels[key] === "");
    if (missing.length > 0) {
      report(
        `${describe(args)} lacks the label(s) ${missing.join(", ")}. Add labels ` +
          `{ ${required.map((k) => `"${k}": ...`).join(", ")} } (the program's standard labels).`,
      );
    }
  },
};

export const backupsDeclared: StackValidationPolicy = {
  name: "backups-declared",
  description:
    "A stack with a VM must declare the backup bucket (label purpose: backups); one with disks, a snapshot schedule.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const vm = args.resources.find((r) => r.type === "gcp:compute/instance:Instance");
    const disk = args.resources.find((r) => r.type === "gcp:compute/disk:Disk");
    const hasBucket = args.resources.some(
      (r) => r.type === "gcp:storage/bucket:Bucket" && isBackupBucket(r.props),
    );
    const hasSchedule = args.resources.some(
      (r) =>
        r.type === "gcp:compute/resourcePolicy:ResourcePolicy" &&
        r.props.snapshotSchedulePolicy !== undefined,
    );
    if (vm && !hasBucket) {
      report(
        `${describe(vm)} has no backup bucket in the stack: no storage Bucket is labelled ` +
          'purpose: "backups". Declare the backup bucket with labels { purpose: "backups" }.',
        vm.urn,
      );
    }
    if (disk && !hasSchedule) {
      report(
        `${describe(disk)} has no snapshot schedule in the stack: no ResourcePolicy has a ` +
          "snapshotSchedulePolicy. Declare a daily snapshot schedule and attach it to the disk.",
        disk.urn,
      );
    }
  },
};

/** This system's own rules, in the order the docs list them. */
export const systemPolicies: (ResourceValidationPolicy | StackValidationPolicy)[] = [
  statefulProtected,
  backupRetention,
  backupsDeclared,
  alertHasChannel,
  requiredLabels,
];
