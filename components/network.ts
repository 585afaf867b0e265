/**
 * The stage's private network: a custom-mode VPC with one regional subnet (flow logs,
 * Private Google Access), Cloud NAT for egress without public IPs, and a firewall that lets
 * in only Google's IAP tunnel (SSH) and Google's load balancers (HTTP), logging every rule.
 */
import * as gcp from "./gcp";
import * as pulumi from "@pulumi/pulumi";

/** Google's Identity-Aware Proxy TCP forwarding range: the only source of SSH. */
export const IAP_SSH_RANGE = "35.235.240.0/20";

/** Google's external load balancers and health checkers: the only sources of HTTP. */
export const LOAD_BALANCER_RANGES: readonly string[] = ["130.211.0.0/22", "35.191.0.0/16"];

/** The network tag the app's VM carries. */
export const APP_TAG = "guincho-app";

/** nginx on the VM listens here; the load balancer's backend and health check use it. */
export const HTTP_PORT = 80;

/** Below every allow rule, above Google's implied deny (65535), so denials are logged. */
export const DENY_ALL_PRIORITY = 65534;

export interface NetworkArgs {
  /** Google Cloud project id; resources name it explicitly. */
  project: string;
  /** Region of the subnet, router and NAT. */
  region: string;
  /** Private IPv4 range of the subnet (validated by config: RFC 1918, no host bits). */
  subnetCidr: string;
  /** Share of flows the subnet's flow logs sample, above 0 and at most 1. */
  flowLogSampling: number;
  /**
   * Open HTTP (port 80) to Google's load-balancer and health-check ranges. A stage without
   * a load balancer gets no HTTP ingress at all.
   * @default false
   */
  allowLoadBalancer?: boolean;
  /**
   * The app VM's service account. When given, the allow rules target it instead of the
   * network tag: a tag can be put on any VM by whoever edits instances, a service account
   * only by whoever may act as it.
   * @default undefined (the rules target the network tag `appTag`)
   */
  appServiceAccountEmail?: pulumi.Input<string>;
  /**
   * The network tag of the app's VM.
   * @default "guincho-app"
   */
  appTag?: string;
}

/** Where an allow rule lands: the app's service account, or else its network tag. */
export interface FirewallTarget {
  targetServiceAccounts?: pulumi.Input<string>[];
  targetTags?: string[];
}

/** One firewall rule of the stage, before it becomes a resource. */
export interface FirewallRuleSpec {
  /** Suffix of the rule's name, after the component's name. */
  suffix: string;
  description: string;
  priority: number;
  sourceRanges: string[];
  allows?: { protocol: string; ports: string[] }[];
  denies?: { protocol: string }[];
  target: FirewallTarget;
}

/** Every rule logs its connections with full metadata, for incident review. */
export const FIREWALL_LOG_CONFIG = { metadata: "INCLUDE_ALL_METADATA" } as const;

/**
 * The firewall of the stage: SSH from IAP, HTTP from the load balancers (when there is one),
 * and an explicit deny-all at the bottom, so denied attempts are logged too.
 */
export function firewallRuleSpecs(
  target: FirewallTarget,
  allowLoadBalancer: boolean,
): FirewallRuleSpec[] {
  const rules: FirewallRuleSpec[] = [
    {
      suffix: "allow-iap-ssh",
      description: "SSH to the app VM only through Identity-Aware Proxy TCP forwarding.",
      priority: 1000,
      sourceRanges: [IAP_SSH_RANGE],
      allows: [{ protocol: "tcp", ports: ["22"] }],
      target,
    },
  ];
  if (allowLoadBalancer) {
    rules.push({
      suffix: "allow-lb-http",
      description: "HTTP to nginx only from Google's load balancers and health checkers.",
      priority: 1000,
      sourceRanges: [...LOAD_BALANCER_RANGES],
      allows: [{ protocol: "tcp", ports: [String(HTTP_PORT)] }],
      target,
    });
  }
  rules.push({
    suffix: "deny-all-ingress",
    description: "Everything not allowed above is refused and logged.",
    priority: DENY_ALL_PRIORITY,
    sourceRanges: ["0.0.0.0/0"],
    denies: [{ protocol: "all" }],
    target: {},
  });
  return rules;
}

