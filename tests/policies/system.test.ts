import { evaluatePolicies } from "../../policies/evaluate";
import {
  ALERT,
  BUCKET,
  compliantBackupBucket,
  compliantVm,
  findingsFor,
  INSTANCE,
  LABELS,
  messages,
} from "./helpers";

const DISK = "gcp:compute/disk:Disk";
const SNAPSHOTS = "gcp:compute/resourcePolicy:ResourcePolicy";

describe("stateful-protected", () => {
  const policy = "stateful-protected";
  test.each([
    [
      INSTANCE,
      { ...compliantVm(), deletionProtection: false },
      false,
      'Instance "app" holds state but can be deleted or replaced: Pulumi protect is off, deletionProtection is false. Set the resource option protect: true, deletionProtection: true. (A prod rule: previews of dev and staging pass --policy-pack-config policies/config/<stage>.json.)',
    ],
    [
      INSTANCE,
      { ...compliantVm(), deletionProtection: undefined },
      true,
      'Instance "app" holds state but can be deleted or replaced: deletionProtection is not set. Set the resource option protect: true, deletionProtection: true. (A prod rule: previews of dev and staging pass --policy-pack-config policies/config/<stage>.json.)',
    ],
    [
      DISK,
      { size: 50, labels: LABELS },
      false,
      'Disk "app" holds state but can be deleted or replaced: Pulumi protect is off. Set the resource option protect: true. (A prod rule: previews of dev and staging pass --policy-pack-config policies/config/<stage>.json.)',
    ],
    [
      BUCKET,
      { ...compliantBackupBucket(), forceDestroy: true },
      true,
      'Bucket "app" holds state but can be deleted or replaced: forceDestroy is true. Set the resource option protect: true, forceDestroy: false. (A prod rule: previews of dev and staging pass --policy-pack-config policies/config/<stage>.json.)',
    ],
  ])("blocks in prod an unprotected %s", (type, props, protect, message) => {
    expect(messages(policy, type, props, { protect })).toEqual([message]);
  });

  test.each([["dev"], ["staging"]] as const)("is off in %s", (stage) => {
    const props = { ...compliantVm(), deletionProtection: false, machineType: "e2-small" };
    expect(messages(policy, INSTANCE, props, { stage, protect: false })).toEqual([]);
  });
});

describe("backup-retention-minimum", () => {
  const policy = "backup-retention-minimum";
  test.each([
    ["dev", "604800", []],
    ["staging", "604800", ["7 days", 14, "1209600"]],
    ["staging", "1209600", []],
    ["prod", "1209600", ["14 days", 30, "2592000"]],
    ["prod", 2592000, []],
  ] as const)("in %s a retention of %s seconds gives %j", (stage, retentionPeriod, expected) => {
    const props = { ...compliantBackupBucket(), retentionPolicy: { retentionPeriod } };
    const want =
      expected.length === 0
        ? []
        : [
            `Bucket "app" keeps backups too briefly: retentionPolicy.retentionPeriod is ${JSON.stringify(retentionPeriod)} (${expected[0]}); this stage needs at least ${expected[1]} days. Set it to "${expected[2]}" (seconds) or more.`,
          ];
    expect(messages(policy, BUCKET, props, { stage })).toEqual(want);
  });

  test("blocks a backup bucket with neither retention policy nor versioning", () => {
    const props = { ...compliantBackupBucket(), retentionPolicy: undefined };
    expect(messages(policy, BUCKET, props, { stage: "dev" })).toEqual([
      'Bucket "app" does not keep backups for 7 days: there is no retentionPolicy and versioning is off. Set retentionPolicy { retentionPeriod: "604800" } (seconds).',
    ]);
  });

  test("blocks a lifecycle rule that deletes backups before the minimum", () => {
    const props = {
      ...compliantBackupBucket(),
      retentionPolicy: undefined,
      versioning: { enabled: true },
      lifecycleRules: [
        { action: { type: "Delete" }, condition: { age: 10 } },
        {
          action: { type: "Delete" },
          condition: { daysSinceNoncurrentTime: 3, withState: "ARCHIVED" },
        },
        { action: { type: "SetStorageClass", storageClass: "COLDLINE" }, condition: { age: 5 } },
      ],
    };
    expect(messages(policy, BUCKET, props, { stage: "staging" })).toEqual([
      'Bucket "app" deletes backups after 10 day(s) (lifecycle Delete with condition.age); this stage keeps them at least 14 days. Raise condition.age to 14 or more.',
    ]);
  });

  test("blocks a snapshot schedule that keeps disk snapshots too briefly", () => {
    const props = {
      snapshotSchedulePolicy: {
        schedule: { dailySchedule: { daysInCycle: 1, startTime: "04:00" } },
        retentionPolicy: { maxRetentionDays: 14 },
      },
    };
    expect(messages(policy, SNAPSHOTS, props, { name: "daily" })).toEqual([
      'ResourcePolicy "daily" keeps disk snapshots 14 days (snapshotSchedulePolicy.retentionPolicy.maxRetentionDays); this stage needs at least 30. Set maxRetentionDays to 30 or more.',
    ]);
    expect(messages(policy, SNAPSHOTS, props, { stage: "staging" })).toEqual([]);
  });
});

