/**
 * Cloud DNS: DNSSEC on public zones (private zones are answered only inside the VPC and
 * need none), and no RSASHA1 signing keys.
 */
import * as dns from "@pulumi/gcp/dns";
import { validateResourceOfType, type ResourceValidationPolicy } from "@pulumi/policy";
import { arrayOf, describe, objectOf, quote } from "./util";

function isPrivate(visibility: unknown): boolean {
  return typeof visibility === "string" && visibility.toLowerCase() === "private";
}

export const dnssecOn: ResourceValidationPolicy = {
  name: "dns-dnssec",
  description: "Public DNS zones must sign their records with DNSSEC (off by default).",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(dns.ManagedZone, (zone, args, report) => {
    const state = objectOf(zone.dnssecConfig).state;
    // "transfer" signs the zone too, while it moves from another DNS operator.
    if (!isPrivate(zone.visibility) && state !== "on" && state !== "transfer") {
      report(
        `${describe(args)} is public and unsigned: dnssecConfig.state is ${quote(state)}. Set ` +
          'dnssecConfig { state: "on" }, then add the DS record at the domain registrar.',
      );
    }
  }),
};

export const dnsNoRsaSha1: ResourceValidationPolicy = {
  name: "dns-no-rsasha1",
  description: "DNSSEC key-signing and zone-signing keys must not use RSASHA1.",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(dns.ManagedZone, (zone, args, report) => {
    for (const spec of arrayOf(objectOf(zone.dnssecConfig).defaultKeySpecs)) {
      const { algorithm, keyType } = objectOf(spec);
      if (typeof algorithm === "string" && algorithm.toLowerCase() === "rsasha1") {
        report(
          `${describe(args)} signs with RSASHA1 (${quote(keyType)} key). Use "rsasha256" or ` +
            '"ecdsap256sha256" in dnssecConfig.defaultKeySpecs.',
        );
      }
    }
  }),
};

/** The DNS rules, in the order the docs list them. */
export const dnsPolicies: ResourceValidationPolicy[] = [dnssecOn, dnsNoRsaSha1];
