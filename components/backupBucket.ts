/**
 * The bucket that holds the SQLite backups: regional, private, with soft delete and a
 * retention policy (locked in prod) so no one, not even an administrator in a hurry, can
 * delete or replace a backup before its time. The app's service account may create and read
 * objects in this bucket only, never delete or overwrite them.
 */
import * as gcp from "./gcp";
import * as pulumi from "@pulumi/pulumi";

const DAY_SECONDS = 86_400;

export interface BackupBucketArgs {
  /** Globally unique bucket name (config.ts derives `<project>-backups`). */
  bucketName: string;
  /** Region of the bucket: the stage's region, beside the VM. */
  location: string;
  /** Days a backup object cannot be deleted or replaced. */
  retentionDays: number;
  /**
   * Lock the retention policy. Irreversible: the bucket can then never be deleted before
   * its newest object is `retentionDays` old, and the period can only grow.
   * @default false
   */
  lockRetention?: boolean;
  /**
   * Days a deleted object stays recoverable (soft delete). 0 turns soft delete off.
   * @default 7
   */
  softDeleteDays?: number;
  /** Service account e-mail that writes backups (the app's): create and read only. */
  writerServiceAccountEmail: pulumi.Input<string>;
  /**
   * Another stage's account that may add objects under `sanitized/` only: prod's app account
   * publishing sanitized copies for staging. Personal data never leaves prod; masked copies
   * arrive here one way (create only: it can neither read nor delete).
   * @default none
   */
  sanitizedWriterEmail?: string;
  /** Labels of the stage; `purpose: backups` is added (the policy pack keys on it). */
  labels: Record<string, string>;
  /**
   * Pulumi `protect` on the bucket (prod).
   * @default false
   */
  protect?: boolean;
}

/** One lifecycle rule in the provider's input shape. */
export type LifecycleRule = gcp.types.input.storage.BucketLifecycleRule;

/**
 * Lifecycle of backup objects: colder classes only when an object will stay there longer
 * than the class's minimum storage duration (Nearline 30 days, Coldline 90), then deletion
 * once the retention has passed. Noncurrent versions (from a bucket that was versioned
 * before) go a week later.
 */
export function backupLifecycleRules(retentionDays: number): LifecycleRule[] {
  const rules: LifecycleRule[] = [];
  if (retentionDays >= 60) {
    rules.push({
      action: { type: "SetStorageClass", storageClass: "NEARLINE" },
      condition: { age: 30, matchesStorageClasses: ["STANDARD"] },
    });
  }
  if (retentionDays >= 180) {
    rules.push({
      action: { type: "SetStorageClass", storageClass: "COLDLINE" },
      condition: { age: 90, matchesStorageClasses: ["NEARLINE"] },
    });
  }
  rules.push(
    { action: { type: "Delete" }, condition: { age: retentionDays, withState: "LIVE" } },
    {
      action: { type: "Delete" },
      condition: { daysSinceNoncurrentTime: 7, withState: "ARCHIVED" },
    },
  );
  return rules;
}

/**
 * Roles the backup writer gets on this bucket only. objectCreator can create but not delete,
 * and overwriting an object needs delete, so existing backups are safe from the VM itself.
 */
/** Where sanitized copies of prod's data land in staging's bucket. */
export const SANITIZED_PREFIX = "sanitized";

export const WRITER_ROLES = ["roles/storage.objectCreator", "roles/storage.objectViewer"] as const;

export class BackupBucket extends pulumi.ComponentResource {
  /** The bucket's name, for `GUINCHO_BACKUP_URL=gs://<name>/backups` on the host. */
  readonly bucketName: pulumi.Output<string>;
  /** `gs://<name>/backups`, where the host tools write. */
  readonly backupUrl: pulumi.Output<string>;

  constructor(name: string, args: BackupBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super("guincho:backups:BackupBucket", name, {}, opts);
    if (!Number.isInteger(args.retentionDays) || args.retentionDays < 1) {
      throw new pulumi.ResourceError(
        `retentionDays: received ${args.retentionDays}; expected a whole number of days, ` +
          "at least 1 (set guincho:backup.retentionDays)",
        this,
      );
    }
    const softDeleteDays = args.softDeleteDays ?? 7;
    const bucket = new gcp.storage.Bucket(
      `${name}-backups`,
      {
        name: args.bucketName,
        location: args.location.toUpperCase(),
        storageClass: "STANDARD",
        uniformBucketLevelAccess: true,
        publicAccessPrevention: "enforced",
        // NOTE: Cloud Storage refuses Object Versioning on a bucket with a retention policy
        // (the two are mutually exclusive). The retention policy is the stronger guarantee:
        // no object can be deleted or replaced before its time, and soft delete keeps a
        // deleted one recoverable after that. Backups are never overwritten anyway.
        versioning: { enabled: false },
        softDeletePolicy: { retentionDurationSeconds: softDeleteDays * DAY_SECONDS },
        retentionPolicy: {
          retentionPeriod: String(args.retentionDays * DAY_SECONDS),
          isLocked: args.lockRetention ?? false,
        },
        lifecycleRules: backupLifecycleRules(args.retentionDays),
        forceDestroy: false,
        labels: { ...args.labels, purpose: "backups" },
      },
      { parent: this, protect: args.protect ?? false },
    );
    for (const role of WRITER_ROLES) {
      new gcp.storage.BucketIAMMember(
        `${name}-backups-${role.split(".").pop()?.toLowerCase()}`,
        {
          bucket: bucket.name,
          role,
          member: pulumi.interpolate`serviceAccount:${args.writerServiceAccountEmail}`,
        },
        { parent: this },
      );
    }
    if (args.sanitizedWriterEmail) {
      new gcp.storage.BucketIAMMember(
        `${name}-backups-sanitized-writer`,
        {
          bucket: bucket.name,
          role: "roles/storage.objectCreator",
          member: `serviceAccount:${args.sanitizedWriterEmail}`,
          condition: {
            title: "sanitized-prefix-only",
            description: "Prod publishes sanitized copies under sanitized/ and nowhere else.",
            expression: pulumi.interpolate`resource.name.startsWith("projects/_/buckets/${bucket.name}/objects/${SANITIZED_PREFIX}/")`,
          },
        },
        { parent: this },
      );
    }
    this.bucketName = bucket.name;
    this.backupUrl = pulumi.interpolate`gs://${bucket.name}/backups`;
    this.registerOutputs({ bucketName: this.bucketName, backupUrl: this.backupUrl });
  }
}
