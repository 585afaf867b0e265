import type {
  Policy,
  PolicyPackArgs,
  ResourceValidationPolicy,
  StackValidationPolicy,
} from "@pulumi/policy";
import {
  ENCRYPTED_SECRET,
  evaluatePolicies,
  runPolicies,
  unwrapSecrets,
} from "../../policies/evaluate";
import { policies } from "../../policies/rules";
import { packConfigFor, POLICY_STAGES } from "../../policies/stages";
import { compliantVm, INSTANCE } from "./helpers";

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

const SIG = "4dabf18193072939515e22adb298388d";
const SECRET = "1b47061264138c4ac30d75fd1eb44270";
const DISK = "gcp:compute/disk:Disk";

describe("unwrapSecrets", () => {
  test.each([
    ["a mocked secret", { [SIG]: SECRET, value: "TRUE" }, "TRUE"],
    [
      "a nested secret inside a list",
      [{ a: { [SIG]: SECRET, value: { b: 1 } } }],
      [{ a: { b: 1 } }],
    ],
    ["an exported ciphertext", { [SIG]: SECRET, ciphertext: "v1:xyz" }, ENCRYPTED_SECRET],
    ["an exported plaintext (--show-secrets)", { [SIG]: SECRET, plaintext: '"s3cret"' }, "s3cret"],
    ["a plain object", { a: [1, "x", null] }, { a: [1, "x", null] }],
  ])("turns %s into its value", (_case, input, output) => {
    expect(unwrapSecrets(input)).toEqual(output);
  });

  test("lets a rule see a metadata flag that arrives as a mocked secret", () => {
    const vm = compliantVm();
    vm.metadata = {
      "enable-oslogin": { [SIG]: SECRET, value: "True" },
      "block-project-ssh-keys": "TRUE",
    };
    const found = evaluatePolicies(
      [{ type: INSTANCE, name: "vm", props: vm, protect: true }],
      "dev",
    );
    expect(found.filter((f) => f.policy === "compute-os-login")).toEqual([]);
  });
});

describe("runPolicies, the CrossGuard stand-in", () => {
  const seen: string[] = [];
  const probe: ResourceValidationPolicy = {
    name: "compute-allowed-machine-types",
    description: "reads its config and the options CrossGuard passes",
    enforcementLevel: "remediate",
    configSchema: { properties: { extra: { type: "string", default: "from-schema" } } },
    validateResource: [
      (args, report) => {
        if (args.type !== DISK) {
          args.notApplicable("disks only");
        }
        const config = args.getConfig<Record<string, unknown>>();
        seen.push(
          `${args.name} ${args.urn} protect=${args.opts.protect} parent=${args.opts.parent}`,
        );
        report(`config ${JSON.stringify(config)}`);
      },
    ],
  };

  test("passes urn, options and the stage config merged over schema defaults", () => {
    const found = runPolicies(
      [probe],
      [
        { type: DISK, name: "data", props: {}, protect: true, parent: "urn:parent" },
        { type: INSTANCE, name: "vm", props: {} },
      ],
      "dev",
    );
    expect(seen).toEqual([
      "data urn:pulumi:dev::guincho-lacerda::gcp:compute/disk:Disk::data protect=true parent=urn:parent",
    ]);
    expect(found).toEqual([
      {
        policy: "compute-allowed-machine-types",
        // A remediating policy's violation is reported as mandatory, as CrossGuard does.
        enforcementLevel: "mandatory",
        resource: { type: DISK, name: "data" },
        message:
          'config {"extra":"from-schema","allowedMachineTypes":["e2-micro","e2-small","e2-medium"]}',
      },
    ]);
  });

  test("skips a policy the stage disables", () => {
    const policy: Policy & ResourceValidationPolicy = {
      name: "stateful-protected",
      description: "disabled in dev",
      enforcementLevel: "mandatory",
      validateResource: (_args, report) => report("never"),
    };
    expect(runPolicies([policy], [{ type: DISK, name: "d", props: {} }], "dev")).toEqual([]);
    expect(runPolicies([policy], [{ type: DISK, name: "d", props: {} }], "prod")).toHaveLength(1);
  });

  test("names the stack for a stack violation without a URN, and the resource for one with", () => {
    const policy: StackValidationPolicy = {
      name: "stack-probe",
      description: "reports twice",
      validateStack: (args, report) => {
        report("whole stack");
        report("one disk", args.resources[0].urn);
      },
    };
    const found = runPolicies([policy], [{ type: DISK, name: "d", props: {} }], "staging");
    expect(found.map((f) => [f.enforcementLevel, f.resource, f.message])).toEqual([
      ["advisory", { type: DISK, name: "d" }, "one disk"],
      ["advisory", { type: "pulumi:pulumi:Stack", name: "guincho-lacerda-staging" }, "whole stack"],
    ]);
  });

  test("refuses an asynchronous policy instead of dropping its findings", () => {
    const policy: ResourceValidationPolicy = {
      name: "async-probe",
      description: "returns a promise",
      validateResource: async () => undefined,
    };
    expect(() => runPolicies([policy], [{ type: DISK, name: "d", props: {} }], "prod")).toThrow(
      "policy async-probe is asynchronous; evaluatePolicies runs policies synchronously",
    );
  });
});

describe("evaluatePolicies", () => {
  test("orders findings by the resources' order, policies in pack order within one resource", () => {
    const found = evaluatePolicies(
      [
        { type: "gcp:serviceaccount/key:Key", name: "k", props: {} },
        { type: "gcp:compute/network:Network", name: "n", props: {} },
        {
          type: "gcp:compute/firewall:Firewall",
          name: "f",
          props: { allows: [{ protocol: "all" }] },
        },
      ],
      "prod",
    );
    expect(found.map((f) => `${f.resource.name} ${f.policy}`)).toEqual([
      "k iam-no-service-account-keys",
      "n network-no-auto-subnets",
      "f firewall-no-internet-ssh",
      "f firewall-no-internet-rdp",
      "f firewall-no-internet-database-ports",
      "f firewall-no-internet-wide-port-ranges",
      "f firewall-logging",
    ]);
  });
});
