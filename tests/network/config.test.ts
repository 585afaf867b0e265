import type { ConfigError } from "../../config";
import { configProblems, runStage } from "../helpers/program";

const problemsOf = (changes: Record<string, unknown>) => configProblems("dev", changes);

describe("network config mistakes", () => {
  test.each([
    [
      "fails on a range with host bits set",
      "10.20.0.1/24",
      "expected an IPv4 network in CIDR form with no host bits set, like 10.20.0.0/24",
    ],
    [
      "fails once, not twice, on text that is no range at all",
      "ten-twenty",
      "expected an IPv4 network in CIDR form with no host bits set, like 10.20.0.0/24",
    ],
    [
      "fails on an octet above 255",
      "10.256.0.0/24",
      "expected an IPv4 network in CIDR form with no host bits set, like 10.20.0.0/24",
    ],
    [
      "fails on a public range",
      "8.8.8.0/24",
      "expected a private (RFC 1918) range: 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16",
    ],
    [
      "fails on a subnet smaller than Google Cloud allows",
      "10.20.0.0/30",
      "expected a prefix length from /8 to /29 (Google Cloud's subnet sizes)",
    ],
  ])("%s (%s)", (_what, cidr, allowed) => {
    expect(problemsOf({ "guincho:network": { subnetCidr: cidr } })).toEqual([
      `guincho:network.subnetCidr: received "${cidr}"; ${allowed}`,
    ]);
  });

  test.each([
    [0, "expected more than 0"],
    [1.5, "expected at most 1"],
    ["half", "expected a number"],
  ])("fails on a flow log sampling of %p", (rate, allowed) => {
    expect(problemsOf({ "guincho:network": { flowLogSampling: rate } })).toEqual([
      `guincho:network.flowLogSampling: received ${JSON.stringify(rate)}; ${allowed}`,
    ]);
  });

  test("fails on a zone outside the region, naming the zones it has", () => {
    expect(problemsOf({ "guincho:region": "us-east1", "guincho:zone": "us-east1-a" })).toEqual([
      'guincho:zone: received "us-east1-a"; not a zone of region us-east1: expected one of ' +
        "us-east1-b, us-east1-c, us-east1-d",
    ]);
  });

  test("fails on an unknown region, listing the known ones", () => {
    expect(problemsOf({ "guincho:region": "southamerica-east9" })).toEqual([
      'guincho:region: received "southamerica-east9"; expected one of southamerica-east1, ' +
        "southamerica-west1, us-east1, us-central1, us-west1, europe-west1, europe-west3",
    ]);
  });

  test("fails on a misspelt network key instead of silently using the default", () => {
    expect(problemsOf({ "guincho:network": { subnetCIDR: "10.20.0.0/24" } })).toEqual([
      'guincho:network.subnetCIDR: unknown key (a typo would silently fall back to a default); did you mean "subnetCidr"? known keys here: subnetCidr, flowLogSampling',
    ]);
  });

  test("stops the program before it declares anything", async () => {
    const run = await runStage("dev", { "guincho:network": { subnetCidr: "10.20.0.1/24" } });
    // Each run loads its own copy of config.ts: compare the class by name.
    expect(run.error?.name).toBe("ConfigError");
    expect((run.error as ConfigError).problems).toEqual([
      'guincho:network.subnetCidr: received "10.20.0.1/24"; expected an IPv4 network in CIDR ' +
        "form with no host bits set, like 10.20.0.0/24",
    ]);
    expect(run.resources.filter((r) => r.custom)).toEqual([]);
  });
});
