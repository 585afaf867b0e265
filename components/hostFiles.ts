/**
 * What the VM runs at every boot, rendered from the stage's settings by pure functions: the
 * startup script (bash) and every file it installs (host.env, nginx site, systemd timers,
 * logrotate rules, journald limits, Ops Agent config), plus the host tools bundle's digest.
 *
 * Nothing here reads config or creates resources: `components/server.ts` wires the result to
 * the VM's `startup-script` metadata, and the tests run each file through its own tool
 * (`shellcheck`, `nginx -t`, `systemd-analyze verify`, `logrotate -d`).
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

// ---------------------------------------------------------------------------------------
// The host's layout: the contract the host tools and the docs rely on.

/** Device name of the data disk; the guest exposes it as /dev/disk/by-id/google-<name>. */
export const DATA_DISK_DEVICE_NAME = "guincho-data";

/** Paths on the VM. */
export const HOST_PATHS = {
  optDir: "/opt/guincho",
  /** A symlink to the verified bundle in use, swapped atomically. */
  hostDir: "/opt/guincho/host",
  bundlesDir: "/opt/guincho/bundles",
  releasesDir: "/opt/guincho/releases",
  etcDir: "/etc/guincho",
  envFile: "/etc/guincho/host.env",
  dataDir: "/var/lib/guincho",
  databasePath: "/var/lib/guincho/db/guincho.sqlite3",
  logDir: "/var/log/guincho",
  nginxDir: "/etc/nginx/guincho",
  dataDevice: `/dev/disk/by-id/google-${DATA_DISK_DEVICE_NAME}`,
} as const;

/** The Unix account the app and the host routines run as. */
export const APP_USER = "guincho";

/** Loopback ports of the two colours (host/bin/deploy switches nginx between them). */
export const APP_PORTS = { blue: 8001, green: 8002 } as const;

/** Google's load-balancer and health-check ranges: the only peers allowed on port 80. */
export const GOOGLE_FRONT_END_RANGES: readonly string[] = ["130.211.0.0/22", "35.191.0.0/16"];

/** Packages the bootstrap installs from Debian 12 (python3 is 3.11 there). */
export const DEBIAN_PACKAGES: readonly string[] = [
  "ca-certificates",
  "logrotate",
  "nginx",
  "python3",
  "python3-venv",
  "sqlite3",
];

// ---------------------------------------------------------------------------------------
// The host tools bundle: host/ packed as a zip, named and verified by a content digest.

/** One file of the bundle: its path inside host/ and its bytes. */
export interface BundleFile {
  path: string;
  content: Buffer;
}

/** Directories and files of host/ that never ship: caches, editor droppings. */
function skipped(name: string): boolean {
  return name === "__pycache__" || name.endsWith(".pyc") || name.startsWith(".");
}

// NOTE: the VM recomputes the digest with `sha256sum`, which escapes unusual names; paths
// are kept to this alphabet so both sides always hash the same text.
const BUNDLE_PATH = /^[A-Za-z0-9_@+.-]+(\/[A-Za-z0-9_@+.-]+)*$/;

/**
 * Reads every file of a bundle directory (recursively, sorted, caches skipped). Throws for a
 * path the VM's check could not reproduce.
 */
