import type { ConfigError } from "../../config";
import { existingZoneProblem } from "../../components/dns";
import { configProblems, runStage } from "../helpers/program";

const edge = (settings: Record<string, unknown>) => ({
  edge: { hostname: "staging", ...settings },
});

const problemsOf = (changes: Record<string, unknown>) => configProblems("staging", changes);

describe("edge config mistakes", () => {
  test("fails when the host name is outside the stage's zone", () => {
    expect(
      problemsOf(edge({ hostname: "app", zoneDomain: "staging.guincholacerda.com.br" })),
    ).toEqual([
      'guincho:edge.hostname: received "app"; the host name app.guincholacerda.com.br is ' +
        "outside the zone staging.guincholacerda.com.br (guincho:edge.zoneDomain): change " +
        'hostname, or set zoneDomain to "app.guincholacerda.com.br" or "guincholacerda.com.br"',
    ]);
  });

  test("fails when the zone is not the domain or below it", () => {
    expect(problemsOf(edge({ zoneDomain: "staging.example.com" }))).toEqual([
      'guincho:edge.zoneDomain: received "staging.example.com"; expected the domain ' +
        '"guincholacerda.com.br" or a subdomain of it, such as "staging.guincholacerda.com.br"',
    ]);
  });

  test("fails on an invalid domain", () => {
    expect(problemsOf({ domain: "Guincho Lacerda.com" })).toEqual([
      'guincho:domain: received "Guincho Lacerda.com"; expected a lower-case DNS domain like ' +
        "guincholacerda.com.br, without a trailing dot",
    ]);
  });

  test("fails on a host name that is not one DNS label", () => {
    expect(problemsOf(edge({ hostname: "app.staging" }))).toEqual([
      'guincho:edge.hostname: received "app.staging"; expected one DNS label (letters, digits, ' +
        'hyphens) or "@" for the zone apex',
    ]);
  });

  test.each([
    [1.5, "expected at most 1"],
    [-0.1, "expected at least 0"],
  ])("fails on a log sample rate of %s", (rate, allowed) => {
    expect(problemsOf(edge({ logSampleRate: rate }))).toEqual([
      `guincho:edge.logSampleRate: received ${rate}; ${allowed}`,
    ]);
  });

  test("fails on an unknown WAF rule set, listing the known ones", () => {
    expect(problemsOf(edge({ wafRules: ["sqli-v33-stable", "sqli-v99-stable"] }))).toEqual([
      'guincho:edge.wafRules[1]: received "sqli-v99-stable"; expected one of ' +
        '"sqli-v33-stable", "xss-v33-stable", "lfi-v33-stable", "rfi-v33-stable", ' +
        '"rce-v33-stable", "methodenforcement-v33-stable", "scannerdetection-v33-stable", ' +
        '"protocolattack-v33-stable", "sessionfixation-v33-stable", "php-v33-stable"',
    ]);
  });

  test("fails on a deny list entry that is not a CIDR range", () => {
    expect(problemsOf(edge({ denyList: ["203.0.113.7"] }))).toEqual([
      'guincho:edge.denyList[0]: received "203.0.113.7"; expected an IPv4 network in CIDR ' +
        "form with no host bits set, like 10.20.0.0/24",
    ]);
  });

  test("fails on extra records the zone cannot hold", () => {
    const extraRecords = [
      { name: "@", type: "NS", rrdatas: ["ns1.example.com."] },
      { name: "app", type: "A", rrdatas: ["192.0.2.1"] },
      { name: "@", type: "CAA", rrdatas: ['0 issue "example.net"'] },
      { name: "_dmarc", type: "TXT", rrdatas: ['"v=DMARC1; p=none"'] },
      { name: "_dmarc", type: "TXT", rrdatas: ['"v=DMARC1; p=reject"'] },
      { name: "Mail Server", type: "A", rrdatas: ["192.0.2.2"] },
    ];
    expect(problemsOf({ edge: { hostname: "app", extraRecords } })).toEqual([
      'guincho:edge.extraRecords[5].name: received "Mail Server"; expected a name relative to ' +
        'the zone ("@" for the apex, "www", "_dmarc", "_sip._tcp"), lower case, without the ' +
        "zone and without a trailing dot",
      'guincho:edge.extraRecords[0].type: received "NS" at "@"; the apex NS records are Cloud ' +
        "DNS's own and a zone's DS record belongs in its parent: use NS and DS only to " +
        'delegate a subzone, such as name "staging"',
      'guincho:edge.extraRecords[1]: received "app" of type A; the edge publishes that name ' +
        'and type itself (A/AAAA at "app", CAA at "@"): remove this entry',
      'guincho:edge.extraRecords[2]: received "@" of type CAA; the edge publishes that name ' +
        'and type itself (A/AAAA at "app", CAA at "@"): remove this entry',
      'guincho:edge.extraRecords[4]: received "_dmarc" of type TXT a second time (first at ' +
        "[3]); put every value of one name and type in one entry's rrdatas",
    ]);
  });

  test("accepts the delegation of staging's subzone and underscore names in prod's zone", () => {
    const extraRecords = [
      { name: "staging", type: "NS", rrdatas: ["ns-cloud-c1.googledomains.com."] },
      { name: "staging", type: "DS", rrdatas: ["2371 13 2 1F987CC6583E92DF0890718C42"] },
      { name: "_dmarc", type: "TXT", rrdatas: ['"v=DMARC1; p=none"'] },
      { name: "_sip._tcp", type: "SRV", rrdatas: ["10 5 5060 sip.example.net."] },
      { name: "@", type: "CAA", rrdatas: ['0 issue "pki.goog"'] },
    ];
    const problems = problemsOf({
      edge: { hostname: "app", existingZone: "company", extraRecords },
    });
    expect(problems).toEqual([]);
  });

  test("the program reports an edge mistake as a ConfigError and declares nothing", async () => {
    const run = await runStage("staging", {
      "guincho:edge": { hostname: "staging", zoneDomain: "guincholacerda.net" },
    });
    // NOTE: the run loads its own copy of config.ts, so its ConfigError is another class.
    expect(run.error?.name).toBe("ConfigError");
    expect((run.error as ConfigError).problems).toEqual([
      'guincho:edge.zoneDomain: received "guincholacerda.net"; expected the domain ' +
        '"guincholacerda.com.br" or a subdomain of it, such as "staging.guincholacerda.com.br"',
    ]);
    expect(run.resources.filter((r) => r.custom)).toEqual([]);
  });
});

