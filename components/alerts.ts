/**
 * The stage's alert policies as plain data: one `AlertSpec` per alert, with its condition
 * (filter, threshold, duration, aggregation), severity, and the documentation an on-call
 * person reads in the notification. `components/monitoring.ts` turns each spec into a
 * `gcp.monitoring.AlertPolicy`; tests and `docs/monitoring.md` read the same specs.
 *
 * Every alert id names its runbook page, `docs/runbooks/<id>.md`.
 */

/** How bad an alert is. SMS goes out for CRITICAL and ERROR only; e-mail and chat for all. */
export type AlertSeverity = "CRITICAL" | "ERROR" | "WARNING";

/** What an alert is about, as the handbook groups them. */
export type AlertCategory = "availability" | "performance" | "data" | "security";

/** How time series are aligned and combined before the comparison. */
export interface Aggregation {
  alignmentPeriod: string;
  perSeriesAligner: string;
  crossSeriesReducer?: string;
  groupByFields?: string[];
}

/** A metric compared with a threshold (optionally a ratio of two metrics, or a forecast). */
export interface ThresholdCondition {
  kind: "threshold";
  filter: string;
  aggregation: Aggregation;
  /** Ratio alerts: the metric the `filter` is divided by. */
  denominator?: { filter: string; aggregation: Aggregation };
  comparison: "COMPARISON_GT" | "COMPARISON_LT";
  threshold: number;
  durationSeconds: number;
  /** Forecast alerts: fire when the value is predicted to cross the threshold this soon. */
  forecastHorizonSeconds?: number;
}

/** A metric that stops arriving. */
export interface AbsentCondition {
  kind: "absent";
  filter: string;
  aggregation: Aggregation;
  durationSeconds: number;
}

/** Any log entry matching a filter (notifications rate-limited, incidents auto-closed). */
export interface LogMatchCondition {
  kind: "log";
  filter: string;
  /** Values copied from the entry into the notification, e.g. who did it. */
  labelExtractors?: Record<string, string>;
}

export type AlertCondition = ThresholdCondition | AbsentCondition | LogMatchCondition;

/** One alert policy of the stage, before it becomes a resource. */
export interface AlertSpec {
  /** Stable id: resource names and the runbook page derive from it. */
  id: string;
  title: string;
  category: AlertCategory;
  severity: AlertSeverity;
  condition: AlertCondition;
  /** The threshold as a person reads it, for the documentation and the handbook. */
  thresholdText: string;
  meaning: string;
  /** The first three things to check, in order. */
  checks: [string, string, string];
}

/** The thresholds of a stage (`cfg.monitoring`), as `config.ts` validated them. */
export interface AlertThresholds {
  latencyP95Ms: number;
  errorRatePercent: number;
  cpuPercent: number;
  memoryPercent: number;
  diskPercent: number;
  backupMaxAgeHours: number;
  syncFailuresPerHour: number;
  backupBucketMaxGb: number;
  diskFullForecastDays: number;
  blockedRequestsPerMinute: number;
  loginAlerts: boolean;
}

/** What the alert set depends on besides thresholds. */
export interface AlertContext {
  stage: string;
  /** The public host name the uptime check requests (edge stages only). */
  fqdn: string;
  /** Whether the stage has the HTTPS load balancer (uptime, latency, 5xx, Cloud Armor). */
  edgeEnabled: boolean;
  backupBucketName: string;
  thresholds: AlertThresholds;
}

/** Log-based metrics the alerts and the dashboard read, by short key. */
export const LOG_METRICS = {
  backupCompleted: {
    name: "guincho/backup_completed",
    event: "backup_completed",
    description: "Backups that completed (verified and uploaded), by kind.",
    labels: { kind: "EXTRACT(jsonPayload.kind)" },
  },
  syncFailed: {
    name: "guincho/sync_failed",
    event: "sync_failed",
    description: "Google Sheets sync runs of the app that failed.",
    labels: {},
  },
  syncCompleted: {
    name: "guincho/sync_completed",
    event: "sync_completed",
    description: "Google Sheets sync runs of the app that completed.",
    labels: {},
  },
} as const;

