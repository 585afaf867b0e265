/**
 * The one typed, validated model of a stage.
 *
 * `loadStageConfig` reads the project's config namespace once, validates every key against
 * `StageConfigSchema` and reports every problem at once, one per line, naming the full key
 * (`guincho:server.machineType`), the value received and what is allowed. Components never
 * read config: `index.ts` passes them plain values from the `StageConfig` returned here.
 * Settings derived from the stage (protection in prod, names, labels) live here too, in
 * `deriveStage`, so there is exactly one place that decides them.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";

/** The Pulumi project name, and so the namespace of every config key (`guincho:<key>`). */
export const PROJECT = "guincho";

export const STAGES = ["dev", "staging", "prod"] as const;
export type Stage = (typeof STAGES)[number];

/**
 * Stands in for `secure:` values, which the offline plan cannot decrypt. Schemas of keys that
 * may hold secrets accept it, so a plan never fails for want of a key it cannot read.
 */
export const OFFLINE_SECRET_PLACEHOLDER = "[secret: not decrypted by the offline plan]";

/** Google Cloud regions a stage may use; zones are `<region>-<a|b|c|d|f>` as listed. */
export const REGION_ZONES: Readonly<Record<string, readonly string[]>> = {
  "southamerica-east1": ["a", "b", "c"],
  "southamerica-west1": ["a", "b", "c"],
  "us-east1": ["b", "c", "d"],
  "us-central1": ["a", "b", "c", "f"],
  "us-west1": ["a", "b", "c"],
  "europe-west1": ["b", "c", "d"],
  "europe-west3": ["a", "b", "c"],
};

/** Preconfigured Cloud Armor WAF rule sets a stage may enable (`evaluatePreconfiguredWaf`). */
export const WAF_RULE_SETS = [
  "sqli-v33-stable",
  "xss-v33-stable",
  "lfi-v33-stable",
  "rfi-v33-stable",
  "rce-v33-stable",
  "methodenforcement-v33-stable",
  "scannerdetection-v33-stable",
  "protocolattack-v33-stable",
  "sessionfixation-v33-stable",
  "php-v33-stable",
] as const;

export const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] as const;
export type Day = (typeof DAYS)[number];

// ---------------------------------------------------------------------------------------
// Field types, each with the message a user reads when the value is wrong.

const hhmm = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'expected a time "HH:MM" on a 24-hour clock' });

const weekdayTime = z.string().regex(/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([01]\d|2[0-3]):[0-5]\d$/, {
  error: 'expected a weekday and time like "Sun 03:30" (Mon, Tue, Wed, Thu, Fri, Sat or Sun)',
});

const WINDOW_PATTERN =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$/;

const email = z.email({ error: "expected an e-mail address like ana@guincholacerda.com.br" });

const member = z.string().regex(/^(user:|group:)?[^@\s:]+@[^@\s]+\.[a-z]{2,}$/i, {
  error: 'expected an e-mail address, optionally prefixed "user:" or "group:"',
});

const domainName = z
  .string()
  .regex(/^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, {
    error: "expected a lower-case DNS domain like guincholacerda.com.br, without a trailing dot",
  });

const dnsLabel = z.string().regex(/^(@|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)$/, {
  error: 'expected one DNS label (letters, digits, hyphens) or "@" for the zone apex',
});

function isIpv4Cidr(value: string): boolean {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value);
  if (!match) {
    return false;
  }
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  if (octets.some((o) => o > 255) || prefix > 32) {
    return false;
  }
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  return address % 2 ** (32 - prefix) === 0;
}

const cidr = z.string().refine(isIpv4Cidr, {
  error: "expected an IPv4 network in CIDR form with no host bits set, like 10.20.0.0/24",
  // A malformed range gets this one message, not also the checks that refine it further.
  abort: true,
});

const privateCidr = cidr.refine(
  (value) => /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(value),
  { error: "expected a private (RFC 1918) range: 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16" },
);

/** The prefix length of a CIDR range already checked by `cidr`. */
const prefixLength = (value: string) => Number(value.split("/")[1]);

