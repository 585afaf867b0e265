/**
 * The VM that runs the app: Debian 12, shielded, no external IP, OS Login, its own service
 * account; the SQLite database on a separate persistent disk with daily snapshots; an
 * unmanaged instance group for the load balancer; the host bootstrap as its startup script.
 *
 * The data disk is its own resource, attached by the VM. Replacing the VM (a new image, a
 * new zone) deletes the VM first and re-attaches the same disk to the new one; the disk is
 * never an input that changes with the VM, so it is never replaced with it.
 */
import * as gcp from "./gcp";
import * as pulumi from "@pulumi/pulumi";
import { DATA_DISK_DEVICE_NAME, renderStartupScript, type HostSettings } from "./hostFiles";

/** Debian 12 (bookworm): Python 3.11 from the distribution. */
export const DEFAULT_IMAGE = "debian-cloud/debian-12";

/**
 * OAuth scopes of the VM's service account. What the account may actually do is decided by
 * its IAM roles (log and metric writing, one bucket, one secret: components/identity.ts).
 *
 * NOTE: cloud-platform is here because Secret Manager accepts no narrower scope (Google's
 * "Accessing the Secret Manager API": workloads on Compute Engine need cloud-platform), and
 * the app reads its secret key from Secret Manager at start. The spreadsheets scope is the
 * one cloud-platform does not cover. The three narrow scopes are kept so the intent stays
 * visible and dropping cloud-platform, should Secret Manager ever allow it, is one line.
 */
export const APP_SCOPES: readonly string[] = [
  "https://www.googleapis.com/auth/cloud-platform",
  "https://www.googleapis.com/auth/spreadsheets",
  "https://www.googleapis.com/auth/logging.write",
  "https://www.googleapis.com/auth/monitoring.write",
  "https://www.googleapis.com/auth/devstorage.read_write",
];

/** Metadata flags every VM of this system carries (the guest agent reads "TRUE"/"FALSE"). */
export const SECURITY_METADATA: Readonly<Record<string, string>> = {
  "enable-oslogin": "TRUE",
  "block-project-ssh-keys": "TRUE",
  "serial-port-enable": "FALSE",
  // OS Config's agent only takes patch jobs (components/maintenance.ts) when this is on.
  "enable-osconfig": "TRUE",
};

/** The settings the bootstrap needs, with the secret's id still to be resolved. */
export type ServerHostSettings = Omit<HostSettings, "secretId"> & {
  secretId: pulumi.Input<string>;
};

export interface ServerArgs {
  /** Zone of the VM and its data disk. */
  zone: string;
  /** Region of the snapshots (stored where the disk is). */
  region: string;
  machineType: string;
  bootDiskGb: number;
  dataDisk: {
    sizeGb: number;
    /** pd-balanced, pd-ssd or pd-standard. */
    type: string;
    snapshotRetentionDays: number;
    /** Daily snapshot start, UTC, a whole hour GCE accepts ("04:00"). */
    snapshotAt: string;
  };
  /** The subnet of the VM's only network interface (no external address). */
  subnetSelfLink: pulumi.Input<string>;
  /** The VPC, for the instance group. */
  networkSelfLink: pulumi.Input<string>;
  /** Network tag the firewall rules target ("guincho-app"). */
  networkTag: string;
  /** The app's service account (never the default compute account). */
  serviceAccountEmail: pulumi.Input<string>;
  /** What the startup script renders from. */
  host: ServerHostSettings;
  labels: Record<string, string>;
  /** Prod: Pulumi `protect` on the VM and the disk, and the VM's deletion protection. */
  protect: boolean;
  /** @default DEFAULT_IMAGE */
  image?: string;
  /** @default APP_SCOPES */
  scopes?: readonly string[];
}

const NETWORK_TAG = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
const SNAPSHOT_HOURS = ["00:00", "04:00", "08:00", "12:00", "16:00", "20:00"];