export type LogMetricKey = keyof typeof LOG_METRICS;

/** The log filter of a host or app event (`jsonPayload.event`, as the Ops Agent ships it). */
export function eventFilter(...events: string[]): string {
  const match =
    events.length === 1
      ? `"${events[0]}"`
      : `(${events.map((event) => `"${event}"`).join(" OR ")})`;
  return `resource.type="gce_instance" AND jsonPayload.event=${match}`;
}

/** The monitoring filter of a log-based metric's time series. */
export function logMetricFilter(key: LogMetricKey): string {
  return (
    `metric.type="logging.googleapis.com/user/${LOG_METRICS[key].name}" AND ` +
    'resource.type="gce_instance"'
  );
}

/** Where an alert's runbook lives in the repository. */
export function runbookPath(id: string): string {
  return `docs/runbooks/${id}.md`;
}

const HOUR = 3600;
const GIB = 1024 ** 3;
/** The window the backup freshness alert aligns over; the rest of the age is its duration. */
export const BACKUP_ALIGNMENT_SECONDS = 2 * HOUR;
/** The fill level the disk forecast predicts; above the usual `diskPercent` on purpose. */
export const DISK_FORECAST_PERCENT = 95;
/** Uptime checker locations that must fail together before anyone is woken up. */
export const UPTIME_FAILING_LOCATIONS = 2;

/** The report routines of the host (`host/bin/<name>` with `-` as `_`), whose failures alert. */
export const HOST_ROUTINES = ["error_review", "perf_audit", "security_check", "capacity_report"];

const AUDIT_ACTIVITY = 'logName:"cloudaudit.googleapis.com%2Factivity"';
const WHO = { principal: "EXTRACT(protoPayload.authenticationInfo.principalEmail)" };
const ONE_PROJECT = {
  crossSeriesReducer: "REDUCE_SUM",
  groupByFields: ["resource.label.project_id"],
};

