import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { validateStageConfig, type ConfigError } from "../../config";
import {
  GOOGLE_FRONT_END_RANGES,
  readHostBundle,
  renderStartupScript,
  REPORT_TIMES,
} from "../../components/hostFiles";
import { LOAD_BALANCER_RANGES } from "../../components/network";
import { Server, type ServerArgs } from "../../components/server";
import { evaluatePolicies } from "../../policies/evaluate";
import { createMocks } from "../../tools/mocks";
import type { ProgramRun } from "../../tools/program";
import { named, only, plain, runStage, type Stage } from "../helpers/program";
import { DEV_HOST, hostRoot, repoRoot } from "./fixtures";

const STAGES: Stage[] = ["dev", "staging", "prod"];
const runs: Partial<Record<Stage, ProgramRun>> = {};

beforeAll(async () => {
  for (const stage of STAGES) {
    runs[stage] = await runStage(stage);
  }
});

function stageRun(stage: Stage): ProgramRun {
  const run = runs[stage];
  if (!run || run.error) {
    throw new Error(`stage ${stage} did not run: ${String(run?.error?.message)}`);
  }
  return run;
}

const vmOf = (stage: Stage) => only(stageRun(stage), "gcp:compute/instance:Instance");
const diskOf = (stage: Stage) => only(stageRun(stage), "gcp:compute/disk:Disk");

const EXPECTED = {
  dev: { machineType: "e2-small", disk: 10, diskType: "pd-standard", keep: 7, localCopies: 2 },
  staging: {
    machineType: "e2-medium",
    disk: 20,
    diskType: "pd-balanced",
    keep: 14,
    localCopies: 3,
  },
  prod: { machineType: "e2-medium", disk: 50, diskType: "pd-balanced", keep: 30, localCopies: 3 },
} as const;