/** The stage's VPC, subnet, Cloud NAT and firewall. */
export class Network extends pulumi.ComponentResource {
  /** Self link of the VPC network. */
  readonly networkSelfLink: pulumi.Output<string>;
  readonly networkName: pulumi.Output<string>;
  /** Self link of the VM's subnet. */
  readonly subnetSelfLink: pulumi.Output<string>;
  readonly subnetName: pulumi.Output<string>;
  /** The network tag the app VM must carry. */
  readonly appTag: string;
  readonly routerName: pulumi.Output<string>;
  readonly natName: pulumi.Output<string>;
  /** Names of the firewall rules, in priority order. */
  readonly firewallNames: pulumi.Output<string>[];

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("guincho:network:Network", name, {}, opts);
    if (!(args.flowLogSampling > 0 && args.flowLogSampling <= 1)) {
      throw new pulumi.ResourceError(
        `flowLogSampling: received ${args.flowLogSampling}; expected a share above 0 and at ` +
          "most 1 (0 would record no flow logs; 0.5 keeps half the flows)",
        this,
      );
    }
    this.appTag = args.appTag ?? APP_TAG;

    const network = new gcp.compute.Network(
      `${name}-vpc`,
      {
        project: args.project,
        name: `${name}-vpc`,
        description: "Guincho Lacerda: the app VM's private network (one custom subnet).",
        autoCreateSubnetworks: false,
        routingMode: "REGIONAL",
        // NOTE: the default internet route stays: Cloud NAT sends egress through it.
        deleteDefaultRoutesOnCreate: false,
      },
      { parent: this },
    );

    const subnet = new gcp.compute.Subnetwork(
      `${name}-subnet`,
      {
        project: args.project,
        name: `${name}-subnet`,
        description: "The app VM's subnet: no public IPs; Google APIs through Private Access.",
        network: network.id,
        region: args.region,
        ipCidrRange: args.subnetCidr,
        stackType: "IPV4_ONLY",
        privateIpGoogleAccess: true,
        logConfig: {
          aggregationInterval: "INTERVAL_5_SEC",
          flowSampling: args.flowLogSampling,
          metadata: "INCLUDE_ALL_METADATA",
        },
      },
      { parent: this },
    );

    const router = new gcp.compute.Router(
      `${name}-router`,
      {
        project: args.project,
        name: `${name}-router`,
        description: "Holds the Cloud NAT of the app's subnet.",
        network: network.id,
        region: args.region,
      },
      { parent: this },
    );

    const nat = new gcp.compute.RouterNat(
      `${name}-nat`,
      {
        project: args.project,
        name: `${name}-nat`,
        router: router.name,
        region: args.region,
        natIpAllocateOption: "AUTO_ONLY",
        sourceSubnetworkIpRangesToNat: "LIST_OF_SUBNETWORKS",
        subnetworks: [{ name: subnet.id, sourceIpRangesToNats: ["ALL_IP_RANGES"] }],
        logConfig: { enable: true, filter: "ERRORS_ONLY" },
      },
      { parent: this },
    );

    const target: FirewallTarget = args.appServiceAccountEmail
      ? { targetServiceAccounts: [args.appServiceAccountEmail] }
      : { targetTags: [this.appTag] };
    const rules = firewallRuleSpecs(target, args.allowLoadBalancer ?? false).map(
      (spec) =>
        new gcp.compute.Firewall(
          `${name}-${spec.suffix}`,
          {
            project: args.project,
            name: `${name}-${spec.suffix}`,
            description: spec.description,
            network: network.id,
            direction: "INGRESS",
            priority: spec.priority,
            sourceRanges: spec.sourceRanges,
            allows: spec.allows,
            denies: spec.denies,
            ...spec.target,
            logConfig: FIREWALL_LOG_CONFIG,
          },
          { parent: this },
        ),
    );

    this.networkSelfLink = network.selfLink;
    this.networkName = network.name;
    this.subnetSelfLink = subnet.selfLink;
    this.subnetName = subnet.name;
    this.routerName = router.name;
    this.natName = nat.name;
    this.firewallNames = rules.map((rule) => rule.name);
    this.registerOutputs({
      networkSelfLink: this.networkSelfLink,
      networkName: this.networkName,
      subnetSelfLink: this.subnetSelfLink,
      subnetName: this.subnetName,
      appTag: this.appTag,
      routerName: this.routerName,
      natName: this.natName,
      firewallNames: this.firewallNames,
    });
  }
}
