/**
 * The CrossGuard entry point: `pulumi preview --policy-pack policies` runs this file, which
 * starts the analyzer server. Nothing else imports it; the rules live in ./rules.
 */
import { PolicyPack } from "@pulumi/policy";
import { PACK_ENFORCEMENT_LEVEL, PACK_NAME, policies } from "./rules";

new PolicyPack(PACK_NAME, {
  description:
    "Guincho Lacerda's security and operations rules for Google Cloud (CIS GCP Foundations, " +
    "Checkov, Trivy and KICS checks, plus the system's own).",
  enforcementLevel: PACK_ENFORCEMENT_LEVEL,
  provider: "gcp",
  policies,
});