const percent = (min: number, max: number) => z.number().min(min).max(max);

function secretOr<T extends z.ZodType>(inner: T) {
  return z.union([inner, z.literal(OFFLINE_SECRET_PLACEHOLDER)]);
}

// ---------------------------------------------------------------------------------------
// The schema of a stage's config. Every key carries its description (used for Pulumi.yaml
// and the JSON Schema editors read) and, where one makes sense, a default.

const ContactSchema = z.strictObject({
  name: z.string().min(2).describe("Person's name, as the handbook's contact list shows it."),
  email: email.describe("Where this person's alerts and reports go."),
  role: z
    .enum(["on-call", "owner", "developer", "support"])
    .describe("on-call people get alerts; owners get alerts and reports; others are listed only."),
  phone: z
    .string()
    .regex(/^\+[1-9]\d{7,14}$/, { error: "expected an E.164 phone number like +5511987654321" })
    .optional()
    .describe("E.164 phone number for SMS alerts (on-call only)."),
});

// Names relative to a zone: "@", "www", "_dmarc", "_sip._tcp", "*.files"...
const zoneLabel = "[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?";
const relativeName = z.string().regex(new RegExp(`^(@|(\\*\\.)?${zoneLabel}(\\.${zoneLabel})*)$`), {
  error:
    'expected a name relative to the zone ("@" for the apex, "www", "_dmarc", "_sip._tcp"), ' +
    "lower case, without the zone and without a trailing dot",
});

const ExtraRecordSchema = z.strictObject({
  name: relativeName.describe('Record name relative to the zone, "@" for the apex.'),
  type: z
    .enum(["MX", "TXT", "CNAME", "SRV", "A", "AAAA", "CAA", "NS", "DS"])
    .describe("Record type; NS and DS delegate a subzone (staging's) to another project."),
  ttl: z.number().int().min(60).max(86400).default(3600),
  rrdatas: z.array(z.string().min(1)).min(1),
});

