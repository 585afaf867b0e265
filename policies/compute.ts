/**
 * Compute Engine rules: the VM and its templates. CIS GCP Foundations section 4, with the
 * guest environment's reading of metadata flags ("TRUE", "True", "1" all mean true).
 */
import * as compute from "@pulumi/gcp/compute";
import {
  validateResourceOfType,
  type ReportViolation,
  type ResourceValidation,
  type ResourceValidationArgs,
  type ResourceValidationPolicy,
  type PolicyConfigSchema,
} from "@pulumi/policy";
import { configOf, arrayOf, describe, lastSegment, metadataFlag, objectOf, quote } from "./util";

/** The part of an Instance, InstanceTemplate or RegionInstanceTemplate the rules read. */
export interface VmProps {
  machineType?: unknown;
  metadata?: unknown;
  metadataStartupScript?: unknown;
  serviceAccount?: unknown;
  shieldedInstanceConfig?: unknown;
  networkInterfaces?: unknown;
  canIpForward?: unknown;
}

type VmCheck = (props: VmProps, args: ResourceValidationArgs, report: ReportViolation) => void;

/** The same check on VMs and on both kinds of template a VM can be made from. */
export function onVms(check: VmCheck): ResourceValidation[] {
  return [
    validateResourceOfType(compute.Instance, (p, a, r) => check(p as VmProps, a, r)),
    validateResourceOfType(compute.InstanceTemplate, (p, a, r) => check(p as VmProps, a, r)),
    validateResourceOfType(compute.RegionInstanceTemplate, (p, a, r) => check(p as VmProps, a, r)),
  ];
}

const CLOUD_PLATFORM_SCOPES = new Set([
  "cloud-platform",
  "https://www.googleapis.com/auth/cloud-platform",
]);

/**
 * The default Compute Engine service account is in use when the email is the
 * `<number>-compute@developer.gserviceaccount.com` account, the word "default", or when a
 * serviceAccount block is given without an email (the provider then attaches the default).
 * Returns the email as written (or "" for a missing one), or undefined when not default.
 */
export function defaultServiceAccount(serviceAccount: unknown): string | undefined {
  if (serviceAccount === undefined || serviceAccount === null) {
    return undefined;
  }
  const email = objectOf(serviceAccount).email;
  if (email === undefined || email === null || email === "" || email === "default") {
    return typeof email === "string" ? email : "";
  }
  return typeof email === "string" && /-compute@developer\.gserviceaccount\.com$/.test(email)
    ? email
    : undefined;
}

function defaultAccountLabel(email: string): string {
  return email === "" ? "no email (the provider attaches the default account)" : quote(email);
}

export const noDefaultServiceAccount: ResourceValidationPolicy = {
  name: "compute-no-default-service-account",
  description:
    "VMs must not run as the default Compute Engine service account (Editor on the project).",
  enforcementLevel: "mandatory",
  validateResource: onVms((props, args, report) => {
    const email = defaultServiceAccount(props.serviceAccount);
    if (email !== undefined) {
      report(
        `${describe(args)} uses the default Compute Engine service account: serviceAccount.email ` +
          `is ${defaultAccountLabel(email)}. Set serviceAccount.email to a dedicated service ` +
          "account that holds only the roles the app needs.",
      );
    }
  }),
};

export const noFullApiAccess: ResourceValidationPolicy = {
  name: "compute-no-full-api-access",
  description:
    "VMs on the default service account must not have the cloud-platform (all APIs) scope.",
  enforcementLevel: "mandatory",
  validateResource: onVms((props, args, report) => {
    const email = defaultServiceAccount(props.serviceAccount);
    const scopes = arrayOf(objectOf(props.serviceAccount).scopes);
    const broad = scopes.find((s) => typeof s === "string" && CLOUD_PLATFORM_SCOPES.has(s));
    if (email !== undefined && broad !== undefined) {
      report(
        `${describe(args)} gives the default service account full access to all Cloud APIs ` +
          `(scope ${quote(broad)}). Use a dedicated service account, or list only the scopes ` +
          "the VM needs.",
      );
    }
  }),
};

export const osLogin: ResourceValidationPolicy = {
  name: "compute-os-login",
  description: "VMs must enable OS Login (metadata enable-oslogin), so SSH access is IAM-bound.",
  enforcementLevel: "mandatory",
  validateResource: onVms((props, args, report) => {
    if (metadataFlag(props.metadata, "enable-oslogin") !== true) {
      const value = objectOf(props.metadata)["enable-oslogin"];
      report(
        `${describe(args)} does not enable OS Login: metadata "enable-oslogin" is ` +
          `${quote(value)}. Set metadata "enable-oslogin" to "TRUE".`,
      );
    }
  }),
};

export const blockProjectSshKeys: ResourceValidationPolicy = {
  name: "compute-block-project-ssh-keys",
  description:
    "VMs must not accept project-wide SSH keys: block them, or enable OS Login (which ignores them).",
  enforcementLevel: "mandatory",
  validateResource: onVms((props, args, report) => {
    const blocked = metadataFlag(props.metadata, "block-project-ssh-keys") === true;
    const osLoginOn = metadataFlag(props.metadata, "enable-oslogin") === true;
    if (!blocked && !osLoginOn) {
      const value = objectOf(props.metadata)["block-project-ssh-keys"];
      report(
        `${describe(args)} accepts project-wide SSH keys: metadata "block-project-ssh-keys" is ` +
          `${quote(value)} and OS Login is off. Set metadata "block-project-ssh-keys" to "TRUE" ` +
          '(or "enable-oslogin" to "TRUE").',
      );
    }
  }),
};

