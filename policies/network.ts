/**
 * VPC networks and subnets: custom subnets, flow logs and Private Google Access. Proxy-only
 * subnets carry no VMs, so flow logs and Private Google Access do not apply to them.
 */
import * as compute from "@pulumi/gcp/compute";
import { validateResourceOfType, type ResourceValidationPolicy } from "@pulumi/policy";
import { describe, objectOf, quote } from "./util";

/** Subnet purposes reserved for Google's proxies: no VMs, no flow logs, no PGA. */
export const PROXY_ONLY_PURPOSES = new Set([
  "REGIONAL_MANAGED_PROXY",
  "GLOBAL_MANAGED_PROXY",
  "INTERNAL_HTTPS_LOAD_BALANCER",
]);

function isProxyOnly(purpose: unknown): boolean {
  return typeof purpose === "string" && PROXY_ONLY_PURPOSES.has(purpose.toUpperCase());
}

export const noAutoSubnets: ResourceValidationPolicy = {
  name: "network-no-auto-subnets",
  description:
    "VPC networks should be custom mode; auto mode creates a subnet in every region (the default).",
  enforcementLevel: "advisory",
  validateResource: validateResourceOfType(compute.Network, (network, args, report) => {
    if (network.autoCreateSubnetworks !== false) {
      report(
        `${describe(args)} creates a subnet in every region: autoCreateSubnetworks is ` +
          `${quote(network.autoCreateSubnetworks)} (default true). Set autoCreateSubnetworks ` +
          "to false and declare the one subnet the system needs.",
      );
    }
  }),
};

export const subnetFlowLogs: ResourceValidationPolicy = {
  name: "subnet-flow-logs",
  description: "Subnets that hold VMs must record VPC flow logs (off unless logConfig is set).",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(compute.Subnetwork, (subnet, args, report) => {
    if (isProxyOnly(subnet.purpose)) {
      return;
    }
    const logConfig = subnet.logConfig;
    if (logConfig === undefined || logConfig === null) {
      report(
        `${describe(args)} records no flow logs: logConfig is not set. Set logConfig ` +
          '{ aggregationInterval: "INTERVAL_5_SEC", flowSampling: 0.5, metadata: ' +
          '"INCLUDE_ALL_METADATA" }.',
      );
    } else if (objectOf(logConfig).flowSampling === 0) {
      report(
        `${describe(args)} samples no flows: logConfig.flowSampling is 0. Set flowSampling ` +
          "above 0 (0.5 keeps half the flows).",
      );
    }
  }),
};

export const subnetPrivateGoogleAccess: ResourceValidationPolicy = {
  name: "subnet-private-google-access",
  description:
    "Subnets that hold VMs should enable Private Google Access, so VMs without a public IP reach Google APIs.",
  enforcementLevel: "advisory",
  validateResource: validateResourceOfType(compute.Subnetwork, (subnet, args, report) => {
    if (!isProxyOnly(subnet.purpose) && subnet.privateIpGoogleAccess !== true) {
      report(
        `${describe(args)} has privateIpGoogleAccess ${quote(subnet.privateIpGoogleAccess)}. ` +
          "Set privateIpGoogleAccess to true so the VM reaches Cloud Storage, Logging and " +
          "Monitoring without a public IP.",
      );
    }
  }),
};

/** The network rules, in the order the docs list them. */
export const networkPolicies: ResourceValidationPolicy[] = [
  noAutoSubnets,
  subnetFlowLogs,
  subnetPrivateGoogleAccess,
];