describe.each(STAGES)("the %s server", (stage) => {
  const expected = { ...EXPECTED[stage], protect: stage === "prod" };

  test("has no external address, only the private subnet", () => {
    expect(vmOf(stage).props.networkInterfaces).toEqual([
      {
        subnetwork: `https://mock.googleapis.com/gcp:compute/subnetwork:Subnetwork/guincho-${stage}-subnet`,
      },
    ]);
    expect(vmOf(stage).props.canIpForward).toBe(false);
  });

  test("is a shielded VM with secure boot, vTPM and integrity monitoring", () => {
    expect(vmOf(stage).props.shieldedInstanceConfig).toEqual({
      enableSecureBoot: true,
      enableVtpm: true,
      enableIntegrityMonitoring: true,
    });
  });

  test("turns OS Login on, project SSH keys and the serial port off", () => {
    const metadata = vmOf(stage).props.metadata as Record<string, string>;
    expect(Object.keys(metadata).sort()).toEqual([
      "block-project-ssh-keys",
      "enable-osconfig",
      "enable-oslogin",
      "serial-port-enable",
      "startup-script",
    ]);
    expect(metadata["enable-oslogin"]).toBe("TRUE");
    expect(metadata["block-project-ssh-keys"]).toBe("TRUE");
    expect(metadata["serial-port-enable"]).toBe("FALSE");
    // Without it the OS Config agent ignores the patch deployments.
    expect(metadata["enable-osconfig"]).toBe("TRUE");
    // In metadata, a new script updates the VM in place; metadataStartupScript would replace it.
    expect(vmOf(stage).props.metadataStartupScript).toBeUndefined();
  });

  test("runs as the app's account with explicit scopes, Sheets included", () => {
    expect(vmOf(stage).props.serviceAccount).toEqual({
      email: `guincho-app@guincho-lacerda-${stage}.iam.gserviceaccount.com`,
      scopes: [
        "https://www.googleapis.com/auth/cloud-platform",
        "https://www.googleapis.com/auth/spreadsheets",
        "https://www.googleapis.com/auth/logging.write",
        "https://www.googleapis.com/auth/monitoring.write",
        "https://www.googleapis.com/auth/devstorage.read_write",
      ],
    });
  });

  test("uses the stage's machine type, Debian 12, the app tag and the common labels", () => {
    const vm = vmOf(stage);
    expect(vm.name).toBe(`guincho-${stage}-vm`);
    expect(vm.props.machineType).toBe(expected.machineType);
    expect(vm.props.zone).toBe("southamerica-east1-b");
    expect(vm.props.tags).toEqual(["guincho-app"]);
    expect(vm.props.allowStoppingForUpdate).toBe(true);
    expect((vm.props.bootDisk as { initializeParams: unknown }).initializeParams).toMatchObject({
      image: "debian-cloud/debian-12",
      size: 20,
    });
    expect(vm.props.labels).toMatchObject({
      app: "guincho-lacerda",
      stage,
      "managed-by": "pulumi",
    });
  });

  test(`is ${expected.protect ? "" : "not "}protected against deletion`, () => {
    expect(vmOf(stage).props.deletionProtection).toBe(expected.protect);
    expect(vmOf(stage).protect).toBe(expected.protect);
    expect(diskOf(stage).protect).toBe(expected.protect);
    const bucket = named(stageRun(stage), "gcp:storage/bucket:Bucket", `guincho-${stage}-bucket`);
    expect(bucket.protect).toBe(expected.protect);
  });

  test("keeps the database on its own disk, attached by the VM as guincho-data", () => {
    const disk = diskOf(stage);
    expect(disk.props).toEqual({
      name: `guincho-${stage}-data`,
      zone: "southamerica-east1-b",
      size: expected.disk,
      type: expected.diskType,
      physicalBlockSizeBytes: 4096,
      labels: expect.objectContaining({ purpose: "database", stage }),
    });
    expect(vmOf(stage).props.attachedDisks).toEqual([
      { source: `guincho-${stage}-data-id`, deviceName: "guincho-data", mode: "READ_WRITE" },
    ]);
    // The disk takes nothing from the VM: a new VM never means a new disk.
    expect(disk.parent).toBe(`guincho:server:Server::guincho-${stage}`);
    expect(JSON.stringify(disk.props)).not.toContain("-vm");
  });

  test(`snapshots the data disk daily at 04:00 UTC and keeps ${expected.keep} days`, () => {
    const run = stageRun(stage);
    const policy = only(run, "gcp:compute/resourcePolicy:ResourcePolicy");
    expect(policy.props.snapshotSchedulePolicy).toEqual({
      schedule: { dailySchedule: { daysInCycle: 1, startTime: "04:00" } },
      retentionPolicy: {
        maxRetentionDays: expected.keep,
        onSourceDiskDelete: "KEEP_AUTO_SNAPSHOTS",
      },
      snapshotProperties: {
        storageLocations: "southamerica-east1",
        guestFlush: false,
        labels: expect.objectContaining({ purpose: "data-disk-snapshot", stage }),
      },
    });
    expect(
      only(run, "gcp:compute/diskResourcePolicyAttachment:DiskResourcePolicyAttachment").props,
    ).toEqual({
      name: `guincho-${stage}-data-snapshots`,
      disk: `guincho-${stage}-data`,
      zone: "southamerica-east1-b",
    });
  });

  test("puts the VM in an instance group with the named port http:80", () => {
    const group = only(stageRun(stage), "gcp:compute/instanceGroup:InstanceGroup");
    expect(group.props).toMatchObject({
      name: `guincho-${stage}-app`,
      zone: "southamerica-east1-b",
      instances: [`https://mock.googleapis.com/gcp:compute/instance:Instance/guincho-${stage}-vm`],
      namedPorts: [{ name: "http", port: 80 }],
    });
  });

  test("keeps artifacts in a private, versioned regional bucket the VM may only read", () => {
    const run = stageRun(stage);
    const bucket = named(run, "gcp:storage/bucket:Bucket", `guincho-${stage}-bucket`);
    expect(bucket.props).toMatchObject({
      name: `guincho-lacerda-${stage}-artifacts`,
      location: "southamerica-east1",
      uniformBucketLevelAccess: true,
      publicAccessPrevention: "enforced",
      versioning: { enabled: true },
      forceDestroy: false,
      lifecycleRules: [
        {
          action: { type: "Delete" },
          condition: { daysSinceNoncurrentTime: 30, withState: "ARCHIVED" },
        },
        { action: { type: "Delete" }, condition: { numNewerVersions: 5, withState: "ARCHIVED" } },
      ],
    });
    expect(
      named(run, "gcp:storage/bucketIAMMember:BucketIAMMember", `guincho-${stage}-reader`).props,
    ).toEqual({
      bucket: `guincho-lacerda-${stage}-artifacts`,
      role: "roles/storage.objectViewer",
      member: `serviceAccount:guincho-app@guincho-lacerda-${stage}.iam.gserviceaccount.com`,
    });
  });

  test("uploads host/ as an object named by its digest, and the VM boots from that object", () => {
    const run = stageRun(stage);
    const bundle = readHostBundle(hostRoot);
    const object = named(
      run,
      "gcp:storage/bucketObject:BucketObject",
      `guincho-${stage}-host-bundle`,
    );
    expect(object.props.name).toBe(`host-bundles/guincho-host-${bundle.digest}.zip`);
    expect(object.props.bucket).toBe(`guincho-lacerda-${stage}-artifacts`);
    expect(object.props.metadata).toEqual({ "guincho-digest": bundle.digest });
    const script = (vmOf(stage).props.metadata as Record<string, string>)["startup-script"];
    expect(script).toContain(
      `readonly BUNDLE_URL='gs://guincho-lacerda-${stage}-artifacts/${bundle.objectName}'\n`,
    );
    expect(script).toContain(`readonly BUNDLE_DIGEST='${bundle.digest}'\n`);
  });

  test("boots with the script rendered from the stage's config, naming the secret only", () => {
    const bundle = readHostBundle(path.join(repoRoot, "host"));
    const script = (vmOf(stage).props.metadata as Record<string, string>)["startup-script"];
    expect(script).toBe(
      renderStartupScript({
        stage,
        gcpProject: `guincho-lacerda-${stage}`,
        timeZone: "America/Sao_Paulo",
        backupBucketName: `guincho-lacerda-${stage}-backups`,
        artifactsBucketName: `guincho-lacerda-${stage}-artifacts`,
        secretId: "guincho-app-secret-key",
        bundle: { objectName: bundle.objectName, digest: bundle.digest },
        routines: {
          backupDailyAt: "02:30",
          backupWeeklyAt: "Sun 03:30",
          drillAt: "05:30",
          ...REPORT_TIMES,
        },
        backupLocalCopies: expected.localCopies,
        keepReleases: 5,
        bootDiskGb: 20,
        accessLogFormat: "guincho_json",
        sanitizedUrl:
          stage === "prod" ? "gs://guincho-lacerda-staging-backups/sanitized" : undefined,
      }),
    );
    expect(script).toContain(`GUINCHO_BACKUP_URL=gs://guincho-lacerda-${stage}-backups/backups\n`);
    // Only prod publishes sanitized copies (to staging's bucket).
    expect(
      script.includes("GUINCHO_SANITIZED_URL=gs://guincho-lacerda-staging-backups/sanitized\n"),
    ).toBe(stage === "prod");
    // The mocked secret value is "x" repeated; no run of it may reach the metadata.
    expect(script).not.toMatch(/x{16}/);
  });

  test("raises no mandatory policy finding on the server's resources", () => {
    const run = stageRun(stage);
    const mine = run.resources.filter(
      (r) => r.custom && /^guincho:server:(Server|Artifacts)::/.test(r.parent ?? ""),
    );
    expect(mine.map((r) => r.type).sort()).toEqual([
      "gcp:compute/disk:Disk",
      "gcp:compute/diskResourcePolicyAttachment:DiskResourcePolicyAttachment",
      "gcp:compute/instance:Instance",
      "gcp:compute/instanceGroup:InstanceGroup",
      "gcp:compute/resourcePolicy:ResourcePolicy",
      "gcp:storage/bucket:Bucket",
      "gcp:storage/bucketIAMMember:BucketIAMMember",
      "gcp:storage/bucketObject:BucketObject",
    ]);
    // Stack-wide rules (a backup bucket must exist) need the whole stage in view.
    const findings = evaluatePolicies(
      run.resources
        .filter((r) => r.custom)
        .map((r) => ({
          type: r.type,
          name: r.name,
          props: plain(r.props) as Record<string, unknown>,
          protect: r.protect,
        })),
      stage,
    ).filter((f) => mine.some((r) => r.name === f.resource.name && r.type === f.resource.type));
    expect(findings.filter((f) => f.enforcementLevel === "mandatory")).toEqual([]);
  });

  test("exports what an operator needs to reach the server", () => {
    const { outputs } = stageRun(stage);
    const bundle = readHostBundle(hostRoot);
    expect({
      instanceName: outputs.instanceName,
      zone: outputs.zone,
      instanceGroup: outputs.instanceGroup,
      dataDiskName: outputs.dataDiskName,
      artifactsBucket: outputs.artifactsBucket,
      hostBundleObject: outputs.hostBundleObject,
    }).toEqual({
      instanceName: `guincho-${stage}-vm`,
      zone: "southamerica-east1-b",
      instanceGroup: `https://mock.googleapis.com/gcp:compute/instanceGroup:InstanceGroup/guincho-${stage}-app`,
      dataDiskName: `guincho-${stage}-data`,
      artifactsBucket: `guincho-lacerda-${stage}-artifacts`,
      hostBundleObject: bundle.objectName,
    });
  });
});

