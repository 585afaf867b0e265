import {
  APP_TAG,
  DENY_ALL_PRIORITY,
  FIREWALL_LOG_CONFIG,
  firewallRuleSpecs,
  IAP_SSH_RANGE,
  LOAD_BALANCER_RANGES,
} from "../../components/network";
import { evaluatePolicies } from "../../policies/evaluate";
import type { ProgramRun } from "../../tools/program";
import { named, ofType, only, plain, runStage } from "../helpers/program";

const NETWORK = "gcp:compute/network:Network";
const SUBNET = "gcp:compute/subnetwork:Subnetwork";
const ROUTER = "gcp:compute/router:Router";
const NAT = "gcp:compute/routerNat:RouterNat";
const FIREWALL = "gcp:compute/firewall:Firewall";
const INSTANCE = "gcp:compute/instance:Instance";
const MINE = [NETWORK, SUBNET, ROUTER, NAT, FIREWALL];

const appEmail = (stage: string) => `guincho-app@guincho-lacerda-${stage}.iam.gserviceaccount.com`;

const runs: Record<string, ProgramRun> = {};

beforeAll(async () => {
  for (const stage of ["dev", "prod"]) {
    runs[stage] = await runStage(stage);
  }
});

describe("firewallRuleSpecs", () => {
  test("opens SSH from IAP only, then denies everything, when there is no load balancer", () => {
    expect(firewallRuleSpecs({ targetTags: ["guincho-app"] }, false)).toEqual([
      {
        suffix: "allow-iap-ssh",
        description: "SSH to the app VM only through Identity-Aware Proxy TCP forwarding.",
        priority: 1000,
        sourceRanges: ["35.235.240.0/20"],
        allows: [{ protocol: "tcp", ports: ["22"] }],
        target: { targetTags: ["guincho-app"] },
      },
      {
        suffix: "deny-all-ingress",
        description: "Everything not allowed above is refused and logged.",
        priority: 65534,
        sourceRanges: ["0.0.0.0/0"],
        denies: [{ protocol: "all" }],
        target: {},
      },
    ]);
  });

  test("adds HTTP on port 80 from the load-balancer ranges only when asked", () => {
    const rules = firewallRuleSpecs({ targetServiceAccounts: ["app@p.iam"] }, true);
    expect(rules.map((r) => r.suffix)).toEqual([
      "allow-iap-ssh",
      "allow-lb-http",
      "deny-all-ingress",
    ]);
    expect(rules[1]).toEqual({
      suffix: "allow-lb-http",
      description: "HTTP to nginx only from Google's load balancers and health checkers.",
      priority: 1000,
      sourceRanges: ["130.211.0.0/22", "35.191.0.0/16"],
      allows: [{ protocol: "tcp", ports: ["80"] }],
      target: { targetServiceAccounts: ["app@p.iam"] },
    });
  });

  test("keeps the deny-all below every allow and above Google's implied deny", () => {
    const rules = firewallRuleSpecs({ targetTags: [APP_TAG] }, true);
    const allows = rules.filter((r) => r.allows).map((r) => r.priority);
    expect(Math.max(...allows)).toBeLessThan(DENY_ALL_PRIORITY);
    expect(DENY_ALL_PRIORITY).toBe(65534);
  });
});

