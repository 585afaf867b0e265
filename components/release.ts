/**
 * The app release a stage runs. The archive is uploaded to the artifacts bucket under its
 * sha256 (content-addressed: a name always means the same bytes); when it changes, the
 * host's deploy tool is run on the VM through an IAP tunnel (no public SSH) and `pulumi up`
 * waits for its outcome. A release that fails its migration or health check makes the
 * deploy tool exit non-zero, which fails `pulumi up`, while the previous release keeps
 * serving: the tool never switches nginx to an unhealthy colour.
 */
import * as command from "@pulumi/command";
import * as gcp from "./gcp";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadRelease, ReleaseArchiveError } from "./releaseArchive";

/** Where the bootstrap installs the host tools on the VM. */
export const HOST_TOOLS = "/opt/guincho/host/bin";

export interface ReleaseArgs {
  /** An app directory (packed here, reproducibly) or a built `.tar.gz` archive. */
  archive: string;
  /** Overrides the version of a directory's `release.json`; must match an archive's. */
  version?: string;
  /** Bucket that holds release archives (the artifacts bucket). */
  artifactsBucket: pulumi.Input<string>;
  /** The VM that runs the app. */
  instanceName: pulumi.Input<string>;
  /**
   * The VM's unique id. A replaced VM keeps its name but gets a new id, and starts with no
   * release (releases live on its boot disk): a new id deploys the release again.
   */
  instanceId: pulumi.Input<string>;
  zone: string;
  project: string;
  /**
   * Releases kept on the host for rollback.
   * @default 5
   */
  keepReleases?: number;
}

/**
 * The remote part (bash, the login shell of OS Login users): wait for the bootstrap to have
 * installed the tools, deploy, and copy the tool's JSON events into the journal (so Cloud
 * Logging and the release alerts see them) while `pulumi up` shows them too. The exit
 * status is the deploy tool's own.
 */
export function remoteDeployCommand(bucket: string, sha256: string, keep: number): string {
  return (
    `for i in $(seq 1 60); do test -x ${HOST_TOOLS}/deploy && break; sleep 10; done; ` +
    `sudo ${HOST_TOOLS}/deploy --archive gs://${bucket}/releases/${sha256}.tar.gz ` +
    `--sha256 ${sha256} --keep ${keep} | tee >(systemd-cat -t guincho-deploy); ` +
    "exit ${PIPESTATUS[0]}"
  );
}

/** The command `pulumi up` runs where it runs (a laptop or CI): SSH through IAP only. */
export function deployCommand(
  instance: string,
  zone: string,
  project: string,
  remote: string,
): string {
  return (
    `gcloud compute ssh ${instance} --project=${project} --zone=${zone} ` +
    `--tunnel-through-iap --quiet --command='${remote}'`
  );
}

export class Release extends pulumi.ComponentResource {
  readonly version: string;
  readonly sha256: string;
  /** `gs://` URL of the uploaded archive. */
  readonly archiveUrl: pulumi.Output<string>;

  constructor(name: string, args: ReleaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("guincho:release:Release", name, {}, opts);
    let release;
    try {
      release = loadRelease(args.archive, args.version);
    } catch (e) {
      if (e instanceof ReleaseArchiveError) {
        throw new pulumi.ResourceError(
          `guincho:release.archive: ${e.message}. Point it at an app directory with a ` +
            "release.json, or at a .tar.gz built from one.",
          this,
        );
      }
      throw e;
    }
    const keep = args.keepReleases ?? 5;
    // The asset must be a file: write the packed bytes once, named by their hash.
    const file = path.join(os.tmpdir(), `guincho-release-${release.sha256}.tar.gz`);
    if (!fs.existsSync(file)) {
      fs.writeFileSync(file, release.bytes);
    }
    const object = new gcp.storage.BucketObject(
      `${name}-archive`,
      {
        bucket: args.artifactsBucket,
        name: `releases/${release.sha256}.tar.gz`,
        source: new pulumi.asset.FileAsset(file),
        contentType: "application/gzip",
        metadata: { version: release.manifest.version, sha256: release.sha256 },
      },
      { parent: this },
    );
    new command.local.Command(
      `${name}-deploy`,
      {
        create: pulumi
          .all([args.instanceName, args.artifactsBucket])
          .apply(([instance, bucket]) =>
            deployCommand(
              instance,
              args.zone,
              args.project,
              remoteDeployCommand(bucket, release.sha256, keep),
            ),
          ),
        // A new archive (a new hash), or a new VM, is a new deploy; nothing else redeploys.
        triggers: [release.sha256, args.instanceId],
      },
      { parent: this, dependsOn: [object] },
    );
    this.version = release.manifest.version;
    this.sha256 = release.sha256;
    this.archiveUrl = pulumi.interpolate`gs://${object.bucket}/${object.name}`;
    this.registerOutputs({
      version: this.version,
      sha256: this.sha256,
      archiveUrl: this.archiveUrl,
    });
  }
}
