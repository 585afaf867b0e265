/**
 * The Guincho Lacerda stack: reads the stage's validated config once, builds an explicit
 * Google provider for the stage's project, composes the components and exports what an
 * operator needs. Components receive plain values; none of them reads config.
 */
import * as gcp from "@pulumi/gcp";
import { loadStageConfig } from "./config";
import { Identity } from "./components/identity";
import { Network } from "./components/network";

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

// --- edge: DNS, TLS certificate, HTTPS load balancer ------------------------------------

// --- monitoring and maintenance ---------------------------------------------------------

// --- release: the app version this stage runs ------------------------------------------

export const stage = cfg.stage;
export const gcpProject = cfg.gcpProject;
export const region = cfg.region;
// identity and network
export const appServiceAccountEmail = identity.appServiceAccountEmail;
export const deployerServiceAccountEmail = identity.deployerServiceAccountEmail;
export const workloadIdentityProvider = identity.workloadIdentityProvider;
export const appSecretId = identity.appSecretId;
export const networkName = network.networkName;
export const subnetName = network.subnetName;
export const url = cfg.edge.enabled ? `https://${cfg.fqdn}/` : "none (no load balancer: see docs)";