describe("the network of a stage under mocks", () => {
  test.each([
    ["dev", "10.10.0.0/24", 0.2],
    ["prod", "10.40.0.0/24", 0.5],
  ])("%s: one custom-mode VPC and one subnet %s sampling %s of flows", (stage, cidr, rate) => {
    const run = runs[stage];
    expect(run.error).toBeUndefined();
    expect(only(run, NETWORK).props).toEqual({
      project: `guincho-lacerda-${stage}`,
      name: `guincho-${stage}-vpc`,
      description: "Guincho Lacerda: the app VM's private network (one custom subnet).",
      autoCreateSubnetworks: false,
      routingMode: "REGIONAL",
      deleteDefaultRoutesOnCreate: false,
    });
    expect(only(run, SUBNET).props).toEqual({
      project: `guincho-lacerda-${stage}`,
      name: `guincho-${stage}-subnet`,
      description: "The app VM's subnet: no public IPs; Google APIs through Private Access.",
      network: `guincho-${stage}-vpc-id`,
      region: "southamerica-east1",
      ipCidrRange: cidr,
      stackType: "IPV4_ONLY",
      privateIpGoogleAccess: true,
      logConfig: {
        aggregationInterval: "INTERVAL_5_SEC",
        flowSampling: rate,
        metadata: "INCLUDE_ALL_METADATA",
      },
    });
  });

  test.each(["dev", "prod"])("%s: Cloud NAT for the subnet only, logging its errors", (stage) => {
    const run = runs[stage];
    expect(only(run, ROUTER).props).toMatchObject({
      network: `guincho-${stage}-vpc-id`,
      region: "southamerica-east1",
    });
    expect(only(run, NAT).props).toEqual({
      project: `guincho-lacerda-${stage}`,
      name: `guincho-${stage}-nat`,
      router: `guincho-${stage}-router`,
      region: "southamerica-east1",
      natIpAllocateOption: "AUTO_ONLY",
      sourceSubnetworkIpRangesToNat: "LIST_OF_SUBNETWORKS",
      subnetworks: [
        { name: `guincho-${stage}-subnet-id`, sourceIpRangesToNats: ["ALL_IP_RANGES"] },
      ],
      logConfig: { enable: true, filter: "ERRORS_ONLY" },
    });
  });

  test.each(["dev", "prod"])(
    "%s: SSH only from IAP's range, to the app's service account",
    (stage) => {
      expect(named(runs[stage], FIREWALL, `guincho-${stage}-allow-iap-ssh`).props).toEqual({
        project: `guincho-lacerda-${stage}`,
        name: `guincho-${stage}-allow-iap-ssh`,
        description: "SSH to the app VM only through Identity-Aware Proxy TCP forwarding.",
        network: `guincho-${stage}-vpc-id`,
        direction: "INGRESS",
        priority: 1000,
        sourceRanges: [IAP_SSH_RANGE],
        allows: [{ protocol: "tcp", ports: ["22"] }],
        targetServiceAccounts: [appEmail(stage)],
        logConfig: { metadata: "INCLUDE_ALL_METADATA" },
      });
    },
  );

  test("prod opens HTTP from the load balancers to the app; dev, without one, does not", () => {
    expect(named(runs.prod, FIREWALL, "guincho-prod-allow-lb-http").props).toEqual({
      project: "guincho-lacerda-prod",
      name: "guincho-prod-allow-lb-http",
      description: "HTTP to nginx only from Google's load balancers and health checkers.",
      network: "guincho-prod-vpc-id",
      direction: "INGRESS",
      priority: 1000,
      sourceRanges: [...LOAD_BALANCER_RANGES],
      allows: [{ protocol: "tcp", ports: ["80"] }],
      targetServiceAccounts: [appEmail("prod")],
      logConfig: { metadata: "INCLUDE_ALL_METADATA" },
    });
    expect(ofType(runs.dev, FIREWALL).map((r) => r.name)).toEqual([
      "guincho-dev-allow-iap-ssh",
      "guincho-dev-deny-all-ingress",
    ]);
  });

  test.each(["dev", "prod"])(
    "%s: denies and logs every other ingress at priority 65534",
    (stage) => {
      expect(named(runs[stage], FIREWALL, `guincho-${stage}-deny-all-ingress`).props).toEqual({
        project: `guincho-lacerda-${stage}`,
        name: `guincho-${stage}-deny-all-ingress`,
        description: "Everything not allowed above is refused and logged.",
        network: `guincho-${stage}-vpc-id`,
        direction: "INGRESS",
        priority: 65534,
        sourceRanges: ["0.0.0.0/0"],
        denies: [{ protocol: "all" }],
        logConfig: FIREWALL_LOG_CONFIG,
      });
    },
  );

  test.each(["dev", "prod"])(
    "%s: no firewall rule allows anything from the whole internet, and all of them log",
    (stage) => {
      for (const rule of ofType(runs[stage], FIREWALL)) {
        expect(rule.props.logConfig).toEqual({ metadata: "INCLUDE_ALL_METADATA" });
        if (rule.props.allows) {
          expect(rule.props.sourceRanges).not.toContain("0.0.0.0/0");
        }
      }
    },
  );

  test.each(["dev", "prod"])("%s: every VM runs as the account the firewall admits", (stage) => {
    const run = runs[stage];
    expect(run.outputs.appServiceAccountEmail).toBe(appEmail(stage));
    for (const vm of ofType(run, INSTANCE)) {
      const account = plain(vm.props.serviceAccount) as { email?: string } | undefined;
      expect(account?.email).toBe(appEmail(stage));
    }
  });

  test.each(["dev", "prod"])("%s: exports the network's and subnet's names", (stage) => {
    expect(runs[stage].outputs).toMatchObject({
      networkName: `guincho-${stage}-vpc`,
      subnetName: `guincho-${stage}-subnet`,
    });
  });

  test.each(["dev", "prod"] as const)("%s: the policy pack finds nothing to report", (stage) => {
    const mine = runs[stage].resources.filter((r) => r.custom && MINE.includes(r.type));
    const findings = evaluatePolicies(
      mine.map((r) => ({
        type: r.type,
        name: r.name,
        props: plain(r.props) as Record<string, unknown>,
        protect: r.protect,
      })),
      stage,
    );
    expect(findings).toEqual([]);
  });
});