function availabilityAlerts(ctx: AlertContext): AlertSpec[] {
  const alerts: AlertSpec[] = [];
  if (ctx.edgeEnabled) {
    alerts.push({
      id: "uptime-healthz",
      title: "Site down: /healthz fails from several places",
      category: "availability",
      severity: "CRITICAL",
      condition: {
        kind: "threshold",
        filter:
          'metric.type="monitoring.googleapis.com/uptime_check/check_passed" AND ' +
          `resource.type="uptime_url" AND resource.label.host="${ctx.fqdn}"`,
        aggregation: {
          alignmentPeriod: "300s",
          perSeriesAligner: "ALIGN_NEXT_OLDER",
          crossSeriesReducer: "REDUCE_COUNT_FALSE",
          groupByFields: ["resource.label.host"],
        },
        comparison: "COMPARISON_GT",
        threshold: UPTIME_FAILING_LOCATIONS - 1,
        durationSeconds: 300,
      },
      thresholdText:
        `https://${ctx.fqdn}/healthz fails (no 2xx, or no "status": "ok") from ` +
        `${UPTIME_FAILING_LOCATIONS} or more checker locations for 5 minutes`,
      meaning:
        "Customers cannot use the system: the public health check fails from more than one " +
        "place in the world, so it is not one checker's network.",
      checks: [
        "Open the site yourself; then the load balancer's backend health in the console " +
          "(Network services > Load balancing).",
        "On the VM (IAP SSH): `systemctl status nginx 'guincho-app@*'` and " +
          "`curl -s localhost/healthz`.",
        "Did a deploy, a restore or a patch job run in the last hour? " +
          "(`journalctl -u 'guincho-*' --since -1h`, OS Config patch jobs.)",
      ],
    });
  }
  alerts.push({
    id: "host-silent",
    title: "VM silent: no heartbeat from the Ops Agent",
    category: "availability",
    severity: "CRITICAL",
    condition: {
      kind: "absent",
      filter: 'metric.type="agent.googleapis.com/agent/uptime" AND resource.type="gce_instance"',
      aggregation: { alignmentPeriod: "300s", perSeriesAligner: "ALIGN_RATE", ...ONE_PROJECT },
      durationSeconds: 600,
    },
    thresholdText: "no Ops Agent heartbeat from any VM of the project for 10 minutes",
    meaning:
      "The VM is stopped, hung, or its Ops Agent died. While it lasts, every log-based alert " +
      "(backups, drills, sync) is blind too." +
      (ctx.edgeEnabled
        ? ""
        : " In this stage (no load balancer) it stands in for the uptime check."),
    checks: [
      "Compute Engine > VM instances: is the VM running? Its serial console shows why it stopped.",
      "If it runs: IAP SSH in and `systemctl status google-cloud-ops-agent`.",
      "Was a patch job rebooting it (OS Config > Patch jobs)? A reboot lasts minutes, not ten.",
    ],
  });
  alerts.push({
    id: "release-failed",
    title: "Deploy, rollback or restore failed",
    category: "availability",
    severity: "ERROR",
    condition: {
      kind: "log",
      filter: eventFilter("deploy_failed", "rollback_failed", "restore_failed"),
      labelExtractors: {
        event: "EXTRACT(jsonPayload.event)",
        step: "EXTRACT(jsonPayload.step)",
      },
    },
    thresholdText: "any deploy_failed, rollback_failed or restore_failed event",
    meaning:
      "A release, rollback or restore stopped part-way. The tools keep the serving colour " +
      "running when they can; the event says which step failed and what serves now.",
    checks: [
      "Read the event (Logs Explorer, `jsonPayload.event` above): its `step`, `error`, `serving`.",
      "On the VM: `curl -s localhost/healthz` and `cat /etc/nginx/guincho/upstream.conf`.",
      "Decide: fix and redeploy, or `host/bin/rollback` (docs/runbooks/release-failed.md).",
    ],
  });
  alerts.push({
    id: "host-routine-failed",
    title: "Host report routine failed",
    category: "availability",
    severity: "WARNING",
    condition: {
      kind: "log",
      filter: eventFilter(...HOST_ROUTINES.map((routine) => `${routine}_failed`)),
      labelExtractors: { event: "EXTRACT(jsonPayload.event)", error: "EXTRACT(jsonPayload.error)" },
    },
    thresholdText: `any ${HOST_ROUTINES.map((routine) => `${routine}_failed`).join(", ")} event`,
    meaning:
      "A daily, weekly or monthly report of the VM could not run, so its findings (errors by " +
      "kind, slow paths, pending updates, days until the disk is full) are missing.",
    checks: [
      "Read the event's `error`: a missing log file, a permission, a full disk?",
      "`systemctl status guincho-<routine>` and `journalctl -u guincho-<routine> -n 50`.",
      "Run it by hand once fixed: `sudo systemctl start guincho-<routine>`.",
    ],
  });
  return alerts;
}

