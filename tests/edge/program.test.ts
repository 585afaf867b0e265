import { evaluatePolicies } from "../../policies/evaluate";
import type { ProgramRun } from "../../tools/program";
import { named, ofType, only, plain, runStage } from "../helpers/program";

const ZONE = "gcp:dns/managedZone:ManagedZone";
const RECORD = "gcp:dns/recordSet:RecordSet";
const ADDRESS = "gcp:compute/globalAddress:GlobalAddress";
const FORWARDING = "gcp:compute/globalForwardingRule:GlobalForwardingRule";
const ARMOR = "gcp:compute/securityPolicy:SecurityPolicy";
const BACKEND = "gcp:compute/backendService:BackendService";
const URL_MAP = "gcp:compute/uRLMap:URLMap";
const HTTPS_PROXY = "gcp:compute/targetHttpsProxy:TargetHttpsProxy";
const HTTP_PROXY = "gcp:compute/targetHttpProxy:TargetHttpProxy";
const MOCK_LINK = "https://mock.googleapis.com";

/** Every resource type through which the edge could make something public. */
const PUBLIC_TYPES = [
  ADDRESS,
  FORWARDING,
  HTTPS_PROXY,
  HTTP_PROXY,
  URL_MAP,
  BACKEND,
  ARMOR,
  ZONE,
  RECORD,
  "gcp:compute/targetSSLProxy:TargetSSLProxy",
  "gcp:compute/targetTCPProxy:TargetTCPProxy",
  "gcp:compute/forwardingRule:ForwardingRule",
  "gcp:certificatemanager/dnsAuthorization:DnsAuthorization",
  "gcp:certificatemanager/certificate:Certificate",
  "gcp:certificatemanager/certificateMap:CertificateMap",
  "gcp:compute/managedSslCertificate:ManagedSslCertificate",
];

const labelsOf = (stage: string, extra: Record<string, string> = {}) => ({
  ...extra,
  app: "guincho-lacerda",
  stage,
  "managed-by": "pulumi",
});

let prod: ProgramRun;
let staging: ProgramRun;
let dev: ProgramRun;
/** Staging with the optional edge settings changed: no IPv6, a deny list, other rates. */
let variant: ProgramRun;
const denyList = Array.from({ length: 11 }, (_, i) => `198.51.100.${i * 8}/29`);

beforeAll(async () => {
  prod = await runStage("prod");
  staging = await runStage("staging");
  dev = await runStage("dev");
  variant = await runStage("staging", {
    "guincho:edge": {
      hostname: "staging",
      zoneDomain: "staging.guincholacerda.com.br",
      logSampleRate: 0.25,
      ipv6: false,
      denyList,
      rateLimitPerMinute: 120,
      wafRules: ["sqli-v33-stable"],
    },
  });
}, 60000);

