import { findingsFor, LABELS, messages, ZONE } from "./helpers";

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