function performanceAlerts(ctx: AlertContext): AlertSpec[] {
  const t = ctx.thresholds;
  const vm = 'resource.type="gce_instance"';
  const alerts: AlertSpec[] = [];
  if (ctx.edgeEnabled) {
    const requests =
      'metric.type="loadbalancing.googleapis.com/https/request_count" AND ' +
      'resource.type="https_lb_rule"';
    const perUrlMap = {
      alignmentPeriod: "300s",
      perSeriesAligner: "ALIGN_RATE",
      crossSeriesReducer: "REDUCE_SUM",
      groupByFields: ["resource.label.url_map_name"],
    };
    alerts.push(
      {
        id: "lb-latency-p95",
        title: "Slow responses: p95 latency at the load balancer",
        category: "performance",
        severity: "WARNING",
        condition: {
          kind: "threshold",
          filter:
            'metric.type="loadbalancing.googleapis.com/https/total_latencies" AND ' +
            'resource.type="https_lb_rule"',
          // NOTE: ALIGN_DELTA then REDUCE_PERCENTILE_95 is the p95 of all requests together;
          // a per-series percentile would let one rare slow client country page someone.
          aggregation: {
            alignmentPeriod: "300s",
            perSeriesAligner: "ALIGN_DELTA",
            crossSeriesReducer: "REDUCE_PERCENTILE_95",
            groupByFields: ["resource.label.url_map_name"],
          },
          comparison: "COMPARISON_GT",
          threshold: t.latencyP95Ms,
          durationSeconds: 600,
        },
        thresholdText: `95% of requests take longer than ${t.latencyP95Ms} ms for 10 minutes`,
        meaning:
          "Users wait: one request in twenty takes longer than the stage allows, measured " +
          "where users meet the system (the load balancer, including the VM's time).",
        checks: [
          "Dashboard: is CPU or memory high at the same time? Then the VM is the bottleneck.",
          'Last perf-audit report (`jsonPayload.event="perf_audit_report"`): which paths?',
          "A deploy or a Sheets sync at that time? Compare with the release and sync events.",
        ],
      },
      {
        id: "lb-5xx-ratio",
        title: "Server errors: share of 5xx responses",
        category: "performance",
        severity: "ERROR",
        condition: {
          kind: "threshold",
          filter: `${requests} AND metric.label.response_code_class=500`,
          aggregation: perUrlMap,
          denominator: { filter: requests, aggregation: perUrlMap },
          comparison: "COMPARISON_GT",
          threshold: t.errorRatePercent / 100,
          durationSeconds: 300,
        },
        thresholdText: `more than ${t.errorRatePercent}% of responses are 5xx for 5 minutes`,
        meaning:
          "The app (or nginx in front of it) answers with server errors. 502/503 usually " +
          "mean the app is down or restarting; 500 means it crashes on some requests.",
        checks: [
          "Logs Explorer: load balancer requests with status >= 500: which paths, since when?",
          "On the VM: `journalctl -u 'guincho-app@*' --since -30min` for tracebacks.",
          "A deploy in the last hour? Roll back first, investigate after (release runbook).",
        ],
      },
    );
  }
  alerts.push(
    {
      id: "vm-cpu",
      title: "VM CPU high",
      category: "performance",
      severity: "WARNING",
      condition: {
        kind: "threshold",
        filter: `metric.type="compute.googleapis.com/instance/cpu/utilization" AND ${vm}`,
        aggregation: { alignmentPeriod: "300s", perSeriesAligner: "ALIGN_MEAN" },
        comparison: "COMPARISON_GT",
        threshold: t.cpuPercent / 100,
        durationSeconds: 900,
      },
      thresholdText: `CPU above ${t.cpuPercent}% (5-minute mean) for 15 minutes`,
      meaning: "The VM has been busy for a quarter of an hour; responses slow down next.",
      checks: [
        "On the VM: `top -o %CPU`: the app, a backup (gzip), a patch job (apt), or else?",
        "Dashboard: did traffic grow (request rate) or did a release change the app?",
        "If it is steady growth: the monthly capacity report; consider a bigger machine type.",
      ],
    },
    {
      id: "vm-memory",
      title: "VM memory high",
      category: "performance",
      severity: "WARNING",
      condition: {
        kind: "threshold",
        filter:
          `metric.type="agent.googleapis.com/memory/percent_used" AND ${vm} AND ` +
          'metric.label.state="used"',
        aggregation: { alignmentPeriod: "300s", perSeriesAligner: "ALIGN_MEAN" },
        comparison: "COMPARISON_GT",
        threshold: t.memoryPercent,
        durationSeconds: 900,
      },
      thresholdText: `memory use above ${t.memoryPercent}% for 15 minutes`,
      meaning:
        "The VM is close to running out of memory; the kernel will soon kill a process " +
        "(often the app) to free some.",
      checks: [
        "On the VM: `ps aux --sort=-rss | head`: which process holds the memory?",
        "`journalctl -k | grep -i oom`: has the OOM killer already struck?",
        "Two app colours running for long (a stuck drain)? `systemctl list-units 'guincho-app@*'`.",
      ],
    },
    {
      id: "vm-disk",
      title: "Disk almost full",
      category: "performance",
      severity: "ERROR",
      condition: {
        kind: "threshold",
        filter:
          `metric.type="agent.googleapis.com/disk/percent_used" AND ${vm} AND ` +
          'metric.label.state="used"',
        aggregation: { alignmentPeriod: "300s", perSeriesAligner: "ALIGN_MEAN" },
        comparison: "COMPARISON_GT",
        threshold: t.diskPercent,
        durationSeconds: 600,
      },
      thresholdText: `a disk of the VM above ${t.diskPercent}% used for 10 minutes`,
      meaning:
        "The boot disk or the data disk (the database) is nearly full. SQLite stops writing " +
        "when the data disk fills, and backups need room for their copy.",
      checks: [
        "On the VM: `df -h / /var/lib/guincho`: which disk?",
        "`du -sh /var/lib/guincho/*` (local backups, releases) and `journalctl --disk-usage`.",
        "Data disk: grow it (`server.dataDiskGb`, then `pulumi up`), never delete the database.",
      ],
    },
  );
  return alerts;
}

