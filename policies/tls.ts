/**
 * TLS at the load balancer: SSL policies at TLS 1.2 or later with a profile free of weak
 * ciphers, and no HTTPS or SSL proxy left on Google's default policy (TLS 1.0, COMPATIBLE).
 */
import * as compute from "@pulumi/gcp/compute";
import {
  validateResourceOfType,
  type ReportViolation,
  type ResourceValidationArgs,
  type ResourceValidationPolicy,
  type PolicyConfigSchema,
} from "@pulumi/policy";
import { configOf, arrayOf, describe, quote } from "./util";

const TLS_VERSIONS = ["TLS_1_0", "TLS_1_1", "TLS_1_2", "TLS_1_3"];

/** Cipher suites without forward secrecy or with 3DES, as CIS GCP 3.9 lists them. */
export const WEAK_CUSTOM_FEATURES = [
  "TLS_RSA_WITH_AES_128_GCM_SHA256",
  "TLS_RSA_WITH_AES_256_GCM_SHA384",
  "TLS_RSA_WITH_AES_128_CBC_SHA",
  "TLS_RSA_WITH_AES_256_CBC_SHA",
  "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
];

interface SslPolicyProps {
  minTlsVersion?: unknown;
  profile?: unknown;
  customFeatures?: unknown;
}

type SslCheck = (props: SslPolicyProps, args: ResourceValidationArgs, r: ReportViolation) => void;

function onSslPolicies(check: SslCheck) {
  return [
    validateResourceOfType(compute.SSLPolicy, (p, a, r) => check(p as SslPolicyProps, a, r)),
    validateResourceOfType(compute.RegionSslPolicy, (p, a, r) => check(p as SslPolicyProps, a, r)),
  ];
}

interface MinTlsConfig {
  minimumTlsVersion: string;
}

const MIN_TLS_SCHEMA: PolicyConfigSchema = {
  properties: {
    minimumTlsVersion: { type: "string", enum: ["TLS_1_2", "TLS_1_3"], default: "TLS_1_2" },
  },
};

export const sslPolicyMinTls: ResourceValidationPolicy = {
  name: "tls-min-version",
  description: "SSL policies must require TLS 1.2 or later (the default minimum is TLS 1.0).",
  enforcementLevel: "mandatory",
  configSchema: MIN_TLS_SCHEMA,
  validateResource: onSslPolicies((props, args, report) => {
    const { minimumTlsVersion } = configOf<MinTlsConfig>(MIN_TLS_SCHEMA, args);
    const version = typeof props.minTlsVersion === "string" ? props.minTlsVersion : "TLS_1_0";
    if (TLS_VERSIONS.indexOf(version) < TLS_VERSIONS.indexOf(minimumTlsVersion)) {
      const shown =
        props.minTlsVersion === undefined ? 'not set (default "TLS_1_0")' : quote(version);
      report(
        `${describe(args)} accepts TLS older than ${minimumTlsVersion}: minTlsVersion is ` +
          `${shown}. Set minTlsVersion to "${minimumTlsVersion}".`,
      );
    }
  }),
};

export const sslPolicyStrongProfile: ResourceValidationPolicy = {
  name: "tls-strong-profile",
  description:
    "SSL policies must use the MODERN or RESTRICTED profile, or CUSTOM without weak ciphers (the default is COMPATIBLE).",
  enforcementLevel: "mandatory",
  validateResource: onSslPolicies((props, args, report) => {
    const profile = typeof props.profile === "string" ? props.profile.toUpperCase() : "COMPATIBLE";
    if (profile === "CUSTOM") {
      const weak = arrayOf(props.customFeatures).filter((f) =>
        WEAK_CUSTOM_FEATURES.includes(String(f)),
      );
      if (weak.length > 0) {
        report(
          `${describe(args)} enables weak cipher suites: customFeatures include ${quote(weak)}. ` +
            "Remove them, or use the RESTRICTED profile.",
        );
      }
    } else if (profile !== "MODERN" && profile !== "RESTRICTED") {
      const shown =
        props.profile === undefined ? 'not set (default "COMPATIBLE")' : quote(props.profile);
      report(
        `${describe(args)} allows weak cipher suites: profile is ${shown}. Set profile to ` +
          '"RESTRICTED" (or "MODERN" with minTlsVersion "TLS_1_2").',
      );
    }
  }),
};

export const proxyHasSslPolicy: ResourceValidationPolicy = {
  name: "tls-proxy-ssl-policy",
  description:
    "HTTPS and SSL proxies must name an SSL policy; without one Google applies TLS 1.0 with COMPATIBLE ciphers.",
  enforcementLevel: "mandatory",
  validateResource: [
    validateResourceOfType(compute.TargetHttpsProxy, (p, a, r) => checkProxy(p, a, r)),
    validateResourceOfType(compute.RegionTargetHttpsProxy, (p, a, r) => checkProxy(p, a, r)),
    validateResourceOfType(compute.TargetSSLProxy, (p, a, r) => checkProxy(p, a, r)),
  ],
};

function checkProxy(
  props: { sslPolicy?: unknown },
  args: ResourceValidationArgs,
  report: ReportViolation,
): void {
  if (props.sslPolicy === undefined || props.sslPolicy === null || props.sslPolicy === "") {
    report(
      `${describe(args)} has no sslPolicy, so Google's default (TLS 1.0, COMPATIBLE ciphers) ` +
        'applies. Set sslPolicy to an SSLPolicy with minTlsVersion "TLS_1_2" and profile ' +
        '"RESTRICTED".',
    );
  }
}

/** The TLS rules, in the order the docs list them. */
export const tlsPolicies: ResourceValidationPolicy[] = [
  sslPolicyMinTls,
  sslPolicyStrongProfile,
  proxyHasSslPolicy,
];
