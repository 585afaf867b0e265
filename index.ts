/**
 * The Guincho Lacerda stack: reads the stage's validated config once, builds an explicit
 * Google provider for the stage's project, composes the components and exports what an
 * operator needs. Components receive plain values; none of them reads config.
 */
import * as path from "path";
import * as gcp from "./components/gcp";
import type * as pulumi from "@pulumi/pulumi";
import { loadStageConfig } from "./config";
import { BackupBucket } from "./components/backupBucket";
import { Identity } from "./components/identity";
import { Network } from "./components/network";
import { Artifacts } from "./components/artifacts";
import { readHostBundle, REPORT_TIMES } from "./components/hostFiles";
import { Release } from "./components/release";
import { Server } from "./components/server";
import { Dns } from "./components/dns";
import { LoadBalancer } from "./components/loadBalancer";
import { Tls } from "./components/tls";
import { Maintenance } from "./components/maintenance";
import { Monitoring } from "./components/monitoring";

const cfg = loadStageConfig();

// NOTE: an explicit provider, so a stack can never deploy into whatever project the
// operator's gcloud happens to point at; default labels reach every labelable resource.
const provider = new gcp.Provider(`${cfg.namePrefix}-gcp`, {
  project: cfg.gcpProject,
  region: cfg.region,
  zone: cfg.zone,
  defaultLabels: cfg.commonLabels,
});
/** Every component takes these options: children inherit the stage's provider. */
const opts = { providers: { gcp: provider } };

// --- identity: APIs, service accounts, IAM, secrets, quotas, CI identity -----------------
const identity = new Identity(
  cfg.namePrefix,
  {
    project: cfg.gcpProject,
    region: cfg.region,
    admins: cfg.admins,
    github: cfg.github,
    sheets: cfg.sheets,
    labels: cfg.commonLabels,
    protect: cfg.protect,
  },
  opts,
);

// --- backups: the SQLite backup bucket ------------------------------------------------
const backups = new BackupBucket(
  cfg.namePrefix,
  {
    bucketName: cfg.backupBucketName,
    location: cfg.region,
    retentionDays: cfg.backup.retentionDays,
    lockRetention: cfg.lockRetention,
    writerServiceAccountEmail: identity.appServiceAccountEmail,
    sanitizedWriterEmail: cfg.backup.sanitizedWriter,
    labels: cfg.commonLabels,
    protect: cfg.protect,
  },
  { ...opts, dependsOn: identity.services },
);

// --- network: VPC, subnet, NAT, firewall ------------------------------------------------
const network = new Network(
  cfg.namePrefix,
  {
    project: cfg.gcpProject,
    region: cfg.region,
    subnetCidr: cfg.network.subnetCidr,
    flowLogSampling: cfg.network.flowLogSampling,
    allowLoadBalancer: cfg.edge.enabled,
    appServiceAccountEmail: identity.appServiceAccountEmail,
  },
  { ...opts, dependsOn: identity.services },
);

// --- server: the VM, its data disk, host bootstrap, artifacts bucket --------------------
const hostBundle = readHostBundle(path.join(__dirname, "host"));
const artifacts = new Artifacts(
  cfg.namePrefix,
  {
    bucketName: cfg.artifactsBucketName,
    location: cfg.region,
    labels: cfg.commonLabels,
    readerEmail: identity.appServiceAccountEmail,
    bundle: hostBundle,
    protect: cfg.protect,
  },
  { ...opts, dependsOn: identity.services },
);
const server = new Server(
  cfg.namePrefix,
  {
    zone: cfg.zone,
    region: cfg.region,
    machineType: cfg.server.machineType,
    bootDiskGb: cfg.server.bootDiskGb,
    dataDisk: {
      sizeGb: cfg.server.dataDiskGb,
      type: cfg.server.dataDiskType,
      snapshotRetentionDays: cfg.server.snapshotRetentionDays,
      snapshotAt: cfg.server.snapshotAt,
    },
    subnetSelfLink: network.subnetSelfLink,
    networkSelfLink: network.networkSelfLink,
    networkTag: network.appTag,
    serviceAccountEmail: identity.appServiceAccountEmail,
    host: {
      stage: cfg.stage,
      gcpProject: cfg.gcpProject,
      timeZone: cfg.timeZone,
      backupBucketName: cfg.backupBucketName,
      artifactsBucketName: cfg.artifactsBucketName,
      secretId: identity.appSecretId,
      bundle: { objectName: hostBundle.objectName, digest: hostBundle.digest },
      routines: {
        backupDailyAt: cfg.backup.dailyAt,
        backupWeeklyAt: cfg.backup.weeklyAt,
        drillAt: cfg.backup.drillAt,
        ...REPORT_TIMES,
      },
      backupLocalCopies: cfg.backup.localCopies,
      keepReleases: cfg.release.keepReleases,
      bootDiskGb: cfg.server.bootDiskGb,
      accessLogFormat: hostBundle.accessLogFormat,
      sanitizedUrl: cfg.backup.publishSanitizedTo,
    },
    labels: cfg.commonLabels,
    protect: cfg.protect,
  },
  { ...opts, dependsOn: [...identity.services, ...artifacts.bootDependencies] },
);

// --- edge: DNS, TLS certificate, HTTPS load balancer ------------------------------------
// NOTE: with edge.enabled false (dev) nothing public is declared at all: no address, no
// forwarding rule, no DNS record. The app is reached through an IAP tunnel (docs/edge.md).
const edge = cfg.edge.enabled ? declareEdge(server.instanceGroupSelfLink) : undefined;

