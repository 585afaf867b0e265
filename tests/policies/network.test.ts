import { findingsFor, LABELS, messages, NETWORK, SSL_POLICY, SUBNET, ZONE } from "./helpers";

const FLOW_LOGS = { aggregationInterval: "INTERVAL_5_SEC", flowSampling: 0.5 };

describe("networks and subnets the system declares", () => {
  test.each([
    ["a custom-mode network", NETWORK, { autoCreateSubnetworks: false }],
    [
      "a VM subnet with flow logs and Private Google Access",
      SUBNET,
      { ipCidrRange: "10.40.0.0/24", logConfig: FLOW_LOGS, privateIpGoogleAccess: true },
    ],
  ])("raise no finding: %s", (_case, type, props) => {
    expect(findingsFor(type, props)).toEqual([]);
  });
});

describe("network-no-auto-subnets", () => {
  test.each([
    ["not set (auto mode is the default)", undefined, "not set"],
    ["true", true, "true"],
  ])("advises against autoCreateSubnetworks %s", (_case, autoCreateSubnetworks, shown) => {
    expect(findingsFor(NETWORK, { autoCreateSubnetworks }, { name: "vpc" })).toEqual([
      {
        policy: "network-no-auto-subnets",
        enforcementLevel: "advisory",
        resource: { type: NETWORK, name: "vpc" },
        message: `Network "vpc" creates a subnet in every region: autoCreateSubnetworks is ${shown} (default true). Set autoCreateSubnetworks to false and declare the one subnet the system needs.`,
      },
    ]);
  });
});

describe("subnet-flow-logs", () => {
  const policy = "subnet-flow-logs";
  test("blocks a subnet without logConfig (flow logs are off by default)", () => {
    const props = { privateIpGoogleAccess: true };
    expect(messages(policy, SUBNET, props, { name: "app" })).toEqual([
      'Subnetwork "app" records no flow logs: logConfig is not set. Set logConfig { aggregationInterval: "INTERVAL_5_SEC", flowSampling: 0.5, metadata: "INCLUDE_ALL_METADATA" }.',
    ]);
  });

  test("blocks a flow sampling of 0", () => {
    const props = { privateIpGoogleAccess: true, logConfig: { flowSampling: 0 } };
    expect(messages(policy, SUBNET, props)).toEqual([
      'Subnetwork "app" samples no flows: logConfig.flowSampling is 0. Set flowSampling above 0 (0.5 keeps half the flows).',
    ]);
  });

  test.each([
    ["REGIONAL_MANAGED_PROXY"],
    ["GLOBAL_MANAGED_PROXY"],
    ["INTERNAL_HTTPS_LOAD_BALANCER"],
  ])("exempts a proxy-only subnet (%s) from flow logs and Private Google Access", (purpose) => {
    const props = { purpose, role: "ACTIVE", ipCidrRange: "10.129.0.0/23" };
    expect(findingsFor(SUBNET, props)).toEqual([]);
  });

  test.each([
    ["dev", "advisory"],
    ["staging", "mandatory"],
    ["prod", "mandatory"],
  ] as const)("in %s it is %s", (stage, level) => {
    const found = findingsFor(SUBNET, { privateIpGoogleAccess: true }, { stage });
    expect(found.map((f) => [f.policy, f.enforcementLevel])).toEqual([["subnet-flow-logs", level]]);
  });
});

describe("subnet-private-google-access", () => {
  test("advises Private Google Access when it is not set", () => {
    const found = findingsFor(SUBNET, { logConfig: FLOW_LOGS });
    expect(found.map((f) => [f.enforcementLevel, f.message])).toEqual([
      [
        "advisory",
        'Subnetwork "app" has privateIpGoogleAccess not set. Set privateIpGoogleAccess to true so the VM reaches Cloud Storage, Logging and Monitoring without a public IP.',
      ],
    ]);
  });
});

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

const SIGNED = {
  state: "on",
  defaultKeySpecs: [{ algorithm: "ecdsap256sha256", keyType: "keySigning" }],
};

describe("dns-dnssec", () => {
  const policy = "dns-dnssec";
  test.each([
    ["no dnssecConfig (off by default)", undefined, "not set"],
    ["state off", { state: "off" }, '"off"'],
  ])("blocks a public zone with %s", (_case, dnssecConfig, shown) => {
    const props = { dnsName: "guincholacerda.com.br.", labels: LABELS, dnssecConfig };
    expect(messages(policy, ZONE, props, { name: "zone" })).toEqual([
      `ManagedZone "zone" is public and unsigned: dnssecConfig.state is ${shown}. Set dnssecConfig { state: "on" }, then add the DS record at the domain registrar.`,
    ]);
  });

  test.each([
    ["a signed public zone", { dnssecConfig: SIGNED }],
    ["a public zone signed while it transfers", { dnssecConfig: { state: "transfer" } }],
    ["a private zone without DNSSEC", { visibility: "private" }],
  ])("accepts %s", (_case, extra) => {
    expect(findingsFor(ZONE, { dnsName: "internal.", labels: LABELS, ...extra })).toEqual([]);
  });

  test("is advisory in dev, where a stage may run without its own domain", () => {
    const found = findingsFor(ZONE, { labels: LABELS }, { stage: "dev" });
    expect(found.map((f) => f.enforcementLevel)).toEqual(["advisory"]);
  });
});

describe("dns-no-rsasha1", () => {
  test.each([["keySigning"], ["zoneSigning"]])("blocks an RSASHA1 %s key", (keyType) => {
    const dnssecConfig = { state: "on", defaultKeySpecs: [{ algorithm: "RSASHA1", keyType }] };
    const props = { labels: LABELS, dnssecConfig };
    expect(messages("dns-no-rsasha1", ZONE, props, { name: "zone" })).toEqual([
      `ManagedZone "zone" signs with RSASHA1 ("${keyType}" key). Use "rsasha256" or "ecdsap256sha256" in dnssecConfig.defaultKeySpecs.`,
    ]);
  });
});