export const StageConfigSchema = z.strictObject({
  gcpProject: z
    .string()
    .regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, {
      error: "expected a Google Cloud project id: 6-30 lower-case letters, digits or hyphens",
    })
    .describe("Google Cloud project id of this stage (one project per stage)."),
  region: z
    .string()
    .default("southamerica-east1")
    .describe("Google Cloud region of every regional resource."),
  zone: z
    .string()
    .default("southamerica-east1-b")
    .describe("Zone of the VM and its data disk; must be in the region."),
  timeZone: z
    .string()
    .default("America/Sao_Paulo")
    .describe("IANA time zone of schedules: backups, snapshots, reports, patch windows."),
  domain: domainName.describe("The company's DNS domain; stage hostnames live under it."),
  labels: z
    .record(
      z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, { error: "expected a GCP label key" }),
      z.string().regex(/^[a-z0-9_-]{0,63}$/, { error: "expected a GCP label value" }),
    )
    .default({})
    .describe("Extra labels on every labelable resource (app, stage, managed-by are added)."),
  admins: z
    .array(member)
    .min(1, { error: "expected at least one administrator" })
    .describe("People or groups who may open IAP tunnels and log in as OS admins."),
  contacts: z
    .array(ContactSchema)
    .min(1, { error: "expected at least one contact" })
    .describe("Who is notified and who is listed in the handbook's contact list."),
  github: z
    .strictObject({
      repository: z
        .string()
        .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, { error: 'expected "owner/name"' })
        .describe("GitHub repository whose workflows may deploy this stage (keyless, WIF)."),
      environment: z
        .string()
        .min(1)
        .optional()
        .describe("GitHub environment the deploy job must run in (prod: one with reviewers)."),
    })
    .describe("The CI identity: Workload Identity Federation for this repository."),
  network: z
    .strictObject({
      subnetCidr: privateCidr
        .refine((value) => prefixLength(value) >= 8 && prefixLength(value) <= 29, {
          error: "expected a prefix length from /8 to /29 (Google Cloud's subnet sizes)",
        })
        .default("10.20.0.0/24")
        .describe("Range of the VM's subnet: private (RFC 1918), /8 to /29."),
      flowLogSampling: z
        .number()
        .gt(0)
        .max(1)
        .default(0.5)
        .describe("Share of flows logged, above 0 and at most 1."),
    })
    .prefault({})
    .describe("The VPC: one custom subnet, Cloud NAT for egress."),
  server: z
    .strictObject({
      machineType: z
        .string()
        .regex(/^(e2|n2|n2d|t2d|n4|c3)-(micro|small|medium|(standard|highmem|highcpu)-\d{1,2})$/, {
          error: "expected a Compute Engine machine type such as e2-small or e2-standard-2",
        })
        .describe("Compute Engine machine type of the VM."),
      bootDiskGb: z.number().int().min(10).max(200).default(20).describe("Boot disk size."),
      dataDiskGb: z
        .number()
        .int()
        .min(10)
        .max(1024)
        .default(20)
        .describe("Size of the persistent disk holding the SQLite database."),
      dataDiskType: z
        .enum(["pd-balanced", "pd-ssd", "pd-standard"])
        .default("pd-balanced")
        .describe("Persistent disk type of the data disk (pd-standard is cheapest)."),
      snapshotRetentionDays: z
        .number()
        .int()
        .min(1)
        .max(365)
        .default(14)
        .describe("Days the daily data-disk snapshots are kept."),
      snapshotAt: z
        .enum(["00:00", "04:00", "08:00", "12:00", "16:00", "20:00"])
        .default("04:00")
        .describe("Daily snapshot time, UTC: GCE daily schedules start at one of these hours."),
    })
    .describe("The VM that runs the app."),
  sheets: z
    .strictObject({
      spreadsheetId: z
        .string()
        .regex(/^[A-Za-z0-9_-]{20,100}$/, { error: "expected a Google Sheets spreadsheet id" })
        .describe("The spreadsheet the app syncs with (share it with the app's account)."),
      readRequestsPerMinute: z
        .number()
        .int()
        .min(1)
        .max(300)
        .default(60)
        .describe("Cap on Sheets API reads per minute (Google's project limit is 300)."),
      writeRequestsPerMinute: z
        .number()
        .int()
        .min(1)
        .max(300)
        .default(60)
        .describe("Cap on Sheets API writes per minute (Google's project limit is 300)."),
    })
    .describe("The Google Sheets integration."),
  edge: z
    .strictObject({
      enabled: z.boolean().default(true).describe("Deploy the HTTPS load balancer (public)."),
      hostname: dnsLabel.describe('Host name under the domain, e.g. "app" or "staging".'),
      existingZone: z
        .string()
        .regex(/^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/, { error: "expected a Cloud DNS zone name" })
        .optional()
        .describe("Use this existing Cloud DNS zone instead of creating one."),
      zoneDomain: domainName
        .optional()
        .describe(
          "DNS name of the zone this stage creates or uses: the domain (default), or a " +
            "subdomain delegated to this stage's project, such as staging.<domain>.",
        ),
      ipv6: z.boolean().default(true).describe("Reserve an IPv6 address and publish AAAA."),
      sslProfile: z
        .enum(["MODERN", "RESTRICTED"])
        .default("MODERN")
        .describe("TLS cipher profile of the load balancer (TLS 1.2 minimum either way)."),
      logSampleRate: percent(0, 1).default(1).describe("Share of requests logged, 0 to 1."),
      rateLimitPerMinute: z
        .number()
        .int()
        .min(10)
        .max(10000)
        .default(300)
        .describe("Requests per minute one client IP may send before Cloud Armor throttles it."),
      wafRules: z
        .array(z.enum(WAF_RULE_SETS))
        .default([])
        .describe("Preconfigured Cloud Armor WAF rule sets to enforce."),
      denyList: z.array(cidr).default([]).describe("Client ranges always refused (403)."),
      extraRecords: z
        .array(ExtraRecordSchema)
        .default([])
        .describe("Other records of the zone (MX, TXT...), so it can be the company's only one."),
    })
    .describe("DNS, TLS certificate and the HTTPS load balancer."),
  backup: z
    .strictObject({
      retentionDays: z
        .number()
        .int()
        .min(1)
        .max(3650)
        .describe("Days a backup object cannot be deleted (locked in prod)."),
      dailyAt: hhmm.default("02:30").describe("Daily backup time, in the stage's time zone."),
      weeklyAt: weekdayTime.default("Sun 03:30").describe("Weekly full backup, local time."),
      drillAt: hhmm.default("05:30").describe("Daily restore drill time, local time."),
      localCopies: z.number().int().min(0).max(30).default(3).describe("Copies kept on disk."),
      publishSanitizedTo: z
        .string()
        .regex(/^gs:\/\/[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]\/sanitized$/, {
          error: 'expected "gs://<staging backup bucket>/sanitized"',
        })
        .optional()
        .describe(
          "Prod only: where the sanitizer publishes masked copies for staging " +
            "(staging's backup bucket, under sanitized/).",
        ),
      sanitizedWriter: z
        .email({
          error:
            "expected a service account e-mail like guincho-app@<prod>.iam.gserviceaccount.com",
        })
        .optional()
        .describe(
          "Staging only: prod's app account, allowed to add sanitized copies under " +
            "sanitized/ in this stage's backup bucket (create only: no read, no delete).",
        ),
    })
    .describe("Backups of the SQLite database."),
  release: z
    .strictObject({
      archive: z
        .string()
        .min(1)
        .default("examples/sample-app")
        .describe(
          "Release to deploy, relative to the repository: an app directory with a " +
            "release.json (packed reproducibly) or a .tar.gz built from one.",
        ),
      version: z
        .string()
        .regex(/^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$/, { error: "expected a version like 1.4.2" })
        .optional()
        .describe("Overrides a directory's release.json version; must match an archive's."),
      keepReleases: z
        .number()
        .int()
        .min(2)
        .max(20)
        .default(5)
        .describe("Releases kept on the host for a quick rollback."),
    })
    .prefault({})
    .describe("The app release this stage runs."),
  monitoring: z
    .strictObject({
      latencyP95Ms: z
        .number()
        .int()
        .min(50)
        .max(60000)
        .default(1500)
        .describe("Alert when the load balancer's p95 latency exceeds this, in ms."),
      errorRatePercent: percent(0.1, 50)
        .default(2)
        .describe("Alert when this share of requests (percent) fails with a 5xx."),
      cpuPercent: percent(10, 100).default(85).describe("Alert above this VM CPU use, percent."),
      memoryPercent: percent(10, 100)
        .default(90)
        .describe("Alert above this VM memory use, percent (Ops Agent)."),
      diskPercent: percent(10, 100)
        .default(85)
        .describe("Alert above this disk use, percent, boot or data disk (Ops Agent)."),
      // NOTE: at most 25: Cloud Monitoring refuses an alignment period plus duration longer
      // than 25 hours, and the freshness alert needs the whole age in one window.
      backupMaxAgeHours: z
        .number()
        .int()
        .min(3)
        .max(25)
        .default(25)
        .describe("Alert when no backup has completed for this many hours (3 to 25)."),
      syncFailuresPerHour: z
        .number()
        .int()
        .min(1)
        .max(1000)
        .default(3)
        .describe("Alert when the Sheets sync fails more often than this per hour."),
      backupBucketMaxGb: z
        .number()
        .int()
        .min(1)
        .max(10000)
        .default(20)
        .describe("Alert when the backup bucket (all versions) holds more than this, in GiB."),
      diskFullForecastDays: z
        .number()
        .int()
        .min(1)
        .max(7)
        .default(7)
        .describe("Alert when a disk is forecast to reach 95% within this many days (1 to 7)."),
      blockedRequestsPerMinute: z
        .number()
        .int()
        .min(1)
        .max(100000)
        .default(60)
        .describe("Alert when Cloud Armor blocks more requests per minute than this."),
      loginAlerts: z
        .boolean()
        .default(true)
        .describe(
          "Alert on every IAP tunnel or SSH login to the VM (dev: off, tunnels are daily).",
        ),
      chatWebhookUrl: secretOr(z.url({ protocol: /^https$/, error: "expected an https:// URL" }))
        .optional()
        .describe("Chat webhook (Google Chat, Slack) for alerts; store it as a secret."),
    })
    .prefault({})
    .describe("Alert thresholds of this stage."),
  maintenance: z
    .strictObject({
      window: z
        .string()
        .regex(WINDOW_PATTERN, {
          error: 'expected a weekly window like "Sun 04:00-06:00" in the stage\'s time zone',
        })
        .default("Sun 04:00-06:00")
        .describe("Weekly window for security patches; monthly full updates use its first week."),
    })
    .prefault({})
    .describe("Preventive maintenance."),
});