/** The snapshot schedule of the data disk: daily, kept `retentionDays`, in the region. */
export function snapshotSchedulePolicy(
  retentionDays: number,
  startTime: string,
  region: string,
  labels: Record<string, string>,
) {
  return {
    schedule: { dailySchedule: { daysInCycle: 1, startTime } },
    retentionPolicy: {
      maxRetentionDays: retentionDays,
      // The snapshots are the last copy when the disk is gone: keep them.
      onSourceDiskDelete: "KEEP_AUTO_SNAPSHOTS",
    },
    snapshotProperties: {
      storageLocations: region,
      guestFlush: false,
      labels: { ...labels, purpose: "data-disk-snapshot" },
    },
  };
}

/** The VM, its data disk, their snapshot schedule and the instance group. */
export class Server extends pulumi.ComponentResource {
  readonly instanceName: pulumi.Output<string>;
  readonly instanceSelfLink: pulumi.Output<string>;
  /**
   * GCE's numeric id of the VM: unlike its name, it changes when the VM is replaced, so a
   * deploy can trigger on it (a new VM has no release until one is deployed).
   */
  readonly instanceId: pulumi.Output<string>;
  readonly instanceGroupSelfLink: pulumi.Output<string>;
  readonly zone: string;
  readonly dataDiskName: pulumi.Output<string>;
  readonly serviceAccountEmail: pulumi.Output<string>;

  constructor(name: string, args: ServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("guincho:server:Server", name, {}, opts);
    this.check(name, args);
    const { dataDisk } = args;

    const disk = new gcp.compute.Disk(
      `${name}-data`,
      {
        name: `${name}-data`,
        zone: args.zone,
        size: dataDisk.sizeGb,
        type: dataDisk.type,
        physicalBlockSizeBytes: 4096,
        labels: { ...args.labels, purpose: "database" },
      },
      // NOTE: no deleteBeforeReplace here on purpose: with a fixed name, a change that would
      // replace the disk (a smaller size, another type) fails on "already exists" instead of
      // deleting the database. Grow the disk instead; see docs/server.md.
      { parent: this, protect: args.protect },
    );

    const policy = new gcp.compute.ResourcePolicy(
      `${name}-data-snapshots`,
      {
        name: `${name}-data-snapshots`,
        region: args.region,
        description: `Daily snapshots of ${name}-data, kept ${dataDisk.snapshotRetentionDays} days`,
        snapshotSchedulePolicy: snapshotSchedulePolicy(
          dataDisk.snapshotRetentionDays,
          dataDisk.snapshotAt,
          args.region,
          args.labels,
        ),
      },
      { parent: this },
    );

    new gcp.compute.DiskResourcePolicyAttachment(
      `${name}-data-snapshots`,
      { name: policy.name, disk: disk.name, zone: args.zone },
      { parent: this },
    );

    const startupScript = pulumi
      .output(args.host.secretId)
      .apply((secretId) => renderStartupScript({ ...args.host, secretId }));

    const vm = new gcp.compute.Instance(
      `${name}-vm`,
      {
        name: `${name}-vm`,
        zone: args.zone,
        machineType: args.machineType,
        bootDisk: {
          autoDelete: true,
          initializeParams: {
            image: args.image ?? DEFAULT_IMAGE,
            size: args.bootDiskGb,
            type: "pd-balanced",
            labels: { ...args.labels, purpose: "boot" },
          },
        },
        attachedDisks: [{ source: disk.id, deviceName: DATA_DISK_DEVICE_NAME, mode: "READ_WRITE" }],
        // No accessConfigs: no external address. Egress through Cloud NAT, SSH through IAP.
        networkInterfaces: [{ subnetwork: args.subnetSelfLink }],
        canIpForward: false,
        serviceAccount: {
          email: args.serviceAccountEmail,
          scopes: [...(args.scopes ?? APP_SCOPES)],
        },
        shieldedInstanceConfig: {
          enableSecureBoot: true,
          enableVtpm: true,
          enableIntegrityMonitoring: true,
        },
        // NOTE: the script goes in metadata, not metadataStartupScript: a change there would
        // replace the VM; in metadata it is updated in place and runs at the next boot.
        metadata: { ...SECURITY_METADATA, "startup-script": startupScript },
        scheduling: { automaticRestart: true, onHostMaintenance: "MIGRATE", preemptible: false },
        tags: [args.networkTag],
        labels: args.labels,
        deletionProtection: args.protect,
        allowStoppingForUpdate: true,
      },
      {
        parent: this,
        protect: args.protect,
        // The data disk is attached READ_WRITE, which GCE allows to one VM at a time: a new VM
        // can only take it once the old one is gone (and its fixed name is free too).
        deleteBeforeReplace: true,
      },
    );

    const group = new gcp.compute.InstanceGroup(
      `${name}-app`,
      {
        name: `${name}-app`,
        zone: args.zone,
        description: "The app VM, as the load balancer's backend",
        network: args.networkSelfLink,
        instances: [vm.selfLink],
        namedPorts: [{ name: "http", port: 80 }],
      },
      { parent: this },
    );

    this.instanceName = vm.name;
    this.instanceSelfLink = vm.selfLink;
    this.instanceId = vm.instanceId;
    this.instanceGroupSelfLink = group.selfLink;
    this.zone = args.zone;
    this.dataDiskName = disk.name;
    this.serviceAccountEmail = pulumi.output(args.serviceAccountEmail);
    this.registerOutputs({
      instanceName: this.instanceName,
      instanceSelfLink: this.instanceSelfLink,
      instanceId: this.instanceId,
      instanceGroupSelfLink: this.instanceGroupSelfLink,
      zone: this.zone,
      dataDiskName: this.dataDiskName,
      serviceAccountEmail: this.serviceAccountEmail,
    });
  }