describe("config mistakes in the server's keys", () => {
  const devConfig = (
    YAML.parse(fs.readFileSync(path.join(repoRoot, "Pulumi.dev.yaml"), "utf8")) as {
      config: Record<string, unknown>;
    }
  ).config;
  const withServer = (changes: Record<string, unknown>) => {
    const raw = Object.fromEntries(
      Object.entries(devConfig).map(([k, v]) => [k.slice("guincho:".length), v]),
    );
    return { ...raw, server: { ...(raw.server as object), ...changes } };
  };
  const problems = (changes: Record<string, unknown>) => {
    try {
      validateStageConfig("dev", withServer(changes));
      return [];
    } catch (e) {
      return (e as ConfigError).problems;
    }
  };

  test.each([
    [
      { machineType: "e2-huge" },
      'guincho:server.machineType: received "e2-huge"; expected a Compute Engine machine type ' +
        "such as e2-small or e2-standard-2",
    ],
    [{ dataDiskGb: 5 }, "guincho:server.dataDiskGb: received 5; expected at least 10"],
    [{ dataDiskGb: 2048 }, "guincho:server.dataDiskGb: received 2048; expected at most 1024"],
    [{ dataDiskGb: 10.5 }, "guincho:server.dataDiskGb: received 10.5; expected a whole number"],
    [{ bootDiskGb: 8 }, "guincho:server.bootDiskGb: received 8; expected at least 10"],
    [
      { snapshotAt: "03:00" },
      'guincho:server.snapshotAt: received "03:00"; expected one of "00:00", "04:00", "08:00", ' +
        '"12:00", "16:00", "20:00"',
    ],
    [
      { dataDiskType: "pd-extreme" },
      'guincho:server.dataDiskType: received "pd-extreme"; expected one of "pd-balanced", ' +
        '"pd-ssd", "pd-standard"',
    ],
    [
      { snapshotRetentionDays: 0 },
      "guincho:server.snapshotRetentionDays: received 0; expected at least 1",
    ],
  ])("%j is refused with one clear line", (changes, message) => {
    expect(problems(changes)).toEqual([message]);
  });
});

