import type { ProgramRun } from "../../tools/program";
import { backupLifecycleRules } from "../../components/backupBucket";
import { named, runStage } from "../helpers/program";

const BUCKET = "gcp:storage/bucket:Bucket";
const MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember";

describe("backup bucket", () => {
  const runs: Record<string, ProgramRun> = {};
  beforeAll(async () => {
    for (const stage of ["dev", "staging", "prod"]) {
      runs[stage] = await runStage(stage);
    }
  });

  test("prod: regional, private, soft delete, locked 30-day retention, protected", () => {
    const bucket = named(runs.prod, BUCKET, "guincho-prod-backups");
    expect(bucket.protect).toBe(true);
    expect(bucket.props).toMatchObject({
      name: "guincho-lacerda-prod-backups",
      location: "SOUTHAMERICA-EAST1",
      storageClass: "STANDARD",
      uniformBucketLevelAccess: true,
      publicAccessPrevention: "enforced",
      // Versioning and a retention policy are mutually exclusive in Cloud Storage.
      versioning: { enabled: false },
      softDeletePolicy: { retentionDurationSeconds: 604800 },
      retentionPolicy: { retentionPeriod: "2592000", isLocked: true },
      forceDestroy: false,
    });
    expect(bucket.props.labels).toEqual({
      "cost-center": "operacoes",
      app: "guincho-lacerda",
      stage: "prod",
      "managed-by": "pulumi",
      purpose: "backups",
    });
  });

  test("dev: the same safeguards, a 7-day retention that is not locked, not protected", () => {
    const bucket = named(runs.dev, BUCKET, "guincho-dev-backups");
    expect(bucket.protect).toBe(false);
    expect(bucket.props.retentionPolicy).toEqual({ retentionPeriod: "604800", isLocked: false });
    expect(bucket.props.publicAccessPrevention).toBe("enforced");
    expect(bucket.props.lifecycleRules).toEqual(backupLifecycleRules(7));
  });

  test("the app may create and read backups on this bucket only, and nothing more", () => {
    const grants = runs.prod.resources.filter(
      (r) => r.type === MEMBER && r.props.bucket === "guincho-lacerda-prod-backups",
    );
    expect(grants.map((g) => [g.props.role, g.props.member])).toEqual([
      [
        "roles/storage.objectCreator",
        "serviceAccount:guincho-app@guincho-lacerda-prod.iam.gserviceaccount.com",
      ],
      [
        "roles/storage.objectViewer",
        "serviceAccount:guincho-app@guincho-lacerda-prod.iam.gserviceaccount.com",
      ],
    ]);
  });

  test("staging lets prod's app account add sanitized copies under sanitized/ only", async () => {
    const withWriter = await runStage("staging", {
      "guincho:backup": {
        retentionDays: 14,
        sanitizedWriter: "guincho-app@guincho-lacerda-prod.iam.gserviceaccount.com",
      },
    });
    const grant = named(withWriter, MEMBER, "guincho-staging-backups-sanitized-writer");
    expect(grant.props).toEqual({
      bucket: "guincho-lacerda-staging-backups",
      role: "roles/storage.objectCreator",
      member: "serviceAccount:guincho-app@guincho-lacerda-prod.iam.gserviceaccount.com",
      condition: {
        title: "sanitized-prefix-only",
        description: "Prod publishes sanitized copies under sanitized/ and nowhere else.",
        expression:
          'resource.name.startsWith("projects/_/buckets/guincho-lacerda-staging-backups/objects/sanitized/")',
      },
    });
    // Not set in the committed stacks: the grant waits until prod's account exists.
    for (const stage of ["dev", "staging", "prod"]) {
      expect(runs[stage].resources.filter((r) => r.name.endsWith("-sanitized-writer"))).toEqual([]);
    }
  });

  test("exports the bucket and the URL the host tools write to", () => {
    expect(runs.prod.outputs.backupBucket).toBe("guincho-lacerda-prod-backups");
    expect(runs.prod.outputs.backupUrl).toBe("gs://guincho-lacerda-prod-backups/backups");
  });
});

describe("backupLifecycleRules", () => {
  test("a short retention only deletes: no colder class an object would leave early", () => {
    expect(backupLifecycleRules(30)).toEqual([
      { action: { type: "Delete" }, condition: { age: 30, withState: "LIVE" } },
      {
        action: { type: "Delete" },
        condition: { daysSinceNoncurrentTime: 7, withState: "ARCHIVED" },
      },
    ]);
  });

  test("a long retention moves to Nearline at 30 days and Coldline at 90", () => {
    expect(backupLifecycleRules(365).map((r) => [r.action, r.condition])).toEqual([
      [
        { type: "SetStorageClass", storageClass: "NEARLINE" },
        { age: 30, matchesStorageClasses: ["STANDARD"] },
      ],
      [
        { type: "SetStorageClass", storageClass: "COLDLINE" },
        { age: 90, matchesStorageClasses: ["NEARLINE"] },
      ],
      [{ type: "Delete" }, { age: 365, withState: "LIVE" }],
      [{ type: "Delete" }, { daysSinceNoncurrentTime: 7, withState: "ARCHIVED" }],
    ]);
  });

  test("Nearline starts at 60 days of retention, Coldline at 180", () => {
    expect(backupLifecycleRules(59)).toHaveLength(2);
    expect(backupLifecycleRules(60)).toHaveLength(3);
    expect(backupLifecycleRules(179)).toHaveLength(3);
    expect(backupLifecycleRules(180)).toHaveLength(4);
  });
});
