/**
 * The stage's public DNS: a Cloud DNS zone signed with DNSSEC (or an existing zone named in
 * config), the A/AAAA records of the stage's host name, CAA records naming the only
 * certificate authorities Certificate Manager uses, the certificate's authorization
 * CNAME, and the company's other records passed through from config.
 */
import * as gcp from "./gcp";
import * as pulumi from "@pulumi/pulumi";

/** A record the zone holds besides the edge's own; `name` is relative to the zone. */
export interface ExtraRecord {
  /** "@" for the zone apex, else a name such as "www", "_dmarc" or "staging". */
  name: string;
  type: string;
  ttl: number;
  rrdatas: string[];
}

/** The authorization record Certificate Manager asks for (absolute name, with a dot). */
export interface CertificateChallenge {
  name: string;
  type: string;
  data: string;
}

export interface DnsArgs {
  /** DNS name of the zone, without the trailing dot: the domain or a delegated subdomain. */
  zoneDomain: string;
  /** The stage's host name inside the zone, without the trailing dot. */
  fqdn: string;
  /** Use this existing Cloud DNS zone (by name) instead of creating one. @default undefined */
  existingZone?: string;
  /** The load balancer's IPv4 address, published as the host's A record. */
  ipv4Address: pulumi.Input<string>;
  /** The load balancer's IPv6 address (AAAA). @default undefined: no AAAA record */
  ipv6Address?: pulumi.Input<string>;
  /** Certificate Manager's DNS authorization record. */
  certificateChallenge: pulumi.Input<CertificateChallenge>;
  /** Where CAs report requests the CAA records refused (`mailto:` or `https:`). @default none */
  caaIodef?: string;
  /** The zone's other records (mail, verification, subzone delegation). @default [] */
  extraRecords?: readonly ExtraRecord[];
  /** TTL of the host's A/AAAA records, in seconds. @default 300 */
  hostTtl?: number;
  /** Pulumi `protect` on the zone (its name servers are registered at the registrar). */
  protect?: boolean;
  /** Labels of the zone. @default {} */
  labels?: Record<string, string>;
}

/**
 * The CAA values: Certificate Manager's Google-managed certificates come from Google Trust
 * Services ("pki.goog") and, when that CA refuses, from Let's Encrypt, its documented
 * fallback. No CA may issue wildcards; `iodef` says where CAs report refused requests.
 */
export function caaRecords(iodef?: string): string[] {
  const values = ['0 issue "pki.goog"', '0 issue "letsencrypt.org"', '0 issuewild ";"'];
  return iodef ? [...values, `0 iodef "${iodef}"`] : values;
}

/** DNSSEC with ECDSA P-256 keys (small answers, no RSASHA1) and NSEC3 denial of existence. */
export const DNSSEC_CONFIG = {
  state: "on",
  nonExistence: "nsec3",
  defaultKeySpecs: [
    { keyType: "keySigning", algorithm: "ecdsap256sha256", keyLength: 256 },
    { keyType: "zoneSigning", algorithm: "ecdsap256sha256", keyLength: 256 },
  ],
};

/** The absolute name (trailing dot) of a name relative to the zone. */
export function absoluteName(relative: string, zoneDomain: string): string {
  return relative === "@" ? `${zoneDomain}.` : `${relative}.${zoneDomain}.`;
}

/** True when `fqdn` is the zone's apex or a name below it. */
export function isInZone(fqdn: string, zoneDomain: string): boolean {
  return fqdn === zoneDomain || fqdn.endsWith(`.${zoneDomain}`);
}

/** A Pulumi name for a record: `@` becomes `apex`, dots and underscores become hyphens. */
export function recordKey(relative: string, type: string): string {
  const name = relative === "@" ? "apex" : relative.replace(/[._*]+/g, "-").replace(/^-|-$/g, "");
  return `${name}-${type.toLowerCase()}`;
}

/**
 * Why an existing zone cannot hold the stage's records, or undefined when it can: its DNS
 * name must be the zone domain the config states (the domain, or `edge.zoneDomain`).
 */
export function existingZoneProblem(
  zoneName: string,
  dnsName: string,
  zoneDomain: string,
): string | undefined {
  if (dnsName === `${zoneDomain}.`) {
    return undefined;
  }
  return (
    `guincho:edge.existingZone: the zone "${zoneName}" serves "${dnsName}", not ` +
    `"${zoneDomain}." (guincho:domain, or guincho:edge.zoneDomain when set); name the zone ` +
    "of the stage's domain, or remove existingZone to create one"
  );
}