export const noSerialPort: ResourceValidationPolicy = {
  name: "compute-no-serial-port",
  description: "VMs must not enable the interactive serial console (metadata serial-port-enable).",
  enforcementLevel: "mandatory",
  validateResource: onVms((props, args, report) => {
    if (metadataFlag(props.metadata, "serial-port-enable") === true) {
      const value = objectOf(props.metadata)["serial-port-enable"];
      report(
        `${describe(args)} enables the interactive serial console: metadata ` +
          `"serial-port-enable" is ${quote(value)}. Remove it or set it to "FALSE"; use IAP SSH.`,
      );
    }
  }),
};

export const noIpForwarding: ResourceValidationPolicy = {
  name: "compute-no-ip-forwarding",
  description: "VMs must not forward packets for other addresses (canIpForward).",
  enforcementLevel: "mandatory",
  validateResource: onVms((props, args, report) => {
    if (props.canIpForward === true) {
      report(
        `${describe(args)} has canIpForward ${quote(props.canIpForward)}. Set canIpForward to ` +
          "false; egress goes through Cloud NAT.",
      );
    }
  }),
};

/** What is missing from a Shielded VM config, given Google's defaults (secure boot off). */
export function shieldedGaps(config: unknown): string[] {
  const c = objectOf(config);
  const gaps: string[] = [];
  if (c.enableSecureBoot !== true) {
    gaps.push(`enableSecureBoot is ${quote(c.enableSecureBoot)} (default off)`);
  }
  if (c.enableVtpm === false) {
    gaps.push("enableVtpm is false");
  }
  if (c.enableIntegrityMonitoring === false) {
    gaps.push("enableIntegrityMonitoring is false");
  }
  return gaps;
}

export const shieldedVm: ResourceValidationPolicy = {
  name: "compute-shielded-vm",
  description: "VMs must be Shielded VMs with secure boot, vTPM and integrity monitoring on.",
  enforcementLevel: "mandatory",
  validateResource: onVms((props, args, report) => {
    const gaps = shieldedGaps(props.shieldedInstanceConfig);
    if (gaps.length > 0) {
      report(
        `${describe(args)} is not a fully Shielded VM: shieldedInstanceConfig.${gaps.join(", ")}. ` +
          "Set shieldedInstanceConfig { enableSecureBoot: true, enableVtpm: true, " +
          "enableIntegrityMonitoring: true }.",
      );
    }
  }),
};

export const noPublicIp: ResourceValidationPolicy = {
  name: "compute-no-public-ip",
  description: "VMs must not have an external IP address; traffic comes through the load balancer.",
  enforcementLevel: "mandatory",
  validateResource: onVms((props, args, report) => {
    arrayOf(props.networkInterfaces).forEach((nic, i) => {
      for (const key of ["accessConfigs", "ipv6AccessConfigs"]) {
        if (arrayOf(objectOf(nic)[key]).length > 0) {
          report(
            `${describe(args)} has an external IP: networkInterfaces[${i}].${key} is ` +
              `${quote(objectOf(nic)[key])}. Remove ${key}; reach the VM through the load ` +
              "balancer and SSH through IAP, with Cloud NAT for egress.",
          );
        }
      }
    });
  }),
};

interface MachineTypeConfig {
  allowedMachineTypes: string[];
}

const MACHINE_TYPES_SCHEMA: PolicyConfigSchema = {
  properties: {
    allowedMachineTypes: {
      type: "array",
      items: { type: "string" },
      default: ["e2-small", "e2-medium", "e2-standard-2", "e2-standard-4"],
    },
  },
};

export const allowedMachineTypes: ResourceValidationPolicy = {
  name: "compute-allowed-machine-types",
  description: "VMs must use a machine type allowed for the stage (cost and capacity control).",
  enforcementLevel: "mandatory",
  configSchema: MACHINE_TYPES_SCHEMA,
  validateResource: onVms((props, args, report) => {
    const { allowedMachineTypes: allowed } = configOf<MachineTypeConfig>(
      MACHINE_TYPES_SCHEMA,
      args,
    );
    const machineType = typeof props.machineType === "string" ? props.machineType : undefined;
    if (machineType === undefined || !allowed.includes(lastSegment(machineType))) {
      report(
        `${describe(args)} uses machine type ${quote(props.machineType)}, which this stage ` +
          `does not allow. Use one of: ${allowed.join(", ")}.`,
      );
    }
  }),
};

/** The Compute Engine rules, in the order the docs list them. */
export const computePolicies: ResourceValidationPolicy[] = [
  noDefaultServiceAccount,
  noFullApiAccess,
  osLogin,
  blockProjectSshKeys,
  noSerialPort,
  noIpForwarding,
  shieldedVm,
  noPublicIp,
  allowedMachineTypes,
];