export function readBundleDir(root: string): BundleFile[] {
  const files: BundleFile[] = [];
  const walk = (relative: string) => {
    for (const entry of fs.readdirSync(path.join(root, relative), { withFileTypes: true })) {
      if (skipped(entry.name)) {
        continue;
      }
      const child = relative === "" ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) {
        walk(child);
      } else if (entry.isFile()) {
        if (!BUNDLE_PATH.test(child)) {
          throw new Error(
            `host bundle: file "${child}" has a name the VM cannot verify; use only letters, ` +
              "digits and _ @ + . - in names under host/",
          );
        }
        files.push({ path: child, content: fs.readFileSync(path.join(root, child)) });
      }
    }
  };
  walk("");
  return files.sort((a, b) => compareBytes(a.path, b.path));
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function sha256(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * The bundle's manifest: one `sha256sum` line per file (`<hex>  <path>`), sorted by path
 * bytewise, exactly what `sha256sum` prints for the extracted files in `LC_ALL=C` order.
 */
export function bundleManifest(files: readonly BundleFile[]): string {
  return [...files]
    .sort((a, b) => compareBytes(a.path, b.path))
    .map((f) => `${sha256(f.content)}  ${f.path}\n`)
    .join("");
}

/**
 * The bundle's digest: sha256 of its manifest. It covers every file's path and bytes and
 * nothing else (not the zip's timestamps or compression), so the VM can check it after
 * extraction whatever tool packed the archive.
 */
export function bundleDigest(files: readonly BundleFile[]): string {
  return sha256(bundleManifest(files));
}

/** Object name of a bundle in the artifacts bucket: content-addressed. */
export function bundleObjectName(digest: string): string {
  return `host-bundles/guincho-host-${digest}.zip`;
}

// ---------------------------------------------------------------------------------------
// Settings of one host, as plain values.

/** Times of the host routines, in the stage's time zone. */
export interface RoutineTimes {
  /** Daily backup, "HH:MM". */
  backupDailyAt: string;
  /** Weekly full backup, "Sun 03:30". */
  backupWeeklyAt: string;
  /** Daily restore drill, "HH:MM". */
  drillAt: string;
  /** Daily error review, "HH:MM". */
  errorReviewAt: string;
  /** Weekly performance audit, "Mon 06:00". */
  perfAuditAt: string;
  /** Weekly security check, "Mon 06:30". */
  securityCheckAt: string;
  /** Monthly capacity report, day of month and time, "01 07:00". */
  capacityReportAt: string;
}

/**
 * When the report routines run, in the stage's time zone: after the night's backup (02:30),
 * weekly snapshot (Sun) and restore drill (05:30), before the working day starts.
 * NOTE: constants, not config keys yet; a stage that needs other times gets a key then.
 */
export const REPORT_TIMES = {
  errorReviewAt: "07:00",
  perfAuditAt: "Mon 06:00",
  securityCheckAt: "Mon 06:30",
  capacityReportAt: "01 07:00",
} as const;

/** Everything the host files depend on. */
export interface HostSettings {
  stage: string;
  gcpProject: string;
  /** IANA time zone of the routines, e.g. America/Sao_Paulo. */
  timeZone: string;
  backupBucketName: string;
  artifactsBucketName: string;
  /** Secret Manager id of the app's secret key (a name, never the value). */
  secretId: string;
  /** The host tools bundle: object name in the artifacts bucket and content digest. */
  bundle: { objectName: string; digest: string };
  routines: RoutineTimes;
  /** Local backup copies kept on the data disk. */
  backupLocalCopies: number;
  /** Release directories kept by host/bin/deploy. */
  keepReleases: number;
  /** Boot disk size: the journal's share derives from it. */
  bootDiskGb: number;
  /**
   * The access-log format the site logs with, when the bundle ships host/nginx/
   * log-format.conf defining it (see `accessLogFormat`).
   * @default "combined" (nginx's built-in)
   */
  accessLogFormat?: string;
  /**
   * Where the sanitizer publishes masked copies of this stage's data (prod: staging's
   * bucket, `gs://<staging backups>/sanitized`).
   * @default none: the sanitizer then needs --output
   */
  sanitizedUrl?: string;
}

// ---------------------------------------------------------------------------------------
// host.env: the defaults every host tool and unit reads.

const ENV_VALUE = /^[A-Za-z0-9_./:@+-]*$/;

/** Renders `/etc/guincho/host.env` (KEY=value lines; no secret values, only names). */
export function renderHostEnv(s: HostSettings): string {
  const entries: [string, string][] = [
    ["GUINCHO_STAGE", s.stage],
    ["GUINCHO_GCP_PROJECT", s.gcpProject],
    ["GUINCHO_DATA_DIR", HOST_PATHS.dataDir],
    ["GUINCHO_DATABASE_PATH", HOST_PATHS.databasePath],
    ["GUINCHO_BACKUP_URL", `gs://${s.backupBucketName}/backups`],
    ["GUINCHO_BACKUP_LOCAL_COPIES", String(s.backupLocalCopies)],
    ["GUINCHO_ARTIFACTS_URL", `gs://${s.artifactsBucketName}`],
    ["GUINCHO_SECRET_NAME", s.secretId],
    ["GUINCHO_RELEASES_DIR", HOST_PATHS.releasesDir],
    ["GUINCHO_KEEP_RELEASES", String(s.keepReleases)],
    ["GUINCHO_BLUE_PORT", String(APP_PORTS.blue)],
    ["GUINCHO_GREEN_PORT", String(APP_PORTS.green)],
    ["GUINCHO_NGINX_UPSTREAM", `${HOST_PATHS.nginxDir}/upstream.conf`],
    ["GUINCHO_HOST_BUNDLE", s.bundle.digest],
    ["GUINCHO_TIME_ZONE", s.timeZone],
    ...(s.sanitizedUrl ? [["GUINCHO_SANITIZED_URL", s.sanitizedUrl] as [string, string]] : []),
  ];
  for (const [key, value] of entries) {
    if (!ENV_VALUE.test(value)) {
      throw new Error(
        `host.env: ${key} received ${JSON.stringify(value)}; values may hold only letters, ` +
          "digits and _ . / : @ + - (no spaces or quotes)",
      );
    }
  }
  return (
    "# Written by the Guincho bootstrap at every boot (components/hostFiles.ts): do not edit,\n" +
    "# change the stack's config instead. Names only: secret values live in Secret Manager.\n" +
    entries.map(([k, v]) => `${k}=${v}\n`).join("")
  );
}

// ---------------------------------------------------------------------------------------
// systemd timers for the routines.

/** One routine: the timer's file name, what it starts and when. */
export interface TimerSpec {
  /** File name under /etc/systemd/system, e.g. guincho-backup-daily.timer. */
  timer: string;
  /** The unit it starts, e.g. guincho-backup@daily.service. */
  unit: string;
  /** The unit file that must exist for the timer to be enabled (a template for @ units). */
  unitFile: string;
  description: string;
  onCalendar: string;
}

/** `OnCalendar` for a daily "HH:MM" in a time zone: `*-*-* 02:30:00 America/Sao_Paulo`. */
export function dailyCalendar(time: string, timeZone: string): string {
  return `*-*-* ${time}:00 ${timeZone}`;
}

/** `OnCalendar` for a weekly "Sun 03:30": `Sun *-*-* 03:30:00 America/Sao_Paulo`. */
export function weeklyCalendar(dayTime: string, timeZone: string): string {
  const [day, time] = dayTime.split(" ");
  return `${day} *-*-* ${time}:00 ${timeZone}`;
}

/** `OnCalendar` for a monthly "01 07:00": `*-*-01 07:00:00 America/Sao_Paulo`. */
export function monthlyCalendar(dayTime: string, timeZone: string): string {
  const [day, time] = dayTime.split(" ");
  return `*-*-${day} ${time}:00 ${timeZone}`;
}

/** The routines' timers, in the order they run in a day. */
export function timerSpecs(r: RoutineTimes, timeZone: string): TimerSpec[] {
  const routine = (name: string, description: string, onCalendar: string): TimerSpec => ({
    timer: `${name}.timer`,
    unit: `${name}.service`,
    unitFile: `${name}.service`,
    description,
    onCalendar,
  });
  return [
    {
      timer: "guincho-backup-daily.timer",
      unit: "guincho-backup@daily.service",
      unitFile: "guincho-backup@.service",
      description: "Guincho daily database backup",
      onCalendar: dailyCalendar(r.backupDailyAt, timeZone),
    },
    {
      timer: "guincho-backup-weekly.timer",
      unit: "guincho-backup@weekly.service",
      unitFile: "guincho-backup@.service",
      description: "Guincho weekly full backup",
      onCalendar: weeklyCalendar(r.backupWeeklyAt, timeZone),
    },
    routine(
      "guincho-restore-drill",
      "Guincho daily restore drill",
      dailyCalendar(r.drillAt, timeZone),
    ),
    routine(
      "guincho-error-review",
      "Guincho daily error review",
      dailyCalendar(r.errorReviewAt, timeZone),
    ),
    routine(
      "guincho-perf-audit",
      "Guincho weekly performance audit",
      weeklyCalendar(r.perfAuditAt, timeZone),
    ),
    routine(
      "guincho-security-check",
      "Guincho weekly security check",
      weeklyCalendar(r.securityCheckAt, timeZone),
    ),
    routine(
      "guincho-capacity-report",
      "Guincho monthly capacity report",
      monthlyCalendar(r.capacityReportAt, timeZone),
    ),
  ];
}

/** Renders one timer unit. `Persistent=true` runs a missed routine after a reboot. */
export function renderTimer(spec: TimerSpec): string {
  return [
    "# Written by the Guincho bootstrap (components/hostFiles.ts) from the stack's config.",
    "[Unit]",
    `Description=${spec.description} (timer)`,
    "",
    "[Timer]",
    `OnCalendar=${spec.onCalendar}`,
    "Persistent=true",
    // A small spread, so a fleet of stages does not hit the backup bucket at the same second.
    "RandomizedDelaySec=120",
    "AccuracySec=30s",
    `Unit=${spec.unit}`,
    "",
    "[Install]",
    "WantedBy=timers.target",
    "",
  ].join("\n");
}

// ---------------------------------------------------------------------------------------
// nginx.

/** Options of the nginx site; the defaults are the VM's paths (tests point them elsewhere). */
export interface NginxSiteOptions {
  /**
   * Directory of upstream.conf (written by host/bin/deploy) and log-format.conf.
   * @default HOST_PATHS.nginxDir
   */
  nginxDir?: string;
  /** @default "/var/log/nginx" */
  logDir?: string;
  /** Name of the access-log format. @default "combined" */
  accessLogFormat?: string;
  /** @default "80" */
  listen?: string;
  /**
   * Peers whose X-Forwarded-For and X-Forwarded-Proto are believed.
   * @default GOOGLE_FRONT_END_RANGES
   */
  frontEndRanges?: readonly string[];
}

/**
 * The format to log with, given the text of host/nginx/log-format.conf (or undefined when
 * the bundle has none): `guincho_json` when defined there (what the perf audit reads best),
 * else the file's first format, else nginx's `combined`.
 */
export function accessLogFormat(logFormatConf: string | undefined): string {
  const names = [...(logFormatConf ?? "").matchAll(/^\s*log_format\s+([A-Za-z0-9_]+)/gm)].map(
    (m) => m[1],
  );
  return names.includes("guincho_json") ? "guincho_json" : (names[0] ?? "combined");
}

/** The upstream.conf the bootstrap writes only when absent: the blue colour. */
export function renderDefaultUpstream(): string {
  return [
    "# Written by the bootstrap because no deploy has run yet; host/bin/deploy rewrites it.",
    "upstream guincho_app {",
    `    server 127.0.0.1:${APP_PORTS.blue};`,
    "    keepalive 16;",
    "    keepalive_timeout 30s;",
    "}",
    "",
  ].join("\n");
}

/**
 * Renders the site (included at http level, from sites-enabled). nginx listens on :80 for
 * the load balancer, which ends TLS; the app is reached through `upstream guincho_app`.
 */
export function renderNginxSite(options: NginxSiteOptions = {}): string {
  const dir = options.nginxDir ?? HOST_PATHS.nginxDir;
  const logDir = options.logDir ?? "/var/log/nginx";
  const format = options.accessLogFormat ?? "combined";
  const lines = [
    "# Written by the Guincho bootstrap (components/hostFiles.ts) at every boot: do not edit.",
    "server_tokens off;",
    ...(format === "combined" ? [] : [`include ${dir}/log-format.conf;`]),
    `include ${dir}/upstream.conf;`,
    "",
    "# The client's address. The load balancer connects from Google's front-end ranges and",
    "# appends '<client>, <load balancer address>' to X-Forwarded-For, so the client is the",
    "# second address from the right, and only when the peer is a Google front end.",
    "# NOTE: not nginx's realip module: with X-Forwarded-For it takes the rightmost untrusted",
    "# address, which is the load balancer's own (not in these ranges), never the client.",
    "geo $guincho_from_lb {",
    "    default 0;",
    ...(options.frontEndRanges ?? GOOGLE_FRONT_END_RANGES).map((range) => `    ${range} 1;`),
    "}",
    'map "$guincho_from_lb $http_x_forwarded_for" $guincho_client_ip {',
    "    default $remote_addr;",
    '    "~^1 (?:.*,)?\\s*(?<client>[0-9a-fA-F.:]+)\\s*,\\s*[0-9a-fA-F.:]+\\s*$" $client;',
    "}",
    'map "$guincho_from_lb $http_x_forwarded_proto" $guincho_proto {',
    "    default $scheme;",
    '    "1 https" https;',
    "}",
    "server {",
    `    listen ${options.listen ?? "80"} default_server;`,
    "    server_name _;",
    "",
    `    access_log ${logDir}/guincho-access.log ${format};`,
    `    error_log ${logDir}/guincho-error.log warn;`,
    "    client_max_body_size 10m;",
    "",
    '    add_header X-Content-Type-Options "nosniff" always;',
    '    add_header X-Frame-Options "DENY" always;',
    '    add_header Referrer-Policy "strict-origin-when-cross-origin" always;',
    '    add_header Permissions-Policy "camera=(), microphone=(), geolocation=()" always;',
    "    # NOTE: no HSTS here: the load balancer, which ends TLS, adds it to every answer.",
    "",
    "    proxy_http_version 1.1;",
    '    proxy_set_header Connection "";',
    "    proxy_set_header Host $host;",
    "    proxy_set_header X-Real-IP $guincho_client_ip;",
    "    proxy_set_header X-Forwarded-For $http_x_forwarded_for;",
    "    proxy_set_header X-Forwarded-Proto $guincho_proto;",
    "    proxy_connect_timeout 5s;",
    "    proxy_send_timeout 60s;",
    "    proxy_read_timeout 60s;",
    "",
    "    # The load balancer's health check: straight to the serving colour, not logged.",
    "    location = /healthz {",
    "        access_log off;",
    "        proxy_pass http://guincho_app;",
    "    }",
    "",
    "    location / {",
    "        proxy_pass http://guincho_app;",
    "    }",
    "}",
    "",
  ];
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------
// logrotate, journald, Ops Agent.

/** Days of access and app logs kept on the VM (the weekly perf audit reads 7). */
export const LOG_RETENTION_DAYS = 14;

/** Where the rotated logs live and whose they are; the defaults are the VM's. */
export interface LogrotateOptions {
  /** @default "/var/log/nginx" */
  nginxLogDir?: string;
  /** @default HOST_PATHS.logDir */
  appLogDir?: string;
  /** Owner of the app's logs. @default APP_USER */
  appUser?: string;
  /** @default the user's name */
  appGroup?: string;
}

/** Renders /etc/logrotate.d/guincho: nginx's logs (replacing the package's rule) and the app's. */
export function renderLogrotate(options: LogrotateOptions = {}): string {
  const nginxLogs = options.nginxLogDir ?? "/var/log/nginx";
  const appLogs = options.appLogDir ?? HOST_PATHS.logDir;
  const user = options.appUser ?? APP_USER;
  return [
    "# Written by the Guincho bootstrap (components/hostFiles.ts). The nginx package's own rule",
    "# is diverted (dpkg-divert), so each log has exactly one rule.",
    `${nginxLogs}/*.log {`,
    "    daily",
    `    rotate ${LOG_RETENTION_DAYS}`,
    "    missingok",
    "    notifempty",
    "    compress",
    "    delaycompress",
    "    create 0640 www-data adm",
    "    sharedscripts",
    "    postrotate",
    '        if [ -s /run/nginx.pid ]; then kill -USR1 "$(cat /run/nginx.pid)"; fi',
    "    endscript",
    "}",
    "",
    `${appLogs}/*.log {`,
    "    daily",
    `    rotate ${LOG_RETENTION_DAYS}`,
    "    missingok",
    "    notifempty",
    "    compress",
    "    delaycompress",
    "    copytruncate",
    `    su ${user} ${options.appGroup ?? user}`,
    "}",
    "",
  ].join("\n");
}

/** The journal's cap: 5% of the boot disk, between 256 MiB and 2 GiB. */
export function journalMaxUseMb(bootDiskGb: number): number {
  return Math.min(2048, Math.max(256, Math.floor(bootDiskGb * 1024 * 0.05)));
}

/** Renders the journald drop-in that caps the journal on the boot disk. */
export function renderJournaldDropIn(bootDiskGb: number): string {
  return [
    "# Written by the Guincho bootstrap: keep the journal from filling the boot disk.",
    "[Journal]",
    "Storage=persistent",
    `SystemMaxUse=${journalMaxUseMb(bootDiskGb)}M`,
    "SystemKeepFree=1G",
    "MaxRetentionSec=1month",
    "",
  ].join("\n");
}

/**
 * Renders the Ops Agent's config: the journal (app, host tools: their JSON events are parsed
 * from MESSAGE) and the nginx logs go to Cloud Logging; host metrics keep their defaults.
 */
export function renderOpsAgentConfig(accessLogIsJson: boolean): string {
  return [
    "# Written by the Guincho bootstrap (components/hostFiles.ts).",
    "logging:",
    "  receivers:",
    "    guincho_journald:",
    "      type: systemd_journald",
    "    guincho_nginx_access:",
    "      type: files",
    "      include_paths: [/var/log/nginx/guincho-access.log]",
    "    guincho_nginx_error:",
    "      type: files",
    "      include_paths: [/var/log/nginx/guincho-error.log]",
    "  processors:",
    "    guincho_events:",
    "      type: parse_json",
    "      field: MESSAGE",
    "    guincho_access_json:",
    "      type: parse_json",
    "  service:",
    "    pipelines:",
    "      guincho_journald:",
    "        receivers: [guincho_journald]",
    "        processors: [guincho_events]",
    "      guincho_nginx_access:",
    "        receivers: [guincho_nginx_access]",
    ...(accessLogIsJson ? ["        processors: [guincho_access_json]"] : []),
    "      guincho_nginx_error:",
    "        receivers: [guincho_nginx_error]",
    "",
  ].join("\n");
}

// ---------------------------------------------------------------------------------------
// The startup script.

/** A value as one shell word in single quotes. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

const HEREDOC_END = "GUINCHO_FILE_END";

/** A file written by the script through `write_file` (content verbatim, no expansion). */
interface ScriptFile {
  path: string;
  mode: string;
  owner: string;
  content: string;
}

function writeFileBlock(file: ScriptFile, indent = "  "): string {
  if (file.content.split("\n").includes(HEREDOC_END)) {
    throw new Error(`startup script: ${file.path} contains the line ${HEREDOC_END}`);
  }
  const body = file.content.endsWith("\n") ? file.content : `${file.content}\n`;
  return (
    `${indent}write_file ${file.mode} ${file.owner} ${file.path} <<'${HEREDOC_END}'\n` +
    `${body}${HEREDOC_END}\n`
  );
}

/** The files the startup script writes, by path: each one is checked by its own tool. */
export function renderHostFiles(s: HostSettings): Record<string, string> {
  const format = s.accessLogFormat ?? "combined";
  const files: Record<string, string> = {
    [HOST_PATHS.envFile]: renderHostEnv(s),
    [`${HOST_PATHS.nginxDir}/upstream.conf`]: renderDefaultUpstream(),
    "/etc/nginx/sites-available/guincho": renderNginxSite({ accessLogFormat: format }),
    "/etc/logrotate.d/guincho": renderLogrotate(),
    "/etc/systemd/journald.conf.d/guincho.conf": renderJournaldDropIn(s.bootDiskGb),
    "/etc/google-cloud-ops-agent/config.yaml": renderOpsAgentConfig(format === "guincho_json"),
  };
  for (const spec of timerSpecs(s.routines, s.timeZone)) {
    files[`/etc/systemd/system/${spec.timer}`] = renderTimer(spec);
  }
  return files;
}

/**
 * Renders the startup script. It holds names and settings only, never a secret, and every
 * step checks the machine's state before acting, so running it at every boot (or again by
 * hand) converges on the same host without harm.
 */
export function renderStartupScript(s: HostSettings): string {
  const files = renderHostFiles(s);
  const file = (p: string, mode = "0644", owner = "root:root"): ScriptFile => ({
    path: p,
    mode,
    owner,
    content: files[p],
  });
  const timers = timerSpecs(s.routines, s.timeZone);
  const bundleUrl = `gs://${s.artifactsBucketName}/${s.bundle.objectName}`;
  const opsAgentBlock = writeFileBlock(file("/etc/google-cloud-ops-agent/config.yaml"));
  const timerBlocks = timers
    .map((t) => writeFileBlock(file(`/etc/systemd/system/${t.timer}`)))
    .join("");
  const journaldBlock = writeFileBlock(file("/etc/systemd/journald.conf.d/guincho.conf"));
  const siteBlock = writeFileBlock(file("/etc/nginx/sites-available/guincho"));
  return `#!/bin/bash
# Guincho Lacerda host bootstrap, stage ${s.stage}: the VM's startup-script metadata.
# Rendered by components/hostFiles.ts; runs as root at every boot and is safe to run again:
#   sudo google_metadata_script_runner startup
# It holds no secret: the app reads its key from Secret Manager (GUINCHO_SECRET_NAME).
set -euo pipefail
umask 022
export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C

readonly STAGE=${shellQuote(s.stage)}
readonly BUNDLE_URL=${shellQuote(bundleUrl)}
readonly BUNDLE_DIGEST=${shellQuote(s.bundle.digest)}
readonly APP_USER=${shellQuote(APP_USER)}
readonly HOST_DIR=${shellQuote(HOST_PATHS.hostDir)}
readonly BUNDLES_DIR=${shellQuote(HOST_PATHS.bundlesDir)}
readonly DATA_DIR=${shellQuote(HOST_PATHS.dataDir)}
readonly DATA_DEVICE=${shellQuote(HOST_PATHS.dataDevice)}
readonly NGINX_DIR=${shellQuote(HOST_PATHS.nginxDir)}
readonly PACKAGES=(${DEBIAN_PACKAGES.join(" ")})
readonly TIMERS=(${timers.map((t) => `${t.timer}:${t.unitFile}`).join(" ")})
CHANGED=()

# One JSON line per step: the journal keeps them and the Ops Agent parses them.
event() {
  printf '{"severity":"%s","event":"%s","stage":"%s","detail":"%s"}\\n' \\
    "$1" "$2" "$STAGE" "\${3:-}"
}

fail() {
  event ERROR "$1" "$2"
  exit 1
}

# write_file MODE OWNER PATH < content: replaces PATH only when the content differs.
write_file() {
  local mode=$1 owner=$2 target=$3 tmp
  mkdir -p "$(dirname "$target")"
  # A hidden name beside the target: no include glob (logrotate.d, systemd) picks it up.
  tmp=$(mktemp "$(dirname "$target")/.guincho.XXXXXX")
  cat >"$tmp"
  if [[ -f $target ]] && cmp -s "$tmp" "$target"; then
    rm -f "$tmp"
  else
    mv -f "$tmp" "$target"
    CHANGED+=("$target")
  fi
  chmod "$mode" "$target"
  chown "$owner" "$target"
}

# copy_file MODE OWNER SOURCE TARGET: write_file with the content of SOURCE.
copy_file() {
  write_file "$1" "$2" "$4" <"$3"
}

# changed PREFIX: did this run rewrite a file under PREFIX?
changed() {
  local path
  for path in "\${CHANGED[@]}"; do
    [[ $path == "$1"* ]] && return 0
  done
  return 1
}

apt_get() {
  # The guest agent or unattended-upgrades may hold the lock for a while at boot.
  apt-get -o DPkg::Lock::Timeout=600 -q -y "$@"
}

installed() {
  dpkg-query -W -f='\${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

install_packages() {
  local missing=() package
  for package in "\${PACKAGES[@]}"; do
    installed "$package" || missing+=("$package")
  done
  if ((\${#missing[@]} > 0)); then
    apt_get update
    apt_get install --no-install-recommends "\${missing[@]}"
  fi
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    fail python_too_old "python3 is $(python3 -V 2>&1); the host tools need 3.11 or later"
  command -v gcloud >/dev/null ||
    fail gcloud_missing "gcloud is not installed; use a Google Debian 12 image"
  event INFO packages_ready "\${PACKAGES[*]}"
}

# The keyring the image's own Google repositories are signed with (guest agent, gcloud).
google_keyring() {
  local candidate
  for candidate in /usr/share/keyrings/cloud.google.gpg /usr/share/keyrings/cloud.google.asc \\
    /usr/share/keyrings/google-cloud-packages-archive-keyring.gpg \\
    /etc/apt/trusted.gpg.d/google-cloud-packages-archive-keyring.gpg; do
    if [[ -s $candidate ]]; then
      printf '%s\\n' "$candidate"
      return 0
    fi
  done
  return 1
}

# NOTE: Google's own apt repository, signed by the key the image already trusts, instead of
# piping add-google-cloud-ops-agent-repo.sh (unpinned) into bash.
install_ops_agent() {
  local keyring codename
  if ! installed google-cloud-ops-agent; then
    keyring=$(google_keyring) || {
      event ERROR ops_agent_skipped "no Google apt keyring on this image"
      return 0
    }
    codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release)
    printf 'deb [signed-by=%s] https://packages.cloud.google.com/apt %s main\\n' \\
      "$keyring" "google-cloud-ops-agent-$codename-all" \\
      >/etc/apt/sources.list.d/google-cloud-ops-agent.list
    if ! { apt_get update && apt_get install google-cloud-ops-agent; }; then
      # A repository apt cannot use would break every later apt-get update: drop it.
      rm -f /etc/apt/sources.list.d/google-cloud-ops-agent.list
      event ERROR ops_agent_skipped "apt could not install google-cloud-ops-agent"
      return 0
    fi
  fi
${opsAgentBlock}  if changed /etc/google-cloud-ops-agent/; then
    systemctl restart google-cloud-ops-agent
  fi
  event INFO ops_agent_ready
}

create_user() {
  if ! id "$APP_USER" >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir "$DATA_DIR" \\
      --shell /usr/sbin/nologin "$APP_USER"
  fi
}

# update_fstab FSTAB UUID FSTYPE: exactly one line for the data disk, by UUID, with nofail
# (a missing disk must not stop the boot: the app's units require the mount instead).
update_fstab() {
  local fstab=$1 tmp
  tmp=$(mktemp)
  awk -v dir="$DATA_DIR" '$2 != dir' "$fstab" >"$tmp"
  printf 'UUID=%s %s %s defaults,nofail,noatime,discard 0 2\\n' "$2" "$DATA_DIR" "$3" >>"$tmp"
  if cmp -s "$tmp" "$fstab"; then
    rm -f "$tmp"
    return 0
  fi
  cat "$tmp" >"$fstab"
  rm -f "$tmp"
  CHANGED+=("$fstab")
}

# is_blank DEVICE: no filesystem and no partition table (blkid probes the device itself).
is_blank() {
  [[ -z $(blkid -p -o value -s TYPE "$1" || true) ]] &&
    [[ -z $(blkid -p -o value -s PTTYPE "$1" || true) ]]
}

prepare_data_disk() {
  local waited=0 fstype uuid
  while [[ ! -b $DATA_DEVICE ]] && ((waited < 120)); do
    sleep 2
    waited=$((waited + 2))
  done
  [[ -b $DATA_DEVICE ]] || fail data_disk_missing "$DATA_DEVICE did not appear in 120 s"
  # NOTE: the only mkfs in this script, and only on a disk that holds nothing at all.
  if is_blank "$DATA_DEVICE"; then
    mkfs.ext4 -q -L guincho-data -m 0 -E lazy_itable_init=0,lazy_journal_init=0,discard \\
      "$DATA_DEVICE"
    event NOTICE data_disk_formatted "$DATA_DEVICE"
  fi
  fstype=$(blkid -p -o value -s TYPE "$DATA_DEVICE" || true)
  uuid=$(blkid -p -o value -s UUID "$DATA_DEVICE" || true)
  [[ -n $fstype && -n $uuid ]] ||
    fail data_disk_unreadable "$DATA_DEVICE has a partition table but no filesystem; not touched"
  update_fstab /etc/fstab "$uuid" "$fstype"
  if changed /etc/fstab; then
    systemctl daemon-reload
  fi
  mkdir -p "$DATA_DIR"
  mountpoint -q "$DATA_DIR" || mount "$DATA_DIR"
  mountpoint -q "$DATA_DIR" || fail data_disk_not_mounted "$DATA_DIR is not a mount point"
  # A disk grown in the config grows its filesystem too (online, a no-op when already full).
  if [[ $fstype == ext4 ]] && ! resize2fs "$DATA_DEVICE" >/dev/null 2>&1; then
    event WARNING data_disk_not_resized "resize2fs failed on $DATA_DEVICE"
  fi
  event INFO data_disk_ready "UUID=$uuid on $DATA_DIR"
}

make_directories() {
  install -d -m 0755 -o root -g root /opt/guincho "$BUNDLES_DIR" /opt/guincho/releases
  install -d -m 0750 -o root -g "$APP_USER" /etc/guincho
  install -d -m 0755 -o root -g root "$NGINX_DIR"
  install -d -m 0750 -o "$APP_USER" -g adm /var/log/guincho
  install -d -m 0750 -o "$APP_USER" -g "$APP_USER" "$DATA_DIR" "$DATA_DIR/db" \\
    "$DATA_DIR/backups" "$DATA_DIR/state"
}

# bundle_digest DIR: sha256 of the sha256sum lines of every file, sorted by path; the same
# digest components/hostFiles.ts computes before upload.
bundle_digest() {
  (cd "$1" && find . -type f -printf '%P\\n' | sort | xargs -r -d '\\n' sha256sum --) |
    sha256sum | cut -d ' ' -f 1
}

install_host_bundle() {
  local incoming actual
  if [[ -L $HOST_DIR && $(readlink "$HOST_DIR") == "$BUNDLES_DIR/$BUNDLE_DIGEST" ]] &&
    [[ $(bundle_digest "$BUNDLES_DIR/$BUNDLE_DIGEST") == "$BUNDLE_DIGEST" ]]; then
    event INFO host_bundle_current "$BUNDLE_DIGEST"
    return 0
  fi
  rm -rf "$BUNDLES_DIR"/.incoming.*
  incoming=$(mktemp -d "$BUNDLES_DIR/.incoming.XXXXXX")
  gcloud storage cp --quiet "$BUNDLE_URL" "$incoming/bundle.zip"
  python3 -m zipfile -e "$incoming/bundle.zip" "$incoming/tree"
  actual=$(bundle_digest "$incoming/tree")
  if [[ $actual != "$BUNDLE_DIGEST" ]]; then
    rm -rf "$incoming"
    fail host_bundle_mismatch "expected $BUNDLE_DIGEST, downloaded $actual"
  fi
  chmod -R u=rwX,go=rX "$incoming/tree"
  if [[ -d $incoming/tree/bin ]]; then
    find "$incoming/tree/bin" -maxdepth 1 -type f -exec chmod 0755 {} +
  fi
  rm -rf "\${BUNDLES_DIR:?}/$BUNDLE_DIGEST"
  mv "$incoming/tree" "$BUNDLES_DIR/$BUNDLE_DIGEST"
  rm -rf "$incoming"
  if [[ -e $HOST_DIR && ! -L $HOST_DIR ]]; then
    mv "$HOST_DIR" "$HOST_DIR.replaced.$(date +%s)"
  fi
  ln -sfn "$BUNDLES_DIR/$BUNDLE_DIGEST" "$HOST_DIR.new"
  mv -Tf "$HOST_DIR.new" "$HOST_DIR"
  # Keep the bundle in use and the two before it, for a look at what changed.
  find "$BUNDLES_DIR" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%T@ %p\\n' |
    sort -rn | tail -n +4 | cut -d ' ' -f 2- | xargs -r -d '\\n' rm -rf --
  event NOTICE host_bundle_installed "$BUNDLE_DIGEST"
}

write_host_env() {
${writeFileBlock(file(HOST_PATHS.envFile, "0640", `root:${APP_USER}`))}}

install_units() {
  local unit entry timer unit_file
  for unit in "$HOST_DIR"/systemd/*.service; do
    [[ -f $unit ]] || continue
    copy_file 0644 root:root "$unit" "/etc/systemd/system/\${unit##*/}"
  done
${timerBlocks}${journaldBlock}  if changed /etc/systemd/journald.conf.d/; then
    systemctl restart systemd-journald
  fi
  if changed /etc/systemd/system/; then
    systemctl daemon-reload
  fi
  for entry in "\${TIMERS[@]}"; do
    timer=\${entry%%:*}
    unit_file=\${entry#*:}
    if [[ -f /etc/systemd/system/$unit_file ]]; then
      systemctl enable --now "$timer" >/dev/null
    else
      event WARNING timer_skipped "$timer: $unit_file is not in the host bundle"
    fi
  done
  event INFO units_ready
}

configure_nginx() {
  if [[ -f $HOST_DIR/nginx/log-format.conf ]]; then
    copy_file 0644 root:root "$HOST_DIR/nginx/log-format.conf" "$NGINX_DIR/log-format.conf"
  fi
  if [[ ! -e $NGINX_DIR/upstream.conf ]]; then
${writeFileBlock(file(`${HOST_PATHS.nginxDir}/upstream.conf`), "    ")}  fi
${siteBlock}  ln -sfn /etc/nginx/sites-available/guincho /etc/nginx/sites-enabled/guincho
  if [[ -e /etc/nginx/sites-enabled/default ]]; then
    rm -f /etc/nginx/sites-enabled/default
    CHANGED+=(/etc/nginx/sites-enabled/default)
  fi
  nginx -t -q || fail nginx_config_invalid "nginx -t refused the configuration"
  systemctl enable nginx >/dev/null
  if ! systemctl is-active --quiet nginx; then
    systemctl start nginx
  elif changed /etc/nginx/; then
    systemctl reload nginx
  fi
  event INFO nginx_ready
}

configure_logrotate() {
  # The package's rule would rotate the same files twice: divert it, once and for all.
  if ! dpkg-divert --list /etc/logrotate.d/nginx | grep -q .; then
    dpkg-divert --local --rename --divert /etc/guincho/logrotate-nginx.distrib \\
      --add /etc/logrotate.d/nginx >/dev/null
  fi
${writeFileBlock(file("/etc/logrotate.d/guincho"))}}

main() {
  exec 9>/run/guincho-bootstrap.lock
  flock -w 600 9 || fail bootstrap_busy "another bootstrap run holds /run/guincho-bootstrap.lock"
  event INFO bootstrap_started "$BUNDLE_DIGEST"
  install_packages
  create_user
  prepare_data_disk
  make_directories
  install_host_bundle
  write_host_env
  install_ops_agent
  install_units
  configure_nginx
  configure_logrotate
  event INFO bootstrap_finished "\${#CHANGED[@]} file(s) changed"
}

# Tests source this file with GUINCHO_BOOTSTRAP_LIBRARY=1 to run single functions.
if [[ \${GUINCHO_BOOTSTRAP_LIBRARY:-} != 1 ]]; then
  main "$@"
fi
`;
}

/** The host tools bundle as index.ts hands it to the artifacts and server components. */
export interface HostBundle {
  /** Absolute path of the repo's host/ directory. */
  root: string;
  files: BundleFile[];
  digest: string;
  objectName: string;
  /** The access-log format the site uses (see `accessLogFormat`). */
  accessLogFormat: string;
}

/** Reads host/ once: its files, digest, object name and the nginx log format it ships. */
export function readHostBundle(root: string): HostBundle {
  const files = readBundleDir(root);
  const digest = bundleDigest(files);
  const logFormat = files.find((f) => f.path === "nginx/log-format.conf");
  return {
    root,
    files,
    digest,
    objectName: bundleObjectName(digest),
    accessLogFormat: accessLogFormat(logFormat?.content.toString("utf8")),
  };
}