describe("the Server component", () => {
  const args: ServerArgs = {
    zone: "southamerica-east1-b",
    region: "southamerica-east1",
    machineType: "e2-small",
    bootDiskGb: 20,
    dataDisk: { sizeGb: 10, type: "pd-balanced", snapshotRetentionDays: 7, snapshotAt: "04:00" },
    subnetSelfLink: "projects/p/regions/southamerica-east1/subnetworks/s",
    networkSelfLink: "projects/p/global/networks/n",
    networkTag: "guincho-app",
    serviceAccountEmail: "guincho-app@p.iam.gserviceaccount.com",
    host: DEV_HOST,
    labels: { app: "guincho-lacerda" },
    protect: false,
  };
  const declared: Record<string, pulumi.CustomResourceOptions> = {};
  let refusal: Error | undefined;

  beforeAll(async () => {
    pulumi.runtime.setMocks(
      createMocks(() => undefined),
      "guincho",
      "dev",
      false,
    );
    await pulumi.runtime.runInPulumiStack(async () => {
      pulumi.runtime.registerStackTransformation((a) => {
        declared[`${a.type}::${a.name}`] = a.opts;
        return undefined;
      });
      new Server("ok", args);
      try {
        new Server("bad", {
          ...args,
          zone: "us-east1-b",
          networkTag: "Guincho App",
          dataDisk: { ...args.dataDisk, sizeGb: 5, snapshotAt: "05:00" },
        });
      } catch (e) {
        refusal = e as Error;
      }
      return undefined;
    });
    await pulumi.runtime.disconnect();
  });

  test("replaces the VM by deleting it first, so the new one can take the data disk", () => {
    expect(declared["gcp:compute/instance:Instance::ok-vm"].deleteBeforeReplace).toBe(true);
    // The disk keeps create-before-delete: with its fixed name a replacement fails instead
    // of deleting the database first.
    expect(declared["gcp:compute/disk:Disk::ok-data"].deleteBeforeReplace).toBeUndefined();
  });

  test("refuses input GCE would reject, naming each argument and what is allowed", () => {
    expect(refusal?.message).toBe(
      'Server "bad": dataDisk.sizeGb: received 5; expected a whole number of GB, 10 or more ' +
        '(GCE\'s minimum for a persistent disk); dataDisk.snapshotAt: received "05:00"; GCE ' +
        "daily snapshot schedules start at 00:00, 04:00, 08:00, 12:00, 16:00, 20:00 (UTC); " +
        'networkTag: received "Guincho App"; expected a GCE network tag: lower-case letters, ' +
        "digits and hyphens, starting with a letter, at most 63 characters; zone: received " +
        '"us-east1-b"; expected a zone of region southamerica-east1',
    );
  });
});

test("nginx believes forwarded headers from exactly the ranges the firewall lets in", () => {
  expect(GOOGLE_FRONT_END_RANGES).toEqual(LOAD_BALANCER_RANGES);
});