function declareEdge(instanceGroup: pulumi.Input<string>) {
  const after = { ...opts, dependsOn: identity.services };
  const tls = new Tls(
    cfg.namePrefix,
    { fqdn: cfg.fqdn, sslProfile: cfg.edge.sslProfile, labels: cfg.commonLabels },
    after,
  );
  const lb = new LoadBalancer(
    cfg.namePrefix,
    {
      instanceGroup,
      certificateMap: tls.certificateMap,
      sslPolicy: tls.sslPolicy,
      ipv6: cfg.edge.ipv6,
      logSampleRate: cfg.edge.logSampleRate,
      rateLimitPerMinute: cfg.edge.rateLimitPerMinute,
      wafRules: cfg.edge.wafRules,
      denyList: cfg.edge.denyList,
      protect: cfg.protect,
      labels: cfg.commonLabels,
    },
    after,
  );
  const dns = new Dns(
    cfg.namePrefix,
    {
      zoneDomain: cfg.edge.zoneDomain ?? cfg.domain,
      fqdn: cfg.fqdn,
      existingZone: cfg.edge.existingZone,
      ipv4Address: lb.ipv4Address,
      ipv6Address: lb.ipv6Address,
      certificateChallenge: tls.challengeRecord,
      // NOTE: no CAA iodef: it would publish a person's address in public DNS for reports
      // that few CAs send.
      extraRecords: cfg.edge.extraRecords,
      protect: cfg.protect,
      labels: cfg.commonLabels,
    },
    after,
  );
  return { tls, lb, dns };
}

// --- monitoring and maintenance ---------------------------------------------------------
// NOTE: one project per stage, so the alerts watch every VM of the project; patching
// selects the app VM by its labels (app, stage), which the server gives it.
const monitoring = new Monitoring(
  cfg.namePrefix,
  {
    project: cfg.gcpProject,
    stage: cfg.stage,
    fqdn: cfg.fqdn,
    edgeEnabled: cfg.edge.enabled,
    contacts: cfg.contacts,
    chatWebhookUrl: cfg.monitoring.chatWebhookUrl,
    thresholds: cfg.monitoring,
    backupBucketName: cfg.backupBucketName,
    labels: cfg.commonLabels,
    docsBaseUrl: `https://github.com/${cfg.github.repository}/blob/main`,
    dependsOn: identity.services,
  },
  opts,
);
const maintenance = new Maintenance(
  cfg.namePrefix,
  {
    project: cfg.gcpProject,
    window: cfg.maintenanceWindow,
    timeZone: cfg.timeZone,
    targetLabels: { app: cfg.commonLabels.app, stage: cfg.commonLabels.stage },
    zones: [cfg.zone],
    dependsOn: identity.services,
  },
  opts,
);

// --- release: the app version this stage runs ------------------------------------------
const release = new Release(
  cfg.namePrefix,
  {
    archive: path.resolve(__dirname, cfg.release.archive),
    version: cfg.release.version,
    artifactsBucket: artifacts.bucketName,
    instanceName: server.instanceName,
    instanceId: server.instanceId,
    zone: cfg.zone,
    project: cfg.gcpProject,
    keepReleases: cfg.release.keepReleases,
  },
  { ...opts, dependsOn: [server] },
);

export const stage = cfg.stage;
export const gcpProject = cfg.gcpProject;
export const region = cfg.region;
// identity and network
export const appServiceAccountEmail = identity.appServiceAccountEmail;
export const deployerServiceAccountEmail = identity.deployerServiceAccountEmail;
export const workloadIdentityProvider = identity.workloadIdentityProvider;
export const previewerServiceAccountEmail = identity.previewerServiceAccountEmail;
export const previewWorkloadIdentityProvider = identity.previewWorkloadIdentityProvider;
export const appSecretId = identity.appSecretId;
export const networkName = network.networkName;
export const subnetName = network.subnetName;
export const backupBucket = backups.bucketName;
// server
export const instanceName = server.instanceName;
export const zone = server.zone;
export const instanceGroup = server.instanceGroupSelfLink;
export const dataDiskName = server.dataDiskName;
export const artifactsBucket = artifacts.bucketName;
export const hostBundleObject = artifacts.hostBundleObject;
export const backupUrl = backups.backupUrl;
export const url = cfg.edge.enabled ? `https://${cfg.fqdn}/` : "none (no load balancer: see docs)";
// edge: undefined (absent) in a stage without the load balancer
export const fqdn = edge ? cfg.fqdn : undefined;
export const ipv4Address = edge?.lb.ipv4Address;
export const ipv6Address = edge?.lb.ipv6Address;
export const nameServers = edge?.dns.nameServers;
export const dsRecord = edge?.dns.dsRecord;
export const certificateName = edge?.tls.certificateName;
// monitoring and maintenance
export const dashboardUrl = monitoring.dashboardUrl;
export const uptimeCheckId = monitoring.uptimeCheckId ?? "none (no load balancer in this stage)";
export const alertPolicyNames = monitoring.alertPolicyNames;
export const notificationChannels = monitoring.notificationChannels;
export const patchSchedule = maintenance.schedule;
// release
export const releaseVersion = release.version;
export const releaseSha256 = release.sha256;
export const releaseArchive = release.archiveUrl;
