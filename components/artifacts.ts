/**
 * The artifacts bucket (release archives and the host tools bundle) and the bundle itself:
 * the repo's host/ directory packed as a zip whose object name carries its content digest,
 * so a changed tool is a new object and the VM can verify what it downloaded.
 */
import * as path from "path";
import * as gcp from "./gcp";
import * as pulumi from "@pulumi/pulumi";
import type { HostBundle } from "./hostFiles";

export interface ArtifactsArgs {
  /** Globally unique bucket name (`cfg.artifactsBucketName`). */
  bucketName: string;
  /** Region of the bucket: the VM's, so downloads stay in the region. */
  location: string;
  labels: Record<string, string>;
  /** The account that may read objects (the VM's): `roles/storage.objectViewer`. */
  readerEmail: pulumi.Input<string>;
  /** host/ as read by `readHostBundle`. */
  bundle: HostBundle;
  /** Pulumi `protect` on the bucket (prod). */
  protect: boolean;
  /**
   * Days a replaced or deleted object version is kept before it is removed for good.
   * @default 30
   */
  noncurrentDays?: number;
  /**
   * Older versions kept per object name, whatever their age.
   * @default 5
   */
  noncurrentVersions?: number;
}

/** The lifecycle rules: old versions go after `days`, or when more than `versions` pile up. */
export function artifactLifecycleRules(days: number, versions: number) {
  return [
    {
      action: { type: "Delete" },
      condition: { daysSinceNoncurrentTime: days, withState: "ARCHIVED" },
    },
    {
      action: { type: "Delete" },
      condition: { numNewerVersions: versions, withState: "ARCHIVED" },
    },
  ];
}

/** The artifacts bucket, its reader, and the host tools bundle object. */
export class Artifacts extends pulumi.ComponentResource {
  readonly bucketName: pulumi.Output<string>;
  /** `gs://<bucket>` */
  readonly bucketUrl: pulumi.Output<string>;
  /** Object name of the host tools bundle (content-addressed). */
  readonly hostBundleObject: pulumi.Output<string>;
  /** sha256 of the bundle's manifest (see `bundleDigest`). */
  readonly hostBundleDigest: string;
  /** Resources the VM's first boot needs: the bundle object and the read grant. */
  readonly bootDependencies: pulumi.Resource[];

  constructor(name: string, args: ArtifactsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("guincho:server:Artifacts", name, {}, opts);
    const days = args.noncurrentDays ?? 30;
    const versions = args.noncurrentVersions ?? 5;
    if (!Number.isInteger(days) || days < 1) {
      throw new pulumi.ResourceError(
        `noncurrentDays: received ${days}; expected a whole number of days, 1 or more`,
        this,
      );
    }
    if (args.bundle.files.length === 0) {
      throw new pulumi.ResourceError(
        `bundle: ${args.bundle.root} holds no files; the VM would have no host tools. ` +
          "Point readHostBundle at the repo's host/ directory.",
        this,
      );
    }

    const bucket = new gcp.storage.Bucket(
      `${name}-bucket`,
      {
        name: args.bucketName,
        location: args.location,
        storageClass: "STANDARD",
        uniformBucketLevelAccess: true,
        publicAccessPrevention: "enforced",
        versioning: { enabled: true },
        forceDestroy: false,
        lifecycleRules: artifactLifecycleRules(days, versions),
        labels: { ...args.labels, purpose: "artifacts" },
      },
      { parent: this, protect: args.protect },
    );

    const reader = new gcp.storage.BucketIAMMember(
      `${name}-reader`,
      {
        bucket: bucket.name,
        role: "roles/storage.objectViewer",
        member: pulumi.interpolate`serviceAccount:${args.readerEmail}`,
      },
      { parent: this },
    );

    // NOTE: an archive of the listed files rather than FileArchive(host/), so caches on the
    // operator's disk (__pycache__) never ship and the digest covers exactly what is packed.
    const assets: Record<string, pulumi.asset.Asset> = {};
    for (const file of args.bundle.files) {
      assets[file.path] = new pulumi.asset.FileAsset(path.join(args.bundle.root, file.path));
    }
    const bundle = new gcp.storage.BucketObject(
      `${name}-host-bundle`,
      {
        bucket: bucket.name,
        name: args.bundle.objectName,
        source: new pulumi.asset.AssetArchive(assets),
        contentType: "application/zip",
        metadata: { "guincho-digest": args.bundle.digest },
      },
      { parent: this },
    );

    this.bucketName = bucket.name;
    this.bucketUrl = pulumi.interpolate`gs://${bucket.name}`;
    this.hostBundleObject = bundle.name;
    this.hostBundleDigest = args.bundle.digest;
    this.bootDependencies = [bundle, reader];
    this.registerOutputs({
      bucketName: this.bucketName,
      bucketUrl: this.bucketUrl,
      hostBundleObject: this.hostBundleObject,
      hostBundleDigest: this.hostBundleDigest,
    });
  }
}