function dataAlerts(ctx: AlertContext): AlertSpec[] {
  const t = ctx.thresholds;
  const ageSeconds = t.backupMaxAgeHours * HOUR;
  return [
    {
      id: "backup-stale",
      title: "No recent backup",
      category: "data",
      severity: "CRITICAL",
      condition: {
        kind: "absent",
        filter: logMetricFilter("backupCompleted"),
        // The aligned series lasts BACKUP_ALIGNMENT_SECONDS after the last backup; absence
        // for the rest of the age fires at exactly backupMaxAgeHours.
        aggregation: {
          alignmentPeriod: `${BACKUP_ALIGNMENT_SECONDS}s`,
          perSeriesAligner: "ALIGN_SUM",
          ...ONE_PROJECT,
        },
        durationSeconds: ageSeconds - BACKUP_ALIGNMENT_SECONDS,
      },
      thresholdText: `no backup_completed event for ${t.backupMaxAgeHours} hours`,
      meaning:
        "No backup has completed for longer than the schedule allows: if the disk were lost " +
        "now, more data would be lost than the stage accepts.",
      checks: [
        "`systemctl list-timers 'guincho-backup*'` and `systemctl status 'guincho-backup@daily'`.",
        'Logs Explorer: `jsonPayload.event="backup_failed"`: the reason of the last failure.',
        "Take one now: `sudo systemctl start guincho-backup@daily` and watch its events.",
      ],
    },
    {
      id: "backup-failed",
      title: "Backup failed",
      category: "data",
      severity: "ERROR",
      condition: {
        kind: "log",
        filter: eventFilter("backup_failed"),
        labelExtractors: { reason: "EXTRACT(jsonPayload.reason)" },
      },
      thresholdText: "any backup_failed event",
      meaning:
        "A backup run stopped before its copy was verified and uploaded. The previous " +
        "backups are untouched; the next run will try again.",
      checks: [
        "Read the event's `reason`: disk space, integrity check, upload, lock?",
        "Is the data disk full (`df -h /var/lib/guincho`) or the bucket unreachable?",
        "Run it again by hand (`sudo systemctl start guincho-backup@daily`) once fixed.",
      ],
    },
    {
      id: "restore-drill-failed",
      title: "Restore drill failed: the latest backup did not restore",
      category: "data",
      severity: "CRITICAL",
      condition: {
        kind: "log",
        filter: eventFilter("restore_drill_failed"),
        labelExtractors: { reason: "EXTRACT(jsonPayload.reason)" },
      },
      thresholdText: "any restore_drill_failed event (the daily drill)",
      meaning:
        "The daily drill could not restore the latest backup and open it. Until fixed, the " +
        "newest backup may be unusable in an emergency.",
      checks: [
        "Read the event's `reason`: checksum, integrity check, missing object, download?",
        "Run the drill again: `sudo systemctl start guincho-restore-drill` and read its events.",
        "If the backup itself is bad: take a fresh backup now and drill it (runbook).",
      ],
    },
    {
      id: "sheets-sync-failures",
      title: "Google Sheets sync failing",
      category: "data",
      severity: "WARNING",
      condition: {
        kind: "threshold",
        filter: logMetricFilter("syncFailed"),
        aggregation: { alignmentPeriod: `${HOUR}s`, perSeriesAligner: "ALIGN_SUM", ...ONE_PROJECT },
        comparison: "COMPARISON_GT",
        threshold: t.syncFailuresPerHour,
        durationSeconds: 0,
      },
      thresholdText: `more than ${t.syncFailuresPerHour} sync_failed events in one hour`,
      meaning:
        "The app cannot keep the spreadsheet in step with the database; office staff will see " +
        "stale rows in the sheet.",
      checks: [
        "Read a `sync_failed` event's `error`: permission (sheet not shared with the app's " +
          "account), quota (429), or network?",
        "Is the spreadsheet still shared with the app's service account as editor?",
        "Quotas: APIs & Services > Google Sheets API > Quotas (the stage's per-minute caps).",
      ],
    },
    {
      id: "backup-bucket-size",
      title: "Backup bucket larger than planned",
      category: "data",
      severity: "WARNING",
      condition: {
        kind: "threshold",
        filter:
          'metric.type="storage.googleapis.com/storage/total_bytes" AND ' +
          `resource.type="gcs_bucket" AND resource.label.bucket_name="${ctx.backupBucketName}"`,
        aggregation: { alignmentPeriod: `${24 * HOUR}s`, perSeriesAligner: "ALIGN_MAX" },
        comparison: "COMPARISON_GT",
        threshold: t.backupBucketMaxGb * GIB,
        durationSeconds: 0,
      },
      thresholdText: `the backup bucket holds more than ${t.backupBucketMaxGb} GiB`,
      meaning:
        "Backups take more space than planned: the database grew, or old versions are not " +
        "expiring. Costs grow with it.",
      checks: [
        "`gcloud storage du -s gs://" + ctx.backupBucketName + "` and the object count.",
        "Is the bucket's lifecycle rule in place (delete noncurrent versions after retention)?",
        "Monthly capacity report: how fast does the database grow? Raise the limit if expected.",
      ],
    },
    {
      id: "disk-fill-forecast",
      title: "Disk forecast to fill up",
      category: "data",
      severity: "WARNING",
      condition: {
        kind: "threshold",
        filter:
          'metric.type="agent.googleapis.com/disk/percent_used" AND ' +
          'resource.type="gce_instance" AND metric.label.state="used"',
        aggregation: { alignmentPeriod: `${HOUR}s`, perSeriesAligner: "ALIGN_MAX" },
        comparison: "COMPARISON_GT",
        threshold: DISK_FORECAST_PERCENT,
        durationSeconds: HOUR,
        forecastHorizonSeconds: t.diskFullForecastDays * 24 * HOUR,
      },
      thresholdText:
        `a disk is forecast to pass ${DISK_FORECAST_PERCENT}% within ` +
        `${t.diskFullForecastDays} days`,
      meaning:
        "At the current growth a disk (usually the data disk) will be full within days. There " +
        "is time to act calmly: this is a planning alert, not an outage.",
      checks: [
        "Dashboard: disk use over the last weeks: steady growth or one jump?",
        "`du -sh /var/lib/guincho/*`: database, local backup copies, or releases?",
        "Grow the data disk (`server.dataDiskGb`) or lower `backup.localCopies`.",
      ],
    },
  ];
}

