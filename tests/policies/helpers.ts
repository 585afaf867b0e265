/** Builders for policy tests: compliant resources, and one call that returns a rule's messages. */
import { evaluatePolicies, type Finding, type PolicyStage } from "../../policies/evaluate";

export const INSTANCE = "gcp:compute/instance:Instance";
export const TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate";
export const REGION_TEMPLATE = "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate";
export const FIREWALL = "gcp:compute/firewall:Firewall";
export const NETWORK = "gcp:compute/network:Network";
export const SUBNET = "gcp:compute/subnetwork:Subnetwork";
export const SSL_POLICY = "gcp:compute/sSLPolicy:SSLPolicy";
export const BUCKET = "gcp:storage/bucket:Bucket";
export const ZONE = "gcp:dns/managedZone:ManagedZone";
export const ALERT = "gcp:monitoring/alertPolicy:AlertPolicy";

export const LABELS = { app: "guincho", stage: "prod", "managed-by": "pulumi" };

/** A VM that every rule of the pack accepts in prod (with protect). */
export function compliantVm(): Record<string, unknown> {
  return {
    machineType: "e2-medium",
    labels: { ...LABELS },
    metadata: { "enable-oslogin": "TRUE", "block-project-ssh-keys": "TRUE" },
    serviceAccount: {
      email: "app@guincho-lacerda-prod.iam.gserviceaccount.com",
      scopes: ["cloud-platform", "https://www.googleapis.com/auth/spreadsheets"],
    },
    shieldedInstanceConfig: {
      enableSecureBoot: true,
      enableVtpm: true,
      enableIntegrityMonitoring: true,
    },
    networkInterfaces: [{ subnetwork: "app-subnet" }],
    canIpForward: false,
    deletionProtection: true,
  };
}

/** A backup bucket that every rule accepts in prod (with protect). */
export function compliantBackupBucket(): Record<string, unknown> {
  return {
    location: "SOUTHAMERICA-EAST1",
    labels: { ...LABELS, purpose: "backups" },
    uniformBucketLevelAccess: true,
    publicAccessPrevention: "enforced",
    retentionPolicy: { retentionPeriod: "2592000", isLocked: true },
    forceDestroy: false,
  };
}

export interface CheckOptions {
  stage?: PolicyStage;
  protect?: boolean;
  name?: string;
}

/** Every finding of the pack for one resource. */
export function findingsFor(
  type: string,
  props: Record<string, unknown>,
  options: CheckOptions = {},
): Finding[] {
  const resource = { type, name: options.name ?? "app", props, protect: options.protect ?? true };
  return evaluatePolicies([resource], options.stage ?? "prod");
}

/** The messages one policy reports for one resource. */
export function messages(
  policy: string,
  type: string,
  props: Record<string, unknown>,
  options: CheckOptions = {},
): string[] {
  return findingsFor(type, props, options)
    .filter((f) => f.policy === policy)
    .map((f) => f.message);
}