describe("DNS", () => {
  test("prod creates the company zone, public and signed with ECDSA P-256 and NSEC3", () => {
    expect(prod.error).toBeUndefined();
    const zone = only(prod, ZONE);
    expect(zone.name).toBe("guincho-prod-zone");
    expect(zone.protect).toBe(true);
    expect(zone.props).toMatchObject({
      dnsName: "guincholacerda.com.br.",
      visibility: "public",
      forceDestroy: false,
      labels: labelsOf("prod", { "cost-center": "operacoes" }),
    });
    expect(zone.props.dnssecConfig).toEqual({
      state: "on",
      nonExistence: "nsec3",
      defaultKeySpecs: [
        { keyType: "keySigning", algorithm: "ecdsap256sha256", keyLength: 256 },
        { keyType: "zoneSigning", algorithm: "ecdsap256sha256", keyLength: 256 },
      ],
    });
  });

  test("prod publishes A, AAAA, CAA, the certificate's CNAME and the mail records", () => {
    const records = Object.fromEntries(
      ofType(prod, RECORD).map((r) => [r.name, { ...r.props, managedZone: undefined }]),
    );
    const zoneName = named(prod, RECORD, "guincho-prod-app-a").props.managedZone;
    expect(zoneName).toBe("guincho-prod-zone");
    expect(records).toEqual({
      "guincho-prod-app-a": {
        name: "app.guincholacerda.com.br.",
        type: "A",
        ttl: 300,
        rrdatas: ["203.0.113.10"],
      },
      "guincho-prod-app-aaaa": {
        name: "app.guincholacerda.com.br.",
        type: "AAAA",
        ttl: 300,
        rrdatas: ["2001:db8:4860::10"],
      },
      "guincho-prod-apex-caa": {
        name: "guincholacerda.com.br.",
        type: "CAA",
        ttl: 3600,
        rrdatas: ['0 issue "pki.goog"', '0 issue "letsencrypt.org"', '0 issuewild ";"'],
      },
      "guincho-prod-cert-auth-cname": {
        name: "_acme-challenge.app.guincholacerda.com.br.",
        type: "CNAME",
        ttl: 300,
        rrdatas: ["app.guincholacerda.com.br.mock.authorize.certificatemanager.goog."],
      },
      "guincho-prod-extra-apex-mx": {
        name: "guincholacerda.com.br.",
        type: "MX",
        ttl: 3600,
        rrdatas: ["1 smtp.google.com."],
      },
      "guincho-prod-extra-apex-txt": {
        name: "guincholacerda.com.br.",
        type: "TXT",
        ttl: 3600,
        rrdatas: ['"v=spf1 include:_spf.google.com ~all"'],
      },
    });
    expect(ofType(prod, RECORD).every((r) => r.props.managedZone === zoneName)).toBe(true);
  });

  test("staging owns the delegated subzone staging.<domain>, its host at the apex", () => {
    const zone = only(staging, ZONE);
    expect(zone.protect).toBe(false);
    expect(zone.props.dnsName).toBe("staging.guincholacerda.com.br.");
    expect((zone.props.dnssecConfig as { state: string }).state).toBe("on");
    const records = ofType(staging, RECORD).map((r) => [r.name, r.props.name, r.props.type]);
    expect(records).toEqual([
      ["guincho-staging-apex-a", "staging.guincholacerda.com.br.", "A"],
      ["guincho-staging-apex-aaaa", "staging.guincholacerda.com.br.", "AAAA"],
      ["guincho-staging-apex-caa", "staging.guincholacerda.com.br.", "CAA"],
      [
        "guincho-staging-cert-auth-cname",
        "_acme-challenge.staging.guincholacerda.com.br.",
        "CNAME",
      ],
    ]);
  });

  test("outputs the name servers and the DS record the registrar needs", () => {
    expect(prod.outputs).toMatchObject({
      fqdn: "app.guincholacerda.com.br",
      nameServers: ["ns-cloud-a1.googledomains.com.", "ns-cloud-a2.googledomains.com."],
      dsRecord: "12345 8 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF",
      ipv4Address: "203.0.113.10",
      ipv6Address: "2001:db8:4860::10",
      certificateName: "guincho-prod-cert",
    });
    expect(staging.outputs.fqdn).toBe("staging.guincholacerda.com.br");
  });
});