function securityAlerts(ctx: AlertContext): AlertSpec[] {
  const t = ctx.thresholds;
  const alerts: AlertSpec[] = [
    {
      id: "iam-policy-changed",
      title: "IAM policy changed",
      category: "security",
      severity: "WARNING",
      condition: {
        kind: "log",
        filter:
          `${AUDIT_ACTIVITY} AND (protoPayload.methodName:"SetIamPolicy" OR ` +
          'protoPayload.methodName="storage.setIamPermissions")',
        labelExtractors: { ...WHO, method: "EXTRACT(protoPayload.methodName)" },
      },
      thresholdText: "any SetIamPolicy (project, service account, secret, bucket) in audit logs",
      meaning:
        "Someone changed who may do what in this stage's project. Expected during a `pulumi up` " +
        "that changes IAM; anything else must be explained.",
      checks: [
        "Who (`principal` above)? The deployer service account during a deploy is expected.",
        "Logs Explorer: the entry's `protoPayload.serviceData.policyDelta`: what was granted?",
        "Not explained: revert it (`pulumi up` restores the declared bindings) and escalate.",
      ],
    },
    {
      id: "firewall-changed",
      title: "Firewall rule changed",
      category: "security",
      severity: "WARNING",
      condition: {
        kind: "log",
        filter:
          `${AUDIT_ACTIVITY} AND resource.type="gce_firewall_rule" AND ` +
          'protoPayload.methodName:"compute.firewalls."',
        labelExtractors: { ...WHO, method: "EXTRACT(protoPayload.methodName)" },
      },
      thresholdText: "any firewall rule insert, patch, update or delete in audit logs",
      meaning:
        "A firewall rule of the stage's network was created, changed or deleted. Outside a " +
        "deploy this may open the VM to the internet.",
      checks: [
        "Who (`principal` above), and was a deploy running then?",
        "`gcloud compute firewall-rules list`: compare with the rules in docs/network.md.",
        "Not explained: `pulumi up` restores the declared rules; then escalate.",
      ],
    },
    {
      id: "sa-key-created",
      title: "Service account key created",
      category: "security",
      severity: "ERROR",
      condition: {
        kind: "log",
        filter:
          `${AUDIT_ACTIVITY} AND protoPayload.methodName=(` +
          '"google.iam.admin.v1.CreateServiceAccountKey" OR ' +
          '"google.iam.admin.v1.UploadServiceAccountKey")',
        labelExtractors: { ...WHO, account: "EXTRACT(protoPayload.request.name)" },
      },
      thresholdText: "any CreateServiceAccountKey or UploadServiceAccountKey in audit logs",
      meaning:
        "This system uses no service account keys at all (the VM and CI are keyless). A new " +
        "key is a long-lived credential that can leak: treat it as an incident.",
      checks: [
        "Who (`principal`) and for which account? Ask them why, now.",
        "`gcloud iam service-accounts keys list --iam-account <account> --managed-by=user`.",
        "Delete the key unless there is a written exception; review the account's recent use.",
      ],
    },
    {
      id: "patches-overdue",
      title: "Security updates overdue on the VM",
      category: "security",
      severity: "WARNING",
      condition: {
        kind: "log",
        // The Ops Agent may lift "severity" out of jsonPayload or leave it there: accept both.
        filter:
          `${eventFilter("security_check_report")} AND ` +
          '(severity>=WARNING OR jsonPayload.severity="WARNING")',
        labelExtractors: { overdue: "EXTRACT(jsonPayload.overdue_packages)" },
      },
      thresholdText:
        "the weekly security check reports security updates or a reboot pending for longer " +
        "than allowed",
      meaning:
        "The weekly patch run is not getting security fixes onto the VM (or it waits for a " +
        "reboot): known holes stay open.",
      checks: [
        "Read the event's `warnings` and `overdue_packages`.",
        "VM Manager > Patch jobs: did the last weekly-security run fail, and at which step " +
          "(a failed pre-patch backup skips the patch)?",
        "Reboot pending? Reboot in the window, or run the patch job by hand (docs/monitoring.md).",
      ],
    },
  ];
  if (t.loginAlerts) {
    alerts.push({
      id: "vm-login",
      title: "Login to the VM through IAP",
      category: "security",
      severity: "WARNING",
      condition: {
        kind: "log",
        filter:
          'protoPayload.serviceName="iap.googleapis.com" AND ' +
          'protoPayload.methodName="AuthorizeUser" AND resource.type="gce_instance"',
        labelExtractors: {
          ...WHO,
          granted: "EXTRACT(protoPayload.authorizationInfo.granted)",
        },
      },
      thresholdText: "any IAP TCP tunnel (SSH) opened or refused to the VM",
      meaning:
        "Someone opened (or tried to open) an IAP tunnel to the VM, the only way in. Logins " +
        "are rare and should match someone's task.",
      checks: [
        "Who (`principal`), and was it granted? Does it match a known task or incident?",
        "On the VM: `journalctl -u ssh --since -1h` and `last -n 20`.",
        "Unknown person or refused attempts: check `admins` in the stack file and escalate.",
      ],
    });
  }
  if (ctx.edgeEnabled) {
    alerts.push({
      id: "armor-blocks-spike",
      title: "Cloud Armor blocking many requests",
      category: "security",
      severity: "WARNING",
      condition: {
        kind: "threshold",
        filter:
          'metric.type="networksecurity.googleapis.com/https/request_count" AND ' +
          'resource.type="network_security_policy" AND metric.label.blocked=true',
        aggregation: {
          alignmentPeriod: "60s",
          perSeriesAligner: "ALIGN_SUM",
          ...ONE_PROJECT,
        },
        comparison: "COMPARISON_GT",
        threshold: t.blockedRequestsPerMinute,
        durationSeconds: 300,
      },
      thresholdText:
        `Cloud Armor blocks more than ${t.blockedRequestsPerMinute} requests per minute ` +
        "for 5 minutes",
      meaning:
        "An attack, a scanner, or a legitimate client caught by a WAF rule or the rate limit. " +
        "If customers are blocked, it is an outage for them.",
      checks: [
        'Logs Explorer: load balancer requests with `enforcedSecurityPolicy.outcome="DENY"`: ' +
          "which rule, which client IPs?",
        "Is one IP or range behind most of it? Add it to `edge.denyList` if hostile.",
        "Customers blocked (a rule false positive)? Report it; do not disable the WAF blindly.",
      ],
    });
  }
  return alerts;
}