describe("alert-notification-channel", () => {
  const policy = "alert-notification-channel";
  test.each([
    ["not set", undefined],
    ["[]", []],
  ])("blocks an alert policy whose notificationChannels is %s", (shown, notificationChannels) => {
    const props = { displayName: "Backup missing", notificationChannels, userLabels: LABELS };
    expect(messages(policy, ALERT, props, { name: "backup-missing" })).toEqual([
      `AlertPolicy "backup-missing" notifies nobody: notificationChannels is ${shown}. Add the stage's e-mail or SMS channel to notificationChannels.`,
    ]);
  });

  test("accepts a disabled alert policy and one with a channel", () => {
    expect(messages(policy, ALERT, { enabled: false })).toEqual([]);
    expect(
      messages(policy, ALERT, { notificationChannels: ["projects/p/notificationChannels/1"] }),
    ).toEqual([]);
  });

  test("is advisory in dev", () => {
    expect(findingsFor(ALERT, { userLabels: LABELS }, { stage: "dev" })).toEqual([
      expect.objectContaining({ policy, enforcementLevel: "advisory" }),
    ]);
  });
});

describe("required-labels", () => {
  test("advises the missing labels and reads user labels of alert policies", () => {
    const props = { ...compliantVm(), labels: { app: "guincho" } };
    expect(messages("required-labels", INSTANCE, props)).toEqual([
      'Instance "app" lacks the label(s) stage, managed-by. Add labels { "app": ..., "stage": ..., "managed-by": ... } (the program\'s standard labels).',
    ]);
    const found = evaluatePolicies(
      [{ type: DISK, name: "data", props: {}, protect: true }],
      "prod",
    );
    expect(found.map((f) => [f.policy, f.enforcementLevel])).toEqual([
      ["backups-declared", "mandatory"],
      ["required-labels", "advisory"],
    ]);
  });
});

describe("backups-declared", () => {
  const vm = { type: INSTANCE, name: "vm", props: compliantVm(), protect: true };
  const disk = { type: DISK, name: "data", props: { labels: LABELS }, protect: true };
  const bucket = { type: BUCKET, name: "backups", props: compliantBackupBucket(), protect: true };
  const schedule = {
    type: SNAPSHOTS,
    name: "daily",
    props: { snapshotSchedulePolicy: { retentionPolicy: { maxRetentionDays: 30 } } },
  };

  test("accepts a stack with the VM, its disk, the backup bucket and a snapshot schedule", () => {
    const found = evaluatePolicies([vm, disk, bucket, schedule], "prod");
    expect(found.filter((f) => f.policy === "backups-declared")).toEqual([]);
  });

  test("reports, on the VM and the disk, a stack without backups", () => {
    const found = evaluatePolicies([vm, disk], "staging");
    expect(found.filter((f) => f.policy === "backups-declared")).toEqual([
      {
        policy: "backups-declared",
        enforcementLevel: "mandatory",
        resource: { type: INSTANCE, name: "vm" },
        message:
          'Instance "vm" has no backup bucket in the stack: no storage Bucket is labelled purpose: "backups". Declare the backup bucket with labels { purpose: "backups" }.',
      },
      {
        policy: "backups-declared",
        enforcementLevel: "mandatory",
        resource: { type: DISK, name: "data" },
        message:
          'Disk "data" has no snapshot schedule in the stack: no ResourcePolicy has a snapshotSchedulePolicy. Declare a daily snapshot schedule and attach it to the disk.',
      },
    ]);
  });

  test("is advisory in dev", () => {
    const found = evaluatePolicies([vm], "dev").filter((f) => f.policy === "backups-declared");
    expect(found.map((f) => f.enforcementLevel)).toEqual(["advisory"]);
  });
});
