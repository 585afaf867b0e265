import { findingsFor, messages, SSL_POLICY } from "./helpers";

const REGION_POLICY = "gcp:compute/regionSslPolicy:RegionSslPolicy";
const HTTPS_PROXY = "gcp:compute/targetHttpsProxy:TargetHttpsProxy";

describe("tls-min-version", () => {
  const policy = "tls-min-version";
  test.each([
    ['not set (default "TLS_1_0")', undefined],
    ['"TLS_1_1"', "TLS_1_1"],
  ])("blocks minTlsVersion %s", (shown, minTlsVersion) => {
    const props = { minTlsVersion, profile: "RESTRICTED" };
    expect(messages(policy, SSL_POLICY, props, { name: "tls" })).toEqual([
      `SSLPolicy "tls" accepts TLS older than TLS_1_2: minTlsVersion is ${shown}. Set minTlsVersion to "TLS_1_2".`,
    ]);
  });

  test.each([["TLS_1_2"], ["TLS_1_3"]])(
    "accepts %s, also on a regional policy",
    (minTlsVersion) => {
      expect(findingsFor(REGION_POLICY, { minTlsVersion, profile: "MODERN" })).toEqual([]);
    },
  );
});

describe("tls-strong-profile", () => {
  const policy = "tls-strong-profile";
  test.each([
    ['not set (default "COMPATIBLE")', undefined],
    ['"COMPATIBLE"', "COMPATIBLE"],
  ])("blocks profile %s", (shown, profile) => {
    const props = { minTlsVersion: "TLS_1_2", profile };
    expect(messages(policy, SSL_POLICY, props, { name: "tls" })).toEqual([
      `SSLPolicy "tls" allows weak cipher suites: profile is ${shown}. Set profile to "RESTRICTED" (or "MODERN" with minTlsVersion "TLS_1_2").`,
    ]);
  });

  test("blocks a CUSTOM profile with RSA key exchange and accepts one without", () => {
    const weak = {
      minTlsVersion: "TLS_1_2",
      profile: "CUSTOM",
      customFeatures: ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"],
    };
    expect(messages(policy, SSL_POLICY, weak, { name: "tls" })).toEqual([
      'SSLPolicy "tls" enables weak cipher suites: customFeatures include ["TLS_RSA_WITH_3DES_EDE_CBC_SHA"]. Remove them, or use the RESTRICTED profile.',
    ]);
    const strong = { ...weak, customFeatures: ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"] };
    expect(messages(policy, SSL_POLICY, strong)).toEqual([]);
  });
});

describe("tls-proxy-ssl-policy", () => {
  test("blocks an HTTPS proxy left on Google's default SSL policy", () => {
    const props = { urlMap: "lb", certificateMap: "//certificatemanager.googleapis.com/x" };
    expect(messages("tls-proxy-ssl-policy", HTTPS_PROXY, props, { name: "https" })).toEqual([
      'TargetHttpsProxy "https" has no sslPolicy, so Google\'s default (TLS 1.0, COMPATIBLE ciphers) applies. Set sslPolicy to an SSLPolicy with minTlsVersion "TLS_1_2" and profile "RESTRICTED".',
    ]);
  });

  test("accepts an HTTPS proxy with an SSL policy", () => {
    expect(findingsFor(HTTPS_PROXY, { urlMap: "lb", sslPolicy: "tls" })).toEqual([]);
  });
});