/** Every alert policy of a stage, in the order the handbook lists them. */
export function alertSpecs(ctx: AlertContext): AlertSpec[] {
  return [
    ...availabilityAlerts(ctx),
    ...performanceAlerts(ctx),
    ...dataAlerts(ctx),
    ...securityAlerts(ctx),
  ];
}

/** Thresholds with every alert switched on: the config's defaults, for examples and tests. */
export const EXAMPLE_THRESHOLDS: Readonly<AlertThresholds> = {
  latencyP95Ms: 1500,
  errorRatePercent: 2,
  cpuPercent: 85,
  memoryPercent: 90,
  diskPercent: 85,
  backupMaxAgeHours: 25,
  syncFailuresPerHour: 3,
  backupBucketMaxGb: 20,
  diskFullForecastDays: 7,
  blockedRequestsPerMinute: 60,
  loginAlerts: true,
};

/** Every alert id that any stage can have, with its runbook page (for link checks). */
export function runbookLinks(): { id: string; path: string }[] {
  const everything: AlertContext = {
    stage: "prod",
    fqdn: "app.example.com",
    edgeEnabled: true,
    backupBucketName: "example-backups",
    thresholds: EXAMPLE_THRESHOLDS,
  };
  return alertSpecs(everything).map((spec) => ({ id: spec.id, path: runbookPath(spec.id) }));
}

/**
 * The markdown an alert notification carries: what it means, the stage's threshold, the
 * first three things to check, and the runbook page.
 */
export function alertDocumentation(spec: AlertSpec, stage: string, runbookUrl?: string): string {
  const runbook = runbookUrl
    ? `[${runbookPath(spec.id)}](${runbookUrl})`
    : `\`${runbookPath(spec.id)}\``;
  return [
    `### ${spec.title} (${stage})`,
    "",
    `**What it means:** ${spec.meaning}`,
    "",
    `**Fires when:** ${spec.thresholdText}.`,
    "",
    "**First three things to check:**",
    "",
    ...spec.checks.map((check, i) => `${i + 1}. ${check}`),
    "",
    `**Runbook:** ${runbook} in the infrastructure repository; ` +
      "the whole alert list is in `docs/monitoring.md`.",
  ].join("\n");
}

/** Whether an alert should also reach the urgent channels (SMS). */
export function isUrgent(severity: AlertSeverity): boolean {
  return severity === "CRITICAL" || severity === "ERROR";
}
