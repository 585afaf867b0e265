import { findingsFor, messages, NETWORK, SUBNET } from "./helpers";

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