describe("TLS", () => {
  test("issues a Google-managed certificate through a DNS authorization of the host", () => {
    const auth = only(prod, "gcp:certificatemanager/dnsAuthorization:DnsAuthorization");
    expect(auth.props.domain).toBe("app.guincholacerda.com.br");
    const cert = only(prod, "gcp:certificatemanager/certificate:Certificate");
    expect(cert.props.scope).toBe("DEFAULT");
    expect(cert.props.managed).toEqual({
      domains: ["app.guincholacerda.com.br"],
      dnsAuthorizations: ["guincho-prod-dns-auth-id"],
    });
    const entry = only(prod, "gcp:certificatemanager/certificateMapEntry:CertificateMapEntry");
    expect(entry.props).toMatchObject({
      map: "guincho-prod-cert-map",
      hostname: "app.guincholacerda.com.br",
      certificates: ["guincho-prod-cert-id"],
    });
    expect(entry.props.matcher).toBeUndefined();
  });

  test.each([
    ["prod", "MODERN"],
    ["staging", "MODERN"],
  ])("%s's SSL policy requires TLS 1.2 with the %s profile", (stage, profile) => {
    const run = stage === "prod" ? prod : staging;
    const policy = only(run, "gcp:compute/sSLPolicy:SSLPolicy");
    expect(policy.props).toMatchObject({ minTlsVersion: "TLS_1_2", profile });
  });

  test("the HTTPS proxy serves the certificate map under the SSL policy", () => {
    const proxy = only(prod, HTTPS_PROXY);
    expect(proxy.props).toEqual({
      urlMap: "guincho-prod-https-id",
      certificateMap: "//certificatemanager.googleapis.com/guincho-prod-cert-map-id",
      sslPolicy: `${MOCK_LINK}/gcp:compute/sSLPolicy:SSLPolicy/guincho-prod-ssl-policy`,
    });
    expect(proxy.props.sslCertificates).toBeUndefined();
  });

  test("plain HTTP answers only a 301 to HTTPS, keeping the query", () => {
    const redirect = named(prod, URL_MAP, "guincho-prod-redirect");
    expect(redirect.props.defaultService).toBeUndefined();
    expect(redirect.props.defaultUrlRedirect).toEqual({
      httpsRedirect: true,
      redirectResponseCode: "MOVED_PERMANENTLY_DEFAULT",
      stripQuery: false,
    });
    expect(only(prod, HTTP_PROXY).props.urlMap).toBe("guincho-prod-redirect-id");
  });
});