describe("an existing zone", () => {
  test("is accepted when it serves the stage's zone domain", () => {
    expect(existingZoneProblem("company", "guincholacerda.com.br.", "guincholacerda.com.br")).toBe(
      undefined,
    );
  });

  test("of another domain is refused, naming the key and both domains", () => {
    expect(existingZoneProblem("legacy", "guincho.net.", "guincholacerda.com.br")).toBe(
      'guincho:edge.existingZone: the zone "legacy" serves "guincho.net.", not ' +
        '"guincholacerda.com.br." (guincho:domain, or guincho:edge.zoneDomain when set); name ' +
        "the zone of the stage's domain, or remove existingZone to create one",
    );
  });

  test("holds the host's records and CAA at the host name, with no zone of our own", async () => {
    const run = await runStage("prod", {
      "guincho:edge": {
        hostname: "app",
        existingZone: "company-zone",
        wafRules: ["xss-v33-stable"],
      },
    });
    expect(run.error).toBeUndefined();
    expect(run.resources.filter((r) => r.type === "gcp:dns/managedZone:ManagedZone")).toEqual([]);
    const records = run.resources
      .filter((r) => r.type === "gcp:dns/recordSet:RecordSet")
      .map((r) => [r.props.managedZone, r.props.name, r.props.type]);
    expect(records).toEqual([
      ["company-zone", "app.guincholacerda.com.br.", "A"],
      ["company-zone", "app.guincholacerda.com.br.", "AAAA"],
      ["company-zone", "app.guincholacerda.com.br.", "CAA"],
      ["company-zone", "_acme-challenge.app.guincholacerda.com.br.", "CNAME"],
    ]);
    expect(run.outputs.nameServers).toEqual([
      "ns-cloud-b1.googledomains.com.",
      "ns-cloud-b2.googledomains.com.",
    ]);
    expect(run.outputs.dsRecord).toBe("12345 8 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF");
  });
});
