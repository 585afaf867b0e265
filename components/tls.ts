/**
 * TLS for the stage's host name: a Google-managed certificate issued through Certificate
 * Manager with DNS authorization (so it is issued before the DNS cut-over and renews
 * itself), the certificate map the HTTPS proxy serves it from, and the SSL policy.
 */
import * as gcp from "./gcp";
import * as pulumi from "@pulumi/pulumi";

/** The SSL profiles this project accepts; both exclude the weak suites of COMPATIBLE. */
export type SslProfile = "MODERN" | "RESTRICTED";

/** The record Certificate Manager checks to authorize issuance (a CNAME in the zone). */
export interface ChallengeRecord {
  name: string;
  type: string;
  data: string;
}

export interface TlsArgs {
  /** The host name the certificate covers, e.g. `app.guincholacerda.com.br` (no dot). */
  fqdn: string;
  /** Cipher profile of the SSL policy. @default "RESTRICTED" */
  sslProfile?: SslProfile;
  /** Labels of the Certificate Manager resources. @default {} */
  labels?: Record<string, string>;
}

/** The SSL policy the HTTPS proxy uses: TLS 1.2 at least, never the COMPATIBLE profile. */
export function sslPolicyInputs(profile: SslProfile): gcp.compute.SSLPolicyArgs {
  return { minTlsVersion: "TLS_1_2", profile, description: "TLS 1.2 or later, no weak suites" };
}

/**
 * The value a target HTTPS proxy's `certificateMap` takes: the map's resource id prefixed
 * with the Certificate Manager service name.
 */
export function certificateMapReference(mapId: string): string {
  return `//certificatemanager.googleapis.com/${mapId}`;
}

export class Tls extends pulumi.ComponentResource {
  /** `certificateMap` for the target HTTPS proxy. */
  readonly certificateMap: pulumi.Output<string>;
  /** Self link of the SSL policy, for the target HTTPS proxy. */
  readonly sslPolicy: pulumi.Output<string>;
  /** Name of the certificate, for `gcloud certificate-manager certificates describe`. */
  readonly certificateName: pulumi.Output<string>;
  /** The CNAME record that authorizes issuance; the DNS component publishes it. */
  readonly challengeRecord: pulumi.Output<ChallengeRecord>;

  constructor(name: string, args: TlsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("guincho:tls:Tls", name, {}, opts);
    if (!/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(args.fqdn)) {
      throw new pulumi.ResourceError(
        `Tls ${name}: fqdn received "${args.fqdn}"; expected a lower-case host name such as ` +
          '"app.guincholacerda.com.br", without a trailing dot',
        this,
      );
    }
    const labels = args.labels ?? {};
    const authorization = new gcp.certificatemanager.DnsAuthorization(
      `${name}-dns-auth`,
      {
        domain: args.fqdn,
        description: `Authorizes Google-managed certificates for ${args.fqdn}`,
        labels,
      },
      { parent: this },
    );
    const certificate = new gcp.certificatemanager.Certificate(
      `${name}-cert`,
      {
        description: `Google-managed certificate of ${args.fqdn}`,
        scope: "DEFAULT",
        managed: { domains: [args.fqdn], dnsAuthorizations: [authorization.id] },
        labels,
      },
      { parent: this },
    );
    const map = new gcp.certificatemanager.CertificateMap(
      `${name}-cert-map`,
      { description: `Certificates served by the HTTPS proxy of ${args.fqdn}`, labels },
      { parent: this },
    );
    // NOTE: a host name entry and no PRIMARY entry: a client that asks for any other name
    // (or none, without SNI) gets no certificate at all rather than a wrong one.
    new gcp.certificatemanager.CertificateMapEntry(
      `${name}-cert-map-entry`,
      {
        map: map.name,
        hostname: args.fqdn,
        certificates: [certificate.id],
        description: `${args.fqdn} -> its Google-managed certificate`,
        labels,
      },
      { parent: this },
    );
    const sslPolicy = new gcp.compute.SSLPolicy(
      `${name}-ssl-policy`,
      sslPolicyInputs(args.sslProfile ?? "RESTRICTED"),
      { parent: this },
    );

    this.certificateMap = map.id.apply(certificateMapReference);
    this.sslPolicy = sslPolicy.selfLink;
    this.certificateName = certificate.name;
    this.challengeRecord = authorization.dnsResourceRecords.apply((records) => {
      const record = records[0];
      return { name: record.name, type: record.type, data: record.data };
    });
    this.registerOutputs({
      certificateMap: this.certificateMap,
      sslPolicy: this.sslPolicy,
      certificateName: this.certificateName,
      challengeRecord: this.challengeRecord,
    });
  }
}