describe("load balancer", () => {
  test("reserves global IPv4 and IPv6 addresses, protected in prod only", () => {
    const addresses = ofType(prod, ADDRESS).map((a) => [a.name, a.props.ipVersion, a.protect]);
    expect(addresses).toEqual([
      ["guincho-prod-ipv4", "IPV4", true],
      ["guincho-prod-ipv6", "IPV6", true],
    ]);
    expect(ofType(staging, ADDRESS).map((a) => a.protect)).toEqual([false, false]);
  });

  test("forwards 443 to the HTTPS proxy and 80 to the redirect, on v4 and v6", () => {
    const rules = ofType(prod, FORWARDING).map((r) => [
      r.name,
      r.props.ipAddress,
      r.props.portRange,
      r.props.target,
      r.props.loadBalancingScheme,
    ]);
    expect(rules).toEqual([
      [
        "guincho-prod-https-v4",
        "203.0.113.10",
        "443",
        "guincho-prod-https-proxy-id",
        "EXTERNAL_MANAGED",
      ],
      [
        "guincho-prod-http-v4",
        "203.0.113.10",
        "80",
        "guincho-prod-http-proxy-id",
        "EXTERNAL_MANAGED",
      ],
      [
        "guincho-prod-https-v6",
        "2001:db8:4860::10",
        "443",
        "guincho-prod-https-proxy-id",
        "EXTERNAL_MANAGED",
      ],
      [
        "guincho-prod-http-v6",
        "2001:db8:4860::10",
        "80",
        "guincho-prod-http-proxy-id",
        "EXTERNAL_MANAGED",
      ],
    ]);
  });

  test("the backend logs requests, drains, times out, sends HSTS and carries Cloud Armor", () => {
    const backend = only(prod, BACKEND);
    expect(backend.props).toMatchObject({
      loadBalancingScheme: "EXTERNAL_MANAGED",
      protocol: "HTTP",
      portName: "http",
      timeoutSec: 30,
      connectionDrainingTimeoutSec: 60,
      healthChecks: "guincho-prod-health-id",
      securityPolicy: `${MOCK_LINK}/${ARMOR}/guincho-prod-armor`,
      logConfig: { enable: true, sampleRate: 1 },
      customResponseHeaders: ["Strict-Transport-Security: max-age=31536000; includeSubDomains"],
    });
    expect(backend.props.backends).toEqual([
      {
        group: `${MOCK_LINK}/gcp:compute/instanceGroup:InstanceGroup/guincho-prod-app`,
        balancingMode: "UTILIZATION",
        capacityScaler: 1,
      },
    ]);
  });

  test("the backend's log sample rate follows edge.logSampleRate", () => {
    expect(variant.error).toBeUndefined();
    expect(only(variant, BACKEND).props.logConfig).toEqual({ enable: true, sampleRate: 0.25 });
  });

  test("without edge.ipv6 there is no IPv6 address, v6 forwarding rule or AAAA record", () => {
    expect(ofType(variant, ADDRESS).map((a) => a.props.ipVersion)).toEqual(["IPV4"]);
    expect(ofType(variant, FORWARDING).map((r) => r.name)).toEqual([
      "guincho-staging-https-v4",
      "guincho-staging-http-v4",
    ]);
    expect(ofType(variant, RECORD).map((r) => r.props.type)).toEqual(["A", "CAA", "CNAME"]);
    expect(variant.outputs.ipv6Address).toBeUndefined();
  });

  test("health-checks /healthz on port 80", () => {
    const check = only(prod, "gcp:compute/healthCheck:HealthCheck");
    expect(check.props).toMatchObject({
      httpHealthCheck: { port: 80, requestPath: "/healthz" },
      checkIntervalSec: 10,
      timeoutSec: 5,
      healthyThreshold: 2,
      unhealthyThreshold: 3,
    });
  });

  test("prod's Cloud Armor policy: 8 WAF rule sets, then the per-IP throttle, then allow", () => {
    const policy = only(prod, ARMOR);
    expect(policy.props.type).toBe("CLOUD_ARMOR");
    const rules = policy.props.rules as Record<string, unknown>[];
    const sets = [
      "sqli-v33-stable",
      "xss-v33-stable",
      "lfi-v33-stable",
      "rfi-v33-stable",
      "rce-v33-stable",
      "methodenforcement-v33-stable",
      "scannerdetection-v33-stable",
      "protocolattack-v33-stable",
    ];
    expect(rules.map((r) => [r.priority, r.action])).toEqual([
      ...sets.map((_, i) => [2000 + i, "deny(403)"]),
      [3000, "throttle"],
      [2147483647, "allow"],
    ]);
    expect(rules.slice(0, 8).map((r) => r.match)).toEqual(
      sets.map((set) => ({
        expr: { expression: `evaluatePreconfiguredWaf('${set}', {'sensitivity': 1})` },
      })),
    );
    expect(rules[8]).toMatchObject({
      match: { versionedExpr: "SRC_IPS_V1", config: { srcIpRanges: ["*"] } },
      rateLimitOptions: {
        conformAction: "allow",
        exceedAction: "deny(429)",
        enforceOnKey: "IP",
        rateLimitThreshold: { count: 300, intervalSec: 60 },
      },
    });
    expect(rules[9].match).toEqual({ versionedExpr: "SRC_IPS_V1", config: { srcIpRanges: ["*"] } });
  });

  test("staging enforces its own 5 WAF rule sets", () => {
    const rules = only(staging, ARMOR).props.rules as Record<string, unknown>[];
    expect(rules.map((r) => r.priority)).toEqual([2000, 2001, 2002, 2003, 2004, 3000, 2147483647]);
    expect(
      rules.map((r) => (r.match as { expr?: { expression: string } }).expr?.expression),
    ).toEqual([
      "evaluatePreconfiguredWaf('sqli-v33-stable', {'sensitivity': 1})",
      "evaluatePreconfiguredWaf('xss-v33-stable', {'sensitivity': 1})",
      "evaluatePreconfiguredWaf('lfi-v33-stable', {'sensitivity': 1})",
      "evaluatePreconfiguredWaf('rce-v33-stable', {'sensitivity': 1})",
      "evaluatePreconfiguredWaf('scannerdetection-v33-stable', {'sensitivity': 1})",
      undefined,
      undefined,
    ]);
  });

  test("the deny list comes first, 10 ranges a rule; the throttle follows rateLimitPerMinute", () => {
    const rules = only(variant, ARMOR).props.rules as Record<string, unknown>[];
    expect(rules.slice(0, 2)).toEqual([
      {
        priority: 1000,
        action: "deny(403)",
        description: "deny list (guincho:edge.denyList)",
        match: { versionedExpr: "SRC_IPS_V1", config: { srcIpRanges: denyList.slice(0, 10) } },
      },
      {
        priority: 1001,
        action: "deny(403)",
        description: "deny list (guincho:edge.denyList)",
        match: { versionedExpr: "SRC_IPS_V1", config: { srcIpRanges: denyList.slice(10) } },
      },
    ]);
    expect(rules.find((r) => r.action === "throttle")?.rateLimitOptions).toMatchObject({
      rateLimitThreshold: { count: 120, intervalSec: 60 },
    });
  });
});