/** The config of a stage exactly as validated (defaults applied). */
export type StageSettings = z.infer<typeof StageConfigSchema>;

/** A parsed weekly maintenance window. */
export interface MaintenanceWindow {
  day: Day;
  start: string;
  end: string;
  durationMinutes: number;
}

/** The validated config plus everything derived from the stage, in one place. */
export interface StageConfig extends StageSettings {
  stage: Stage;
  stack: string;
  /** Pulumi `protect` and deletion protection on stateful resources (prod). */
  protect: boolean;
  /** Lock the backup bucket's retention policy: irreversible, so prod only. */
  lockRetention: boolean;
  /** Prefix of every resource name: `guincho-<stage>`. */
  namePrefix: string;
  /** The labels every labelable resource carries. */
  commonLabels: Record<string, string>;
  /** Fully qualified host name of the stage, e.g. `app.guincholacerda.com.br`. */
  fqdn: string;
  maintenanceWindow: MaintenanceWindow;
  /** Bucket of the database backups (project ids are globally unique, so is this). */
  backupBucketName: string;
  /** Bucket of release archives and the host tools bundle. */
  artifactsBucketName: string;
}

// ---------------------------------------------------------------------------------------
// Validation and error reporting.

/** Thrown when config is invalid; `problems` holds one line per problem. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

function keyOf(path: readonly PropertyKey[]): string {
  let key = `${PROJECT}:`;
  path.forEach((part, i) => {
    if (typeof part === "number") {
      key += `[${part}]`;
    } else {
      key += i === 0 ? String(part) : `.${String(part)}`;
    }
  });
  return key;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = root;
  for (const part of path) {
    if (current === null || typeof current !== "object") {
      return undefined;
    }
    current = (current as Record<PropertyKey, unknown>)[part];
  }
  return current;
}

function show(value: unknown): string {
  if (value === undefined) {
    return "nothing (the key is missing)";
  }
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const saved = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = saved;
    }
  }
  return row[b.length];
}

/** The known keys of the object schema at `path`, for "did you mean" hints. */
function knownKeysAt(path: readonly PropertyKey[]): string[] {
  let schema: z.ZodType = StageConfigSchema;
  for (const part of path) {
    schema = unwrap(schema);
    if (schema instanceof z.ZodObject) {
      schema = schema.shape[String(part)];
    } else if (schema instanceof z.ZodArray) {
      schema = schema.element as z.ZodType;
    } else {
      return [];
    }
  }
  schema = unwrap(schema);
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  while (
    current instanceof z.ZodDefault ||
    current instanceof z.ZodPrefault ||
    current instanceof z.ZodOptional
  ) {
    current = current.unwrap() as z.ZodType;
  }
  return current;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return issue.expected === "int"
        ? "expected a whole number"
        : `expected ${issue.expected === "number" ? "a number" : issue.expected}`;
    case "too_small":
      return issue.origin === "array"
        ? `expected at least ${String(issue.minimum)} item(s)`
        : `expected ${issue.inclusive ? "at least" : "more than"} ${String(issue.minimum)}`;
    case "too_big":
      return issue.origin === "array"
        ? `expected at most ${String(issue.maximum)} item(s)`
        : `expected ${issue.inclusive ? "at most" : "less than"} ${String(issue.maximum)}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "not_multiple_of":
      return "expected a whole number";
    case "invalid_union": {
      // secretOr(...) unions: the first branch holds the message the user needs.
      const first = issue.errors[0]?.[0];
      return first ? describeIssue(first) : issue.message;
    }
    default:
      return issue.message;
  }
}

function describe(issue: z.core.$ZodIssue, raw: Record<string, unknown>): string[] {
  if (issue.code === "unrecognized_keys") {
    const known = knownKeysAt(issue.path);
    return issue.keys.map((unknownKey) => {
      const near = known
        .map((k) => ({ k, d: editDistance(unknownKey.toLowerCase(), k.toLowerCase()) }))
        .filter(({ d }) => d <= 3)
        .sort((a, b) => a.d - b.d)[0];
      const hint = near ? `did you mean "${near.k}"? ` : "";
      return (
        `${keyOf([...issue.path, unknownKey])}: unknown key (a typo would silently fall back ` +
        `to a default); ${hint}known keys here: ${known.join(", ")}`
      );
    });
  }
  const received = show(valueAt(raw, issue.path));
  if (issue.code === "invalid_type" && valueAt(raw, issue.path) === undefined) {
    return [`${keyOf(issue.path)}: required, but missing; set it in Pulumi.<stack>.yaml`];
  }
  return [`${keyOf(issue.path)}: received ${received}; ${describeIssue(issue)}`];
}

/**
 * Cross-field checks zod cannot express per field. They run on the raw values too, so a
 * zone outside its region is reported together with every schema problem, not after them.
 */
function crossChecks(raw: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const text = (key: string, fallback: string) =>
    typeof raw[key] === "string" ? (raw[key] as string) : fallback;
  const region = text("region", "southamerica-east1");
  const zone = text("zone", "southamerica-east1-b");
  const zones = REGION_ZONES[region];
  if (!zones) {
    problems.push(
      `${PROJECT}:region: received ${show(region)}; expected one of ` +
        Object.keys(REGION_ZONES).join(", "),
    );
  } else if (!zones.some((z) => zone === `${region}-${z}`)) {
    problems.push(
      `${PROJECT}:zone: received ${show(zone)}; not a zone of region ${region}: expected one ` +
        `of ${zones.map((z) => `${region}-${z}`).join(", ")}`,
    );
  }
  const timeZone = text("timeZone", "America/Sao_Paulo");
  if (!isTimeZone(timeZone)) {
    problems.push(
      `${PROJECT}:timeZone: received ${show(timeZone)}; expected an IANA time zone ` +
        'such as "America/Sao_Paulo"',
    );
  }
  const window = (raw.maintenance as { window?: unknown } | undefined)?.window;
  if (typeof window === "string" && WINDOW_PATTERN.test(window)) {
    if (parseWindow(window).durationMinutes < 60) {
      problems.push(
        `${PROJECT}:maintenance.window: received ${show(window)}; the window must end at ` +
          "least one hour after it starts, on the same day",
      );
    }
  }
  const contacts = Array.isArray(raw.contacts) ? (raw.contacts as Record<string, unknown>[]) : [];
  contacts.forEach((contact, i) => {
    if (contact?.phone !== undefined && contact.role !== "on-call") {
      problems.push(
        `${PROJECT}:contacts[${i}].phone: received ${show(contact.phone)}; only on-call ` +
          'contacts get SMS alerts: set role "on-call" or remove the phone',
      );
    }
  });
  if (contacts.length > 0 && !contacts.some((c) => c?.role === "on-call" || c?.role === "owner")) {
    problems.push(
      `${PROJECT}:contacts: received ${contacts.length} contact(s) and none has role ` +
        '"on-call" or "owner"; alerts would reach no one',
    );
  }
  problems.push(...edgeChecks(raw));
  problems.push(...adminChecks(raw));
  return problems;
}

/** Each administrator once: "ana@x" and "user:ana@x" are the same IAM member. */
function adminChecks(raw: Record<string, unknown>): string[] {
  const admins = Array.isArray(raw.admins) ? raw.admins : [];
  const members = admins.map((a) => (typeof a === "string" && !a.includes(":") ? `user:${a}` : a));
  return members.flatMap((member, i) => {
    const first = members.indexOf(member);
    return first === i
      ? []
      : [
          `${PROJECT}:admins[${i}]: received ${show(admins[i])}; the same administrator as ` +
            `admins[${first}]: list each person or group once`,
        ];
  });
}

const DOMAIN_PATTERN = /^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/**
 * The edge's names must nest: the zone inside the company's domain, the stage's host name
 * inside the zone, and no extra record on a name and type the edge publishes itself.
 */
function edgeChecks(raw: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const edge = (raw.edge ?? {}) as Record<string, unknown>;
  const domain = raw.domain;
  const hostname = edge.hostname;
  if (typeof domain !== "string" || !DOMAIN_PATTERN.test(domain)) {
    return problems;
  }
  const zoneDomain = typeof edge.zoneDomain === "string" ? edge.zoneDomain : domain;
  if (zoneDomain !== domain && !zoneDomain.endsWith(`.${domain}`)) {
    problems.push(
      `${PROJECT}:edge.zoneDomain: received ${show(zoneDomain)}; expected the domain ` +
        `"${domain}" or a subdomain of it, such as "staging.${domain}"`,
    );
    return problems;
  }
  if (typeof hostname !== "string") {
    return problems;
  }
  const fqdn = hostname === "@" ? domain : `${hostname}.${domain}`;
  if (fqdn !== zoneDomain && !fqdn.endsWith(`.${zoneDomain}`)) {
    problems.push(
      `${PROJECT}:edge.hostname: received ${show(hostname)}; the host name ${fqdn} is ` +
        `outside the zone ${zoneDomain} (${PROJECT}:edge.zoneDomain): change hostname, or ` +
        `set zoneDomain to "${fqdn}" or "${domain}"`,
    );
    return problems;
  }
  const host = fqdn === zoneDomain ? "@" : fqdn.slice(0, fqdn.length - zoneDomain.length - 1);
  const caaAt = typeof edge.existingZone === "string" ? host : "@";
  const owned = new Set([`${host} A`, `${host} AAAA`, `${host} CNAME`, `${caaAt} CAA`]);
  owned.add(`${host === "@" ? "_acme-challenge" : `_acme-challenge.${host}`} CNAME`);
  const seen = new Map<string, number>();
  const records = Array.isArray(edge.extraRecords) ? edge.extraRecords : [];
  records.forEach((record: unknown, i) => {
    const { name, type } = (record ?? {}) as { name?: unknown; type?: unknown };
    if (typeof name !== "string" || typeof type !== "string") {
      return;
    }
    const key = `${PROJECT}:edge.extraRecords[${i}]`;
    if (name === "@" && (type === "NS" || type === "DS")) {
      problems.push(
        `${key}.type: received "${type}" at "@"; the apex NS records are Cloud DNS's own and ` +
          "a zone's DS record belongs in its parent: use NS and DS only to delegate a " +
          'subzone, such as name "staging"',
      );
    } else if (owned.has(`${name} ${type}`)) {
      problems.push(
        `${key}: received ${show(name)} of type ${type}; the edge publishes that name and ` +
          `type itself (A/AAAA at "${host}", CAA at "${caaAt}"): remove this entry`,
      );
    } else if (seen.has(`${name} ${type}`)) {
      problems.push(
        `${key}: received ${show(name)} of type ${type} a second time (first at ` +
          `[${String(seen.get(`${name} ${type}`))}]); put every value of one name and type ` +
          "in one entry's rrdatas",
      );
    }
    seen.set(`${name} ${type}`, seen.get(`${name} ${type}`) ?? i);
  });
  return problems;
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Parses a window like "Sun 04:00-06:00" (already checked by the schema's pattern). */
export function parseWindow(window: string): MaintenanceWindow {
  const [day, range] = window.split(" ");
  const [start, end] = range.split("-");
  const minutes = (t: string) => Number(t.slice(0, 2)) * 60 + Number(t.slice(3, 5));
  return { day: day as Day, start, end, durationMinutes: minutes(end) - minutes(start) };
}

/**
 * The stage a stack deploys: the stack name itself (`dev`, `staging`, `prod`), or a
 * personal sandbox named `<stage>-<suffix>` such as `dev-ana`.
 */
export function stageOfStack(stack: string): Stage {
  const stage = STAGES.find((s) => stack === s || stack.startsWith(`${s}-`));
  if (!stage) {
    throw new ConfigError([
      `stack name: received ${show(stack)}; expected dev, staging or prod, or a personal ` +
        'stack named "<stage>-<you>" such as "dev-ana"',
    ]);
  }
  return stage;
}

/** Settings that follow from the stage and the validated config: decided here only. */
export function deriveStage(stack: string, stage: Stage, settings: StageSettings): StageConfig {
  const prod = stage === "prod";
  return {
    ...settings,
    stage,
    stack,
    protect: prod,
    lockRetention: prod,
    namePrefix: `guincho-${stage}`,
    commonLabels: {
      ...settings.labels,
      app: "guincho-lacerda",
      stage,
      "managed-by": "pulumi",
    },
    fqdn:
      settings.edge.hostname === "@"
        ? settings.domain
        : `${settings.edge.hostname}.${settings.domain}`,
    maintenanceWindow: parseWindow(settings.maintenance.window),
    backupBucketName: `${settings.gcpProject}-backups`,
    artifactsBucketName: `${settings.gcpProject}-artifacts`,
  };
}

/**
 * Turns the raw values of the project's namespace (keys without the `guincho:` prefix,
 * values already parsed from JSON where they are structured) into the stage's model.
 * Throws `ConfigError` listing every problem.
 */
export function validateStageConfig(stack: string, raw: Record<string, unknown>): StageConfig {
  const problems: string[] = [];
  let stage: Stage | undefined;
  try {
    stage = stageOfStack(stack);
  } catch (e) {
    problems.push(...(e as ConfigError).problems);
  }
  const result = StageConfigSchema.safeParse(raw);
  if (!result.success) {
    problems.push(...result.error.issues.flatMap((issue) => describe(issue, raw)));
  }
  problems.push(...crossChecks(raw));
  if (problems.length > 0 || !result.success || !stage) {
    throw new ConfigError(problems);
  }
  return deriveStage(stack, stage, result.data);
}

/**
 * Reads raw config strings as Pulumi hands them over (`{"guincho:server": "{...}"}`): keeps
 * the project's namespace, parses JSON for keys whose schema is not a plain string.
 */
export function rawFromPulumiConfig(all: Record<string, string>): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const [fullKey, value] of Object.entries(all)) {
    if (!fullKey.startsWith(`${PROJECT}:`)) {
      continue;
    }
    const key = fullKey.slice(PROJECT.length + 1);
    const schema = StageConfigSchema.shape[key as keyof typeof StageConfigSchema.shape];
    raw[key] = schema && unwrap(schema) instanceof z.ZodString ? value : parseLoosely(value);
  }
  return raw;
}

function parseLoosely(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/**
 * Reads and validates the current stack's config through the Pulumi runtime. A mistake is
 * raised as `pulumi.RunError`, which the CLI prints without a stack trace; the problems stay
 * available on `cause` for the offline plan.
 */
export function loadStageConfig(): StageConfig {
  try {
    return validateStageConfig(pulumi.getStack(), rawFromPulumiConfig(pulumi.runtime.allConfig()));
  } catch (e) {
    if (e instanceof ConfigError) {
      const error = new pulumi.RunError(e.message);
      (error as Error & { cause?: unknown }).cause = e;
      throw error;
    }
    throw e;
  }
}
