/**
 * The public entry point of a stage: a global external Application Load Balancer
 * (EXTERNAL_MANAGED) with reserved addresses, HTTPS on 443 with the stage's certificate map
 * and SSL policy, a 301 redirect on 80, a backend service on the VM's instance group with
 * a `/healthz` health check and request logging, and a Cloud Armor policy on the backend.
 */
import * as gcp from "./gcp";
import * as pulumi from "@pulumi/pulumi";

/** Lowest priority: the rule that applies when no other matches. */
export const DEFAULT_RULE_PRIORITY = 2147483647;
/** Cloud Armor accepts at most this many ranges in one `srcIpRanges` match. */
export const MAX_RANGES_PER_RULE = 10;
/** One year, the HSTS max-age browsers' preload lists and scanners ask for at least. */
export const HSTS_MAX_AGE_SECONDS = 31536000;

export interface LoadBalancerArgs {
  /** Self link of the instance group holding the VM (named port `http` on nginx's :80). */
  instanceGroup: pulumi.Input<string>;
  /** `certificateMap` of the target HTTPS proxy (see `Tls.certificateMap`). */
  certificateMap: pulumi.Input<string>;
  /** Self link of the SSL policy of the target HTTPS proxy. */
  sslPolicy: pulumi.Input<string>;
  /** Reserve an IPv6 address and listen on it too. @default true */
  ipv6?: boolean;
  /** Share of requests written to the access log, 0 to 1. @default 1 */
  logSampleRate?: number;
  /** Requests per minute one client IP may send before it gets 429s. @default 300 */
  rateLimitPerMinute?: number;
  /** Preconfigured Cloud Armor WAF rule sets to enforce, e.g. "sqli-v33-stable". @default [] */
  wafRules?: readonly string[];
  /** Client ranges always refused with 403 (CIDR). @default [] */
  denyList?: readonly string[];
  /** Seconds a request may take at the backend before the load balancer gives up. @default 30 */
  timeoutSec?: number;
  /** Seconds in-flight requests get when the VM leaves the group. @default 60 */
  drainingTimeoutSec?: number;
  /** Pulumi `protect` on the reserved addresses (DNS points at them). @default false */
  protect?: boolean;
  /** Labels of the labelable resources (addresses, forwarding rules, policy). @default {} */
  labels?: Record<string, string>;
}

/** The CEL expression of a preconfigured WAF rule set, at sensitivity 1 (fewest false hits). */
export function wafExpression(ruleSet: string): string {
  return `evaluatePreconfiguredWaf('${ruleSet}', {'sensitivity': 1})`;
}

/**
 * The Cloud Armor rules, in priority order. The first rule that matches decides, so:
 * the deny list (1000+), then the WAF rule sets (2000+), then the per-IP throttle (3000),
 * whose conforming requests are allowed, and the default allow. NOTE: the throttle must
 * come after the WAF rules: its "allow" for conforming requests would skip them.
 */
export function securityPolicyRules(args: {
  rateLimitPerMinute: number;
  wafRules: readonly string[];
  denyList: readonly string[];
}): gcp.types.input.compute.SecurityPolicyRule[] {
  const rules: gcp.types.input.compute.SecurityPolicyRule[] = [];
  for (let i = 0; i * MAX_RANGES_PER_RULE < args.denyList.length; i++) {
    rules.push({
      priority: 1000 + i,
      action: "deny(403)",
      description: "deny list (guincho:edge.denyList)",
      match: {
        versionedExpr: "SRC_IPS_V1",
        config: {
          srcIpRanges: args.denyList.slice(i * MAX_RANGES_PER_RULE, (i + 1) * MAX_RANGES_PER_RULE),
        },
      },
    });
  }
  args.wafRules.forEach((ruleSet, i) => {
    rules.push({
      priority: 2000 + i,
      action: "deny(403)",
      description: `preconfigured WAF rule set ${ruleSet}`,
      match: { expr: { expression: wafExpression(ruleSet) } },
    });
  });
  rules.push({
    priority: 3000,
    action: "throttle",
    description: `at most ${args.rateLimitPerMinute} requests per minute per client IP`,
    match: { versionedExpr: "SRC_IPS_V1", config: { srcIpRanges: ["*"] } },
    rateLimitOptions: {
      conformAction: "allow",
      exceedAction: "deny(429)",
      enforceOnKey: "IP",
      rateLimitThreshold: { count: args.rateLimitPerMinute, intervalSec: 60 },
    },
  });
  rules.push({
    priority: DEFAULT_RULE_PRIORITY,
    action: "allow",
    description: "default rule: allow what no rule above refused",
    match: { versionedExpr: "SRC_IPS_V1", config: { srcIpRanges: ["*"] } },
  });
  return rules;
}

/** HTTP Strict Transport Security for the stage's host and its subdomains, no preload. */
export function hstsHeader(maxAgeSeconds: number = HSTS_MAX_AGE_SECONDS): string {
  return `Strict-Transport-Security: max-age=${maxAgeSeconds}; includeSubDomains`;
}

export class LoadBalancer extends pulumi.ComponentResource {
  readonly ipv4Address: pulumi.Output<string>;
  /** The IPv6 address; undefined when `ipv6` is false. */
  readonly ipv6Address: pulumi.Output<string> | undefined;
  readonly backendServiceName: pulumi.Output<string>;
  readonly securityPolicyName: pulumi.Output<string>;

