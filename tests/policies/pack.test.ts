import type { PolicyPackArgs } from "@pulumi/policy";
import { policies } from "../../policies/rules";
import { packConfigFor, POLICY_STAGES } from "../../policies/stages";

const EXPECTED_POLICIES = [
  "compute-no-default-service-account",
  "compute-no-full-api-access",
  "compute-os-login",
  "compute-block-project-ssh-keys",
  "compute-no-serial-port",
  "compute-no-ip-forwarding",
  "compute-shielded-vm",
  "compute-no-public-ip",
  "compute-allowed-machine-types",
  "firewall-no-internet-ssh",
  "firewall-no-internet-rdp",
  "firewall-no-internet-database-ports",
  "firewall-no-internet-wide-port-ranges",
  "firewall-logging",
  "network-no-auto-subnets",
  "subnet-flow-logs",
  "subnet-private-google-access",
  "tls-min-version",
  "tls-strong-profile",
  "tls-proxy-ssl-policy",
  "storage-uniform-access",
  "storage-public-access-prevention",
  "storage-no-public-acls",
  "storage-backup-versioning",
  "iam-no-basic-roles",
  "iam-no-project-service-account-user",
  "iam-no-public-members",
  "iam-no-personal-accounts",
  "iam-no-service-account-keys",
  "iam-wif-provider-condition",
  "dns-dnssec",
  "dns-no-rsasha1",
  "metadata-no-secrets",
  "stateful-protected",
  "backup-retention-minimum",
  "backups-declared",
  "alert-notification-channel",
  "required-labels",
];

describe("the pack's entry (policies/index.ts)", () => {
  test("builds the guincho-lacerda pack with every policy, without starting the server", async () => {
    const constructed: [string, PolicyPackArgs][] = [];
    await jest.isolateModulesAsync(async () => {
      jest.doMock("@pulumi/policy", () => ({
        ...jest.requireActual("@pulumi/policy"),
        PolicyPack: jest.fn((name: string, args: PolicyPackArgs) => {
          constructed.push([name, args]);
        }),
      }));
      await import("../../policies/index");
    });
    expect(constructed).toHaveLength(1);
    const [name, args] = constructed[0];
    expect(name).toBe("guincho-lacerda");
    expect(args.enforcementLevel).toBe("advisory");
    expect(args.policies.map((p) => p.name)).toEqual(EXPECTED_POLICIES);
  });
});

describe("the policies", () => {
  test("have unique kebab-case names, a description and an explicit level", () => {
    expect(new Set(policies.map((p) => p.name)).size).toBe(policies.length);
    for (const p of policies) {
      expect([p.name, /^[a-z0-9]+(-[a-z0-9]+)*$/.test(p.name)]).toEqual([p.name, true]);
      expect(p.description.length).toBeGreaterThan(20);
      expect(["advisory", "mandatory"]).toContain(p.enforcementLevel);
    }
  });
});

describe.each(POLICY_STAGES)("policies/config/%s.json", (stage) => {
  const config = packConfigFor(stage);
  const byName = new Map(policies.map((p) => [p.name, p]));

  test.each(Object.entries(config))(
    "configures %s with known keys of the right type",
    (name, entry) => {
      const policy = byName.get(name);
      expect(policy?.name).toBe(name);
      const values = typeof entry === "string" ? { enforcementLevel: entry } : entry;
      for (const [key, value] of Object.entries(values)) {
        if (key === "enforcementLevel") {
          expect(["advisory", "mandatory", "remediate", "disabled"]).toContain(value);
          continue;
        }
        const schema = policy?.configSchema?.properties[key];
        expect([key, schema?.type]).toEqual([
          key,
          Array.isArray(value) ? "array" : typeof value === "number" ? "integer" : "string",
        ]);
      }
    },
  );
});
