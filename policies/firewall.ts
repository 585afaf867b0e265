/**
 * VPC firewall rules: nothing sensitive open to the whole internet. An allow rule is an
 * exposure only when it is enabled, ingress, and reaches the internet; a missing source list
 * means every source (Google Cloud's default), and `::/0` counts as much as `0.0.0.0/0`.
 */
import * as compute from "@pulumi/gcp/compute";
import {
  validateResourceOfType,
  type ReportViolation,
  type ResourceValidationArgs,
  type ResourceValidationPolicy,
  type PolicyConfigSchema,
} from "@pulumi/policy";
import { configOf, arrayOf, describe, objectOf, quote } from "./util";

/** The part of a Firewall the rules read. */
export interface FirewallProps {
  allows?: unknown;
  denies?: unknown;
  direction?: unknown;
  disabled?: unknown;
  sourceRanges?: unknown;
  sourceTags?: unknown;
  sourceServiceAccounts?: unknown;
  logConfig?: unknown;
  enableLogging?: unknown;
}

/** An inclusive port range; protocol "all" and a protocol without ports span 0-65535. */
interface PortRange {
  from: number;
  to: number;
}

const ALL_PORTS: PortRange = { from: 0, to: 65535 };

/** IANA numbers Google Cloud accepts in place of protocol names. */
const PROTOCOL_NUMBERS: Record<string, string> = { "6": "tcp", "17": "udp", "132": "sctp" };

/** A source range of prefix length 0 is the whole internet, however the address is written. */
export function isWholeInternet(range: unknown): boolean {
  return typeof range === "string" && /^[0-9a-fA-F.:]*\/0$/.test(range.trim());
}

/**
 * The source ranges through which an ingress rule reaches the internet. With no source
 * ranges, tags or service accounts, Google Cloud applies the rule to 0.0.0.0/0.
 */
export function internetSources(props: FirewallProps): string[] | undefined {
  const ranges = arrayOf(props.sourceRanges);
  const tags = arrayOf(props.sourceTags);
  const accounts = arrayOf(props.sourceServiceAccounts);
  if (ranges.length === 0 && tags.length === 0 && accounts.length === 0) {
    return [];
  }
  const open = ranges.filter(isWholeInternet).map(String);
  return open.length > 0 ? open : undefined;
}

/** Parses "22", "20-30" or 22 into a range; anything else is ignored. */
export function parsePortRange(port: unknown): PortRange | undefined {
  const text = typeof port === "number" ? String(port) : typeof port === "string" ? port : "";
  const match = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(text);
  if (!match) {
    return undefined;
  }
  const from = Number(match[1]);
  const to = match[2] === undefined ? from : Number(match[2]);
  return { from: Math.min(from, to), to: Math.max(from, to) };
}

/** One allow entry's protocol (lower case, numbers named) and the port ranges it opens. */
export function openedPorts(allow: unknown): { protocol: string; ranges: PortRange[] } {
  const entry = objectOf(allow);
  const raw = String(entry.protocol ?? "").toLowerCase();
  const protocol = PROTOCOL_NUMBERS[raw] ?? raw;
  const ports = arrayOf(entry.ports);
  if (protocol === "all" || ports.length === 0) {
    return { protocol, ranges: [ALL_PORTS] };
  }
  const ranges = ports.map(parsePortRange).filter((r): r is PortRange => r !== undefined);
  return { protocol, ranges };
}

/** Whether an allow entry opens `port` for one of `protocols` ("all" opens every protocol). */
export function opensPort(allow: unknown, protocols: string[], port: number): boolean {
  const { protocol, ranges } = openedPorts(allow);
  const protocolMatches = protocol === "all" || protocols.includes(protocol);
  return protocolMatches && ranges.some((r) => r.from <= port && port <= r.to);
}

/**
 * The internet exposure of a firewall rule, or undefined when it has none: a disabled rule,
 * an egress rule, a deny rule and a rule from known sources expose nothing.
 */
export function exposure(
  props: FirewallProps,
): { sources: string[]; allows: unknown[] } | undefined {
  if (props.disabled === true) {
    return undefined;
  }
  const direction = typeof props.direction === "string" ? props.direction.toUpperCase() : "";
  if (direction === "EGRESS") {
    return undefined;
  }
  const allows = arrayOf(props.allows);
  const sources = internetSources(props);
  if (allows.length === 0 || sources === undefined) {
    return undefined;
  }
  return { sources, allows };
}

function sourceText(sources: string[]): string {
  return sources.length === 0
    ? "no source ranges, tags or service accounts (Google Cloud then allows every source)"
    : `sourceRanges ${quote(sources)}`;
}

type FirewallCheck = (
  props: FirewallProps,
  args: ResourceValidationArgs,
  report: ReportViolation,
) => void;

function onFirewalls(check: FirewallCheck) {
  return validateResourceOfType(compute.Firewall, (p, a, r) => check(p as FirewallProps, a, r));
}

