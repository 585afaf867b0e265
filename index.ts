/**
 * The Guincho Lacerda stack: reads the stage's validated config once, builds an explicit
 * Google provider for the stage's project, composes the components and exports what an
 * operator needs. Components receive plain values; none of them reads config.
 */
import * as gcp from "@pulumi/gcp";
import { loadStageConfig } from "./config";

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
void opts;

// --- identity: APIs, service accounts, IAM, secrets, quotas, CI identity -----------------

// --- backups: the SQLite backup bucket ------------------------------------------------

// --- network: VPC, subnet, NAT, firewall ------------------------------------------------

// --- server: the VM, its data disk, host bootstrap, artifacts bucket --------------------

// --- edge: DNS, TLS certificate, HTTPS load balancer ------------------------------------

// --- monitoring and maintenance ---------------------------------------------------------

// --- release: the app version this stage runs ------------------------------------------

export const stage = cfg.stage;
export const gcpProject = cfg.gcpProject;
export const region = cfg.region;
export const url = cfg.edge.enabled ? `https://${cfg.fqdn}/` : "none (no load balancer: see docs)";
