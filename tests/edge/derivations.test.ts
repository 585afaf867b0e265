import { absoluteName, caaRecords, DNSSEC_CONFIG, isInZone, recordKey } from "../../components/dns";
import {
  DEFAULT_RULE_PRIORITY,
  hstsHeader,
  securityPolicyRules,
  wafExpression,
} from "../../components/loadBalancer";
import { certificateMapReference, sslPolicyInputs } from "../../components/tls";

describe("DNS derivations", () => {
  test("CAA allows Google Trust Services and its Let's Encrypt fallback, no wildcards", () => {
    expect(caaRecords()).toEqual([
      '0 issue "pki.goog"',
      '0 issue "letsencrypt.org"',
      '0 issuewild ";"',
    ]);
    expect(caaRecords("mailto:ops@example.com")[3]).toBe('0 iodef "mailto:ops@example.com"');
  });

  test("never signs with RSASHA1", () => {
    expect(DNSSEC_CONFIG.defaultKeySpecs.map((k) => k.algorithm)).toEqual([
      "ecdsap256sha256",
      "ecdsap256sha256",
    ]);
  });

  test.each([
    ["@", "guincholacerda.com.br", "guincholacerda.com.br."],
    ["_dmarc", "guincholacerda.com.br", "_dmarc.guincholacerda.com.br."],
    ["_sip._tcp", "staging.guincholacerda.com.br", "_sip._tcp.staging.guincholacerda.com.br."],
  ])("absoluteName(%s, %s) is %s", (relative, zone, absolute) => {
    expect(absoluteName(relative, zone)).toBe(absolute);
  });

  test.each([
    ["app.guincholacerda.com.br", "guincholacerda.com.br", true],
    ["staging.guincholacerda.com.br", "staging.guincholacerda.com.br", true],
    ["app.guincholacerda.com.br", "staging.guincholacerda.com.br", false],
    ["xguincholacerda.com.br", "guincholacerda.com.br", false],
  ])("isInZone(%s, %s) is %s", (fqdn, zone, inside) => {
    expect(isInZone(fqdn, zone)).toBe(inside);
  });

  test.each([
    ["@", "CAA", "apex-caa"],
    ["_dmarc", "TXT", "dmarc-txt"],
    ["_sip._tcp", "SRV", "sip-tcp-srv"],
    ["*.files", "A", "files-a"],
  ])("recordKey(%s, %s) is %s", (relative, type, key) => {
    expect(recordKey(relative, type)).toBe(key);
  });
});

describe("TLS derivations", () => {
  test("the SSL policy is TLS 1.2 at least with the chosen profile", () => {
    expect(sslPolicyInputs("RESTRICTED")).toMatchObject({
      minTlsVersion: "TLS_1_2",
      profile: "RESTRICTED",
    });
  });

  test("a certificate map is referenced through the Certificate Manager service name", () => {
    expect(certificateMapReference("projects/p/locations/global/certificateMaps/m")).toBe(
      "//certificatemanager.googleapis.com/projects/p/locations/global/certificateMaps/m",
    );
  });
});

describe("load balancer derivations", () => {
  test("HSTS lasts a year, covers subdomains and asks for no preload", () => {
    expect(hstsHeader()).toBe("Strict-Transport-Security: max-age=31536000; includeSubDomains");
  });

  test("a WAF rule set is evaluated at sensitivity 1", () => {
    expect(wafExpression("xss-v33-stable")).toBe(
      "evaluatePreconfiguredWaf('xss-v33-stable', {'sensitivity': 1})",
    );
  });

  test("with nothing configured: the throttle, then the default allow", () => {
    const rules = securityPolicyRules({ rateLimitPerMinute: 300, wafRules: [], denyList: [] });
    expect(rules).toEqual([
      {
        priority: 3000,
        action: "throttle",
        description: "at most 300 requests per minute per client IP",
        match: { versionedExpr: "SRC_IPS_V1", config: { srcIpRanges: ["*"] } },
        rateLimitOptions: {
          conformAction: "allow",
          exceedAction: "deny(429)",
          enforceOnKey: "IP",
          rateLimitThreshold: { count: 300, intervalSec: 60 },
        },
      },
      {
        priority: DEFAULT_RULE_PRIORITY,
        action: "allow",
        description: "default rule: allow what no rule above refused",
        match: { versionedExpr: "SRC_IPS_V1", config: { srcIpRanges: ["*"] } },
      },
    ]);
  });

  test("every deny and WAF rule comes before the throttle, whose allow would skip them", () => {
    const denyList = Array.from({ length: 21 }, (_, i) => `192.0.2.${i}/32`);
    const rules = securityPolicyRules({
      rateLimitPerMinute: 60,
      wafRules: ["sqli-v33-stable", "xss-v33-stable"],
      denyList,
    });
    expect(rules.map((r) => [r.priority, r.action])).toEqual([
      [1000, "deny(403)"],
      [1001, "deny(403)"],
      [1002, "deny(403)"],
      [2000, "deny(403)"],
      [2001, "deny(403)"],
      [3000, "throttle"],
      [DEFAULT_RULE_PRIORITY, "allow"],
    ]);
    const ranges = rules.slice(0, 3).map((r) => {
      const match = r.match as { config: { srcIpRanges: string[] } };
      return match.config.srcIpRanges.length;
    });
    expect(ranges).toEqual([10, 10, 1]);
  });
});