export class Dns extends pulumi.ComponentResource {
  /** The zone's Cloud DNS name (not its DNS name). */
  readonly zoneName: pulumi.Output<string>;
  /** Name servers to register at the registrar (or in the parent zone, for a subzone). */
  readonly nameServers: pulumi.Output<string[]>;
  /** DS record of the zone's key-signing key, for the registrar (or the parent zone). */
  readonly dsRecord: pulumi.Output<string>;

  constructor(name: string, args: DnsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("guincho:dns:Dns", name, {}, opts);
    if (!isInZone(args.fqdn, args.zoneDomain)) {
      throw new pulumi.ResourceError(
        `Dns ${name}: fqdn received "${args.fqdn}", which is outside the zone ` +
          `"${args.zoneDomain}"; pass a host name that ends with ".${args.zoneDomain}"`,
        this,
      );
    }
    const child = { parent: this };
    const zoneDnsName = `${args.zoneDomain}.`;
    let zoneName: pulumi.Output<string>;
    let nameServers: pulumi.Output<string[]>;
    if (args.existingZone) {
      const existing = gcp.dns.getManagedZoneOutput({ name: args.existingZone }, child);
      // NOTE: a zone of another domain fails the run here, before any record reaches Cloud
      // DNS (which would refuse them anyway, with a less helpful message).
      zoneName = existing.apply((zone) => {
        const problem = existingZoneProblem(zone.name, zone.dnsName, args.zoneDomain);
        if (problem) {
          throw new pulumi.ResourceError(`Dns ${name}: ${problem}`, this);
        }
        return zone.name;
      });
      nameServers = existing.nameServers;
    } else {
      const zone = new gcp.dns.ManagedZone(
        `${name}-zone`,
        {
          dnsName: zoneDnsName,
          description: `Public zone of ${args.zoneDomain}, managed by Pulumi`,
          visibility: "public",
          dnssecConfig: DNSSEC_CONFIG,
          forceDestroy: false,
          labels: args.labels ?? {},
        },
        { parent: this, protect: args.protect ?? false },
      );
      zoneName = zone.name;
      nameServers = zone.nameServers;
    }

    const hostName = `${args.fqdn}.`;
    const record = (key: string, inputs: Omit<gcp.dns.RecordSetArgs, "managedZone">) =>
      new gcp.dns.RecordSet(`${name}-${key}`, { managedZone: zoneName, ...inputs }, child);
    const hostKey = args.fqdn === args.zoneDomain ? "@" : args.fqdn.slice(0, -zoneDnsName.length);
    const ttl = args.hostTtl ?? 300;
    record(recordKey(hostKey, "A"), {
      name: hostName,
      type: "A",
      ttl,
      rrdatas: [args.ipv4Address],
    });
    if (args.ipv6Address !== undefined) {
      record(recordKey(hostKey, "AAAA"), {
        name: hostName,
        type: "AAAA",
        ttl,
        rrdatas: [args.ipv6Address],
      });
    }
    // NOTE: in a zone of our own the CAA records sit at the apex and cover every name below;
    // in an existing (shared) zone they cover only the stage's host name.
    const caaAt = args.existingZone ? hostName : zoneDnsName;
    record(recordKey(args.existingZone ? hostKey : "@", "CAA"), {
      name: caaAt,
      type: "CAA",
      ttl: 3600,
      rrdatas: caaRecords(args.caaIodef),
    });
    const challenge = pulumi.output(args.certificateChallenge);
    record("cert-auth-cname", {
      name: challenge.name,
      type: challenge.type,
      ttl: 300,
      rrdatas: [challenge.data],
    });
    const keysUsed = new Set<string>();
    for (const extra of args.extraRecords ?? []) {
      let key = `extra-${recordKey(extra.name, extra.type)}`;
      while (keysUsed.has(key)) {
        key = `${key}-x`;
      }
      keysUsed.add(key);
      record(key, {
        name: absoluteName(extra.name, args.zoneDomain),
        type: extra.type,
        ttl: extra.ttl,
        rrdatas: extra.rrdatas,
      });
    }

    const keys = gcp.dns.getKeysOutput({ managedZone: args.existingZone ?? zoneName }, child);
    this.zoneName = zoneName;
    this.nameServers = nameServers;
    this.dsRecord = keys.keySigningKeys.apply((k) => k[0]?.dsRecord ?? "");
    this.registerOutputs({
      zoneName: this.zoneName,
      nameServers: this.nameServers,
      dsRecord: this.dsRecord,
    });
  }
}