/** A rule that forbids one port from the internet. */
function portRule(
  name: string,
  service: string,
  protocols: string[],
  port: number,
  fix: string,
): ResourceValidationPolicy {
  return {
    name,
    description: `Firewall rules must not allow ${service} (${protocols.join("/")} ${port}) from the whole internet.`,
    enforcementLevel: "mandatory",
    validateResource: onFirewalls((props, args, report) => {
      const open = exposure(props);
      const culprit = open?.allows.find((a) => opensPort(a, protocols, port));
      if (open && culprit !== undefined) {
        report(
          `${describe(args)} allows ${service} (port ${port}) from the whole internet: ` +
            `${sourceText(open.sources)}, allow ${quote(culprit)}. ${fix}`,
        );
      }
    }),
  };
}

export const noInternetSsh = portRule(
  "firewall-no-internet-ssh",
  "SSH",
  ["tcp"],
  22,
  "Allow SSH only from IAP's range 35.235.240.0/20 and connect with `gcloud compute ssh --tunnel-through-iap`.",
);

export const noInternetRdp = portRule(
  "firewall-no-internet-rdp",
  "RDP",
  ["tcp", "udp"],
  3389,
  "Allow RDP only from IAP's range 35.235.240.0/20, or remove the rule.",
);

interface DatabasePortsConfig {
  databasePorts: number[];
}

const DATABASE_PORTS_SCHEMA: PolicyConfigSchema = {
  properties: {
    databasePorts: {
      type: "array",
      items: { type: "integer" },
      // MySQL, PostgreSQL, SQL Server, Oracle, MongoDB, Redis, Elasticsearch, Cassandra,
      // CouchDB, Memcached.
      default: [3306, 5432, 1433, 1521, 27017, 6379, 9200, 9042, 5984, 11211],
    },
  },
};

export const noInternetDatabasePorts: ResourceValidationPolicy = {
  name: "firewall-no-internet-database-ports",
  description: "Firewall rules must not open database and cache ports to the whole internet.",
  enforcementLevel: "mandatory",
  configSchema: DATABASE_PORTS_SCHEMA,
  validateResource: onFirewalls((props, args, report) => {
    const open = exposure(props);
    if (!open) {
      return;
    }
    const { databasePorts } = configOf<DatabasePortsConfig>(DATABASE_PORTS_SCHEMA, args);
    for (const allow of open.allows) {
      const hit = databasePorts.filter((p) => opensPort(allow, ["tcp", "udp"], p));
      if (hit.length > 0) {
        report(
          `${describe(args)} opens database port(s) ${hit.join(", ")} to the whole internet: ` +
            `${sourceText(open.sources)}, allow ${quote(allow)}. Keep databases private; ` +
            "reach them from inside the VPC or through IAP.",
        );
      }
    }
  }),
};

interface WideRangeConfig {
  maxPortsPerRange: number;
}

const WIDE_RANGE_SCHEMA: PolicyConfigSchema = {
  properties: { maxPortsPerRange: { type: "integer", minimum: 1, default: 30 } },
};

export const noInternetWidePortRanges: ResourceValidationPolicy = {
  name: "firewall-no-internet-wide-port-ranges",
  description:
    "Firewall rules from the whole internet must not open all ports, all protocols or wide port ranges.",
  enforcementLevel: "mandatory",
  configSchema: WIDE_RANGE_SCHEMA,
  validateResource: onFirewalls((props, args, report) => {
    const open = exposure(props);
    if (!open) {
      return;
    }
    const { maxPortsPerRange } = configOf<WideRangeConfig>(WIDE_RANGE_SCHEMA, args);
    for (const allow of open.allows) {
      const { ranges } = openedPorts(allow);
      const widest = Math.max(...ranges.map((r) => r.to - r.from + 1), 0);
      if (widest > maxPortsPerRange) {
        report(
          `${describe(args)} opens ${widest} ports at once to the whole internet: ` +
            `${sourceText(open.sources)}, allow ${quote(allow)}. Open only the ports the ` +
            `service listens on (at most ${maxPortsPerRange} in one range).`,
        );
      }
    }
  }),
};

export const firewallLogging: ResourceValidationPolicy = {
  name: "firewall-logging",
  description: "Enabled firewall rules should log connections (logConfig) for incident review.",
  enforcementLevel: "advisory",
  validateResource: onFirewalls((props, args, report) => {
    const logged = props.logConfig !== undefined || props.enableLogging === true;
    if (props.disabled !== true && !logged) {
      report(
        `${describe(args)} does not log connections: logConfig is not set. Set logConfig ` +
          '{ metadata: "INCLUDE_ALL_METADATA" } (or "EXCLUDE_ALL_METADATA" to save cost).',
      );
    }
  }),
};

/** The firewall rules, in the order the docs list them. */
export const firewallPolicies: ResourceValidationPolicy[] = [
  noInternetSsh,
  noInternetRdp,
  noInternetDatabasePorts,
  noInternetWidePortRanges,
  firewallLogging,
];