describe("a stage without the load balancer (dev)", () => {
  test("declares no public entry point at all", () => {
    expect(dev.error).toBeUndefined();
    for (const type of PUBLIC_TYPES) {
      expect([type, ofType(dev, type).length]).toEqual([type, 0]);
    }
    const external = ofType(dev, "gcp:compute/address:Address").filter(
      (a) => a.props.addressType !== "INTERNAL",
    );
    expect(external).toEqual([]);
    // The only ingress allowed at all is IAP's range on SSH (no load balancer ranges).
    const allowed = ofType(dev, "gcp:compute/firewall:Firewall")
      .filter((f) => f.props.allows !== undefined)
      .map((f) => [f.props.sourceRanges, f.props.allows]);
    expect(allowed).toEqual([[["35.235.240.0/20"], [{ protocol: "tcp", ports: ["22"] }]]]);
    expect(ofType(dev, "gcp:compute/instance:Instance")).toHaveLength(1);
    for (const vm of ofType(dev, "gcp:compute/instance:Instance")) {
      const nics = (vm.props.networkInterfaces ?? []) as Record<string, unknown>[];
      expect(nics.flatMap((n) => (n.accessConfigs ?? []) as unknown[])).toEqual([]);
    }
  });

  test("exports no address, zone or certificate", () => {
    expect(dev.outputs.url).toBe("none (no load balancer: see docs)");
    for (const key of ["ipv4Address", "ipv6Address", "nameServers", "dsRecord", "fqdn"]) {
      expect([key, dev.outputs[key]]).toEqual([key, undefined]);
    }
  });
});

describe("policy pack", () => {
  test.each(["prod", "staging"] as const)(
    "reports no mandatory finding on %s's edge resources",
    (stage) => {
      const run = stage === "prod" ? prod : staging;
      const edgeParents = [
        "guincho:dns:Dns",
        "guincho:tls:Tls",
        "guincho:loadBalancer:LoadBalancer",
      ];
      const resources = run.resources
        .filter((r) => r.custom && edgeParents.some((p) => r.parent?.startsWith(`${p}::`)))
        .map((r) => ({
          type: r.type,
          name: r.name,
          props: plain(r.props) as Record<string, unknown>,
          protect: r.protect,
        }));
      expect(resources.length).toBeGreaterThan(20);
      const mandatory = evaluatePolicies(resources, stage).filter(
        (f) => f.enforcementLevel === "mandatory",
      );
      expect(mandatory).toEqual([]);
    },
  );
});
