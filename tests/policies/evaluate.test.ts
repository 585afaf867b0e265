import type { Policy, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import {
  ENCRYPTED_SECRET,
  evaluatePolicies,
  runPolicies,
  unwrapSecrets,
} from "../../policies/evaluate";
import { compliantVm, INSTANCE } from "./helpers";

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