  /** Input that passes config but would still fail at Google, or lose data. */
  private check(name: string, args: ServerArgs): void {
    const problems: string[] = [];
    if (!Number.isInteger(args.dataDisk.sizeGb) || args.dataDisk.sizeGb < 10) {
      problems.push(
        `dataDisk.sizeGb: received ${args.dataDisk.sizeGb}; expected a whole number of GB, ` +
          "10 or more (GCE's minimum for a persistent disk)",
      );
    }
    if (!SNAPSHOT_HOURS.includes(args.dataDisk.snapshotAt)) {
      problems.push(
        `dataDisk.snapshotAt: received "${args.dataDisk.snapshotAt}"; GCE daily snapshot ` +
          `schedules start at ${SNAPSHOT_HOURS.join(", ")} (UTC)`,
      );
    }
    if (
      !Number.isInteger(args.dataDisk.snapshotRetentionDays) ||
      args.dataDisk.snapshotRetentionDays < 1
    ) {
      problems.push(
        `dataDisk.snapshotRetentionDays: received ${args.dataDisk.snapshotRetentionDays}; ` +
          "expected a whole number of days, 1 or more",
      );
    }
    if (!NETWORK_TAG.test(args.networkTag)) {
      problems.push(
        `networkTag: received "${args.networkTag}"; expected a GCE network tag: lower-case ` +
          "letters, digits and hyphens, starting with a letter, at most 63 characters",
      );
    }
    if (!args.zone.startsWith(`${args.region}-`)) {
      problems.push(`zone: received "${args.zone}"; expected a zone of region ${args.region}`);
    }
    if (problems.length > 0) {
      throw new pulumi.ResourceError(`Server "${name}": ${problems.join("; ")}`, this);
    }
    if (args.dataDisk.type === "pd-standard" && args.protect) {
      pulumi.log.warn(
        "dataDisk.type is pd-standard in a protected stage: SQLite's fsyncs are slow on it; " +
          "pd-balanced costs little more",
        this,
      );
    }
  }
}