  constructor(name: string, args: LoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("guincho:loadBalancer:LoadBalancer", name, {}, opts);
    const logSampleRate = args.logSampleRate ?? 1;
    if (!(logSampleRate >= 0 && logSampleRate <= 1)) {
      throw new pulumi.ResourceError(
        `LoadBalancer ${name}: logSampleRate received ${logSampleRate}; expected a share ` +
          "from 0 to 1 (1 logs every request)",
        this,
      );
    }
    const rateLimitPerMinute = args.rateLimitPerMinute ?? 300;
    if (!Number.isInteger(rateLimitPerMinute) || rateLimitPerMinute < 1) {
      throw new pulumi.ResourceError(
        `LoadBalancer ${name}: rateLimitPerMinute received ${rateLimitPerMinute}; expected ` +
          "a whole number of requests per minute, 1 or more",
        this,
      );
    }
    if (logSampleRate === 0) {
      pulumi.log.warn(
        `LoadBalancer ${name}: logSampleRate is 0, so no request reaches the access log; the ` +
          "operators' reviews and Cloud Armor's decisions will have nothing to show",
        this,
      );
    }
    if ((args.wafRules ?? []).length === 0) {
      pulumi.log.warn(
        `LoadBalancer ${name}: no preconfigured WAF rule set is enforced (wafRules is empty); ` +
          'the public edge then only rate-limits. Consider at least "sqli-v33-stable" and ' +
          '"xss-v33-stable"',
        this,
      );
    }
    const labels = args.labels ?? {};
    const child = { parent: this };
    const kept = { parent: this, protect: args.protect ?? false };

    const policy = new gcp.compute.SecurityPolicy(
      `${name}-armor`,
      {
        type: "CLOUD_ARMOR",
        description: "Deny list, WAF rule sets and per-client rate limit of the public edge",
        rules: securityPolicyRules({
          rateLimitPerMinute,
          wafRules: args.wafRules ?? [],
          denyList: args.denyList ?? [],
        }),
        labels,
      },
      child,
    );
    const healthCheck = new gcp.compute.HealthCheck(
      `${name}-health`,
      {
        description: "nginx on the VM answers /healthz from the live app colour",
        checkIntervalSec: 10,
        timeoutSec: 5,
        healthyThreshold: 2,
        unhealthyThreshold: 3,
        httpHealthCheck: { port: 80, requestPath: "/healthz" },
      },
      child,
    );
    const backend = new gcp.compute.BackendService(
      `${name}-backend`,
      {
        description: "The app VM behind nginx",
        loadBalancingScheme: "EXTERNAL_MANAGED",
        protocol: "HTTP",
        portName: "http",
        timeoutSec: args.timeoutSec ?? 30,
        connectionDrainingTimeoutSec: args.drainingTimeoutSec ?? 60,
        healthChecks: healthCheck.id,
        backends: [{ group: args.instanceGroup, balancingMode: "UTILIZATION", capacityScaler: 1 }],
        securityPolicy: policy.selfLink,
        logConfig: { enable: true, sampleRate: logSampleRate },
        customResponseHeaders: [hstsHeader()],
      },
      child,
    );
    const httpsMap = new gcp.compute.URLMap(
      `${name}-https`,
      { description: "Every HTTPS request goes to the app", defaultService: backend.id },
      child,
    );
    const httpsProxy = new gcp.compute.TargetHttpsProxy(
      `${name}-https-proxy`,
      { urlMap: httpsMap.id, certificateMap: args.certificateMap, sslPolicy: args.sslPolicy },
      child,
    );
    const redirectMap = new gcp.compute.URLMap(
      `${name}-redirect`,
      {
        description: "Plain HTTP: 301 to the same URL over HTTPS",
        defaultUrlRedirect: {
          httpsRedirect: true,
          redirectResponseCode: "MOVED_PERMANENTLY_DEFAULT",
          stripQuery: false,
        },
      },
      child,
    );
    const httpProxy = new gcp.compute.TargetHttpProxy(
      `${name}-http-proxy`,
      { urlMap: redirectMap.id },
      child,
    );

    const versions = args.ipv6 === false ? ["v4"] : ["v4", "v6"];
    const addresses: Record<string, gcp.compute.GlobalAddress> = {};
    for (const version of versions) {
      const address = new gcp.compute.GlobalAddress(
        `${name}-ip${version}`,
        {
          description: `Public ${version === "v4" ? "IPv4" : "IPv6"} address of the stage`,
          addressType: "EXTERNAL",
          ipVersion: version === "v4" ? "IPV4" : "IPV6",
          labels,
        },
        kept,
      );
      addresses[version] = address;
      for (const [port, target] of [
        ["443", httpsProxy.id],
        ["80", httpProxy.id],
      ] as const) {
        new gcp.compute.GlobalForwardingRule(
          `${name}-${port === "443" ? "https" : "http"}-${version}`,
          {
            description: `${port === "443" ? "HTTPS" : "HTTP redirect"} on ${version}`,
            loadBalancingScheme: "EXTERNAL_MANAGED",
            ipProtocol: "TCP",
            ipAddress: address.address,
            portRange: port,
            target,
            labels,
          },
          child,
        );
      }
    }

    this.ipv4Address = addresses.v4.address;
    this.ipv6Address = addresses.v6?.address;
    this.backendServiceName = backend.name;
    this.securityPolicyName = policy.name;
    this.registerOutputs({
      ipv4Address: this.ipv4Address,
      ipv6Address: this.ipv6Address,
      backendServiceName: this.backendServiceName,
      securityPolicyName: this.securityPolicyName,
    });
  }
}
