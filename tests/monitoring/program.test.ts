/**
 * Every alert policy of every stage, as the program declares it: filter, threshold,
 * duration and notification channels, exactly.
 */
import { evaluatePolicies } from "../../policies/evaluate";
import type { ProgramRun } from "../../tools/program";
import { named, ofType, only, plain, runStage, type Stage } from "../helpers/program";

const POLICY = "gcp:monitoring/alertPolicy:AlertPolicy";
const CHANNELS = "projects/mock-project/notificationChannels/";
const runs = {} as Record<Stage, ProgramRun>;

beforeAll(async () => {
  for (const stage of ["dev", "staging", "prod"] as const) {
    runs[stage] = await runStage(stage);
  }
});

interface Condition {
  conditionThreshold?: Record<string, unknown>;
  conditionAbsent?: Record<string, unknown>;
  conditionMatchedLog?: Record<string, unknown>;
}

/** The parts of a policy an on-call person relies on, in one comparable object. */
function summary(stage: Stage, id: string) {
  const props = named(runs[stage], POLICY, `guincho-${stage}-${id}`).props;
  const condition = (props.conditions as Condition[])[0];
  const channels = (props.notificationChannels as string[]).map((c) =>
    c.replace(`${CHANNELS}guincho-${stage}-`, ""),
  );
  const body = condition.conditionThreshold ?? condition.conditionAbsent;
  if (!body) {
    return { filter: condition.conditionMatchedLog?.filter, channels };
  }
  return {
    filter: body.filter,
    threshold: body.thresholdValue,
    duration: body.duration,
    channels,
  };
}

const VM = 'resource.type="gce_instance"';
const LB = 'resource.type="https_lb_rule"';
const LB_REQUESTS = `metric.type="loadbalancing.googleapis.com/https/request_count" AND ${LB}`;
const USED = 'metric.label.state="used"';
const AUDIT = 'logName:"cloudaudit.googleapis.com%2Factivity"';

const FILTERS: Record<string, string> = {
  "uptime-healthz":
    'metric.type="monitoring.googleapis.com/uptime_check/check_passed" AND ' +
    'resource.type="uptime_url" AND resource.label.host="HOST"',
  "host-silent": `metric.type="agent.googleapis.com/agent/uptime" AND ${VM}`,
  "release-failed":
    `${VM} AND jsonPayload.event=("deploy_failed" OR "rollback_failed" OR ` + '"restore_failed")',
  "host-routine-failed":
    `${VM} AND jsonPayload.event=("error_review_failed" OR "perf_audit_failed" OR ` +
    '"security_check_failed" OR "capacity_report_failed")',
  "patches-overdue":
    `${VM} AND jsonPayload.event="security_check_report" AND ` +
    '(severity>=WARNING OR jsonPayload.severity="WARNING")',
  "lb-latency-p95": `metric.type="loadbalancing.googleapis.com/https/total_latencies" AND ${LB}`,
  "lb-5xx-ratio": `${LB_REQUESTS} AND metric.label.response_code_class=500`,
  "vm-cpu": `metric.type="compute.googleapis.com/instance/cpu/utilization" AND ${VM}`,
  "vm-memory": `metric.type="agent.googleapis.com/memory/percent_used" AND ${VM} AND ${USED}`,
  "vm-disk": `metric.type="agent.googleapis.com/disk/percent_used" AND ${VM} AND ${USED}`,
  "backup-stale": `metric.type="logging.googleapis.com/user/guincho/backup_completed" AND ${VM}`,
  "backup-failed": `${VM} AND jsonPayload.event="backup_failed"`,
  "restore-drill-failed": `${VM} AND jsonPayload.event="restore_drill_failed"`,
  "sheets-sync-failures": `metric.type="logging.googleapis.com/user/guincho/sync_failed" AND ${VM}`,
  "backup-bucket-size":
    'metric.type="storage.googleapis.com/storage/total_bytes" AND resource.type="gcs_bucket" ' +
    'AND resource.label.bucket_name="guincho-lacerda-STAGE-backups"',
  "disk-fill-forecast": "",
  "iam-policy-changed":
    `${AUDIT} AND (protoPayload.methodName:"SetIamPolicy" OR ` +
    'protoPayload.methodName="storage.setIamPermissions")',
  "firewall-changed":
    `${AUDIT} AND resource.type="gce_firewall_rule" AND ` +
    'protoPayload.methodName:"compute.firewalls."',
  "sa-key-created":
    `${AUDIT} AND protoPayload.methodName=("google.iam.admin.v1.CreateServiceAccountKey" OR ` +
    '"google.iam.admin.v1.UploadServiceAccountKey")',
  "vm-login":
    'protoPayload.serviceName="iap.googleapis.com" AND protoPayload.methodName="AuthorizeUser" ' +
    `AND ${VM}`,
  "armor-blocks-spike":
    'metric.type="networksecurity.googleapis.com/https/request_count" AND ' +
    'resource.type="network_security_policy" AND metric.label.blocked=true',
};

// The forecast watches the same series as the disk alert, with another threshold.
FILTERS["disk-fill-forecast"] = FILTERS["vm-disk"];

const GIB = 1024 ** 3;
const DEV_ALL = ["email-marina-souza"];
const STAGING_ALL = ["email-marina-souza", "email-rafael-lacerda"];
const PROD_URGENT = ["email-rafael-lacerda", "sms-rafael-lacerda", "email-marina-souza", "chat"];
const PROD_ALL = ["email-rafael-lacerda", "email-marina-souza", "chat"];

/** [id, threshold, duration] per stage; undefined for log-match alerts; null = absent. */
type Row = [string, unknown, unknown, string[]] | null;
const EXPECTED: Record<Stage, Record<string, Row>> = {
  dev: {
    "uptime-healthz": null,
    "host-silent": ["absent", undefined, "600s", DEV_ALL],
    "release-failed": ["log", undefined, undefined, DEV_ALL],
    "host-routine-failed": ["log", undefined, undefined, DEV_ALL],
    "lb-latency-p95": null,
    "lb-5xx-ratio": null,
    "vm-cpu": ["threshold", 0.95, "900s", DEV_ALL],
    "vm-memory": ["threshold", 95, "900s", DEV_ALL],
    "vm-disk": ["threshold", 90, "600s", DEV_ALL],
    "backup-stale": ["absent", undefined, "82800s", DEV_ALL],
    "backup-failed": ["log", undefined, undefined, DEV_ALL],
    "restore-drill-failed": ["log", undefined, undefined, DEV_ALL],
    "sheets-sync-failures": ["threshold", 20, "0s", DEV_ALL],
    "backup-bucket-size": ["threshold", 5 * GIB, "0s", DEV_ALL],
    "disk-fill-forecast": ["threshold", 95, "3600s", DEV_ALL],
    "iam-policy-changed": ["log", undefined, undefined, DEV_ALL],
    "firewall-changed": ["log", undefined, undefined, DEV_ALL],
    "sa-key-created": ["log", undefined, undefined, DEV_ALL],
    "patches-overdue": ["log", undefined, undefined, DEV_ALL],
    "vm-login": null,
    "armor-blocks-spike": null,
  },
  staging: {
    "uptime-healthz": ["threshold", 1, "300s", STAGING_ALL],
    "host-silent": ["absent", undefined, "600s", STAGING_ALL],
    "release-failed": ["log", undefined, undefined, STAGING_ALL],
    "host-routine-failed": ["log", undefined, undefined, STAGING_ALL],
    "lb-latency-p95": ["threshold", 2000, "600s", STAGING_ALL],
    "lb-5xx-ratio": ["threshold", 0.05, "300s", STAGING_ALL],
    "vm-cpu": ["threshold", 0.85, "900s", STAGING_ALL],
    "vm-memory": ["threshold", 90, "900s", STAGING_ALL],
    "vm-disk": ["threshold", 85, "600s", STAGING_ALL],
    "backup-stale": ["absent", undefined, "82800s", STAGING_ALL],
    "backup-failed": ["log", undefined, undefined, STAGING_ALL],
    "restore-drill-failed": ["log", undefined, undefined, STAGING_ALL],
    "sheets-sync-failures": ["threshold", 3, "0s", STAGING_ALL],
    "backup-bucket-size": ["threshold", 20 * GIB, "0s", STAGING_ALL],
    "disk-fill-forecast": ["threshold", 95, "3600s", STAGING_ALL],
    "iam-policy-changed": ["log", undefined, undefined, STAGING_ALL],
    "firewall-changed": ["log", undefined, undefined, STAGING_ALL],
    "sa-key-created": ["log", undefined, undefined, STAGING_ALL],
    "patches-overdue": ["log", undefined, undefined, STAGING_ALL],
    "vm-login": ["log", undefined, undefined, STAGING_ALL],
    "armor-blocks-spike": ["threshold", 60, "300s", STAGING_ALL],
  },
  prod: {
    "uptime-healthz": ["threshold", 1, "300s", PROD_URGENT],
    "host-silent": ["absent", undefined, "600s", PROD_URGENT],
    "release-failed": ["log", undefined, undefined, PROD_URGENT],
    "host-routine-failed": ["log", undefined, undefined, PROD_ALL],
    "lb-latency-p95": ["threshold", 1500, "600s", PROD_ALL],
    "lb-5xx-ratio": ["threshold", 0.02, "300s", PROD_URGENT],
    "vm-cpu": ["threshold", 0.85, "900s", PROD_ALL],
    "vm-memory": ["threshold", 90, "900s", PROD_ALL],
    "vm-disk": ["threshold", 85, "600s", PROD_URGENT],
    "backup-stale": ["absent", undefined, "82800s", PROD_URGENT],
    "backup-failed": ["log", undefined, undefined, PROD_URGENT],
    "restore-drill-failed": ["log", undefined, undefined, PROD_URGENT],
    "sheets-sync-failures": ["threshold", 3, "0s", PROD_ALL],
    "backup-bucket-size": ["threshold", 20 * GIB, "0s", PROD_ALL],
    "disk-fill-forecast": ["threshold", 95, "3600s", PROD_ALL],
    "iam-policy-changed": ["log", undefined, undefined, PROD_ALL],
    "firewall-changed": ["log", undefined, undefined, PROD_ALL],
    "sa-key-created": ["log", undefined, undefined, PROD_URGENT],
    "patches-overdue": ["log", undefined, undefined, PROD_ALL],
    "vm-login": ["log", undefined, undefined, PROD_ALL],
    "armor-blocks-spike": ["threshold", 60, "300s", PROD_ALL],
  },
};

const HOSTS: Record<Stage, string> = {
  dev: "dev.guincholacerda.com.br",
  staging: "staging.guincholacerda.com.br",
  prod: "app.guincholacerda.com.br",
};

const cases = (["dev", "staging", "prod"] as const).flatMap((stage) =>
  Object.entries(EXPECTED[stage]).map(([id, row]) => [stage, id, row] as const),
);

describe("alert policies per stage", () => {
  test.each(cases.filter(([, , row]) => row !== null))(
    "%s: %s has its exact filter, threshold, duration and channels",
    (stage, id, row) => {
      const [kind, threshold, duration, channels] = row as [string, unknown, unknown, string[]];
      const filter = FILTERS[id].replace("HOST", HOSTS[stage]).replace("STAGE", stage);
      const expected =
        kind === "log" ? { filter, channels } : { filter, threshold, duration, channels };
      expect(summary(stage, id)).toEqual(expected);
    },
  );

  test.each(cases.filter(([, , row]) => row === null))("%s: has no %s policy", (stage, id) => {
    expect(ofType(runs[stage], POLICY).map((r) => r.name)).not.toContain(`guincho-${stage}-${id}`);
  });

  test.each([
    ["dev", 16],
    ["staging", 21],
    ["prod", 21],
  ] as const)("%s declares exactly %d alert policies, none unexpected", (stage, count) => {
    const names = ofType(runs[stage], POLICY).map((r) => r.name.replace(`guincho-${stage}-`, ""));
    const expected = Object.entries(EXPECTED[stage])
      .filter(([, row]) => row !== null)
      .map(([id]) => id);
    expect(names.sort()).toEqual(expected.sort());
    expect(names).toHaveLength(count);
  });

  test("the 5xx alert is a ratio of 5xx responses to all responses, summed per URL map", () => {
    const condition = (
      named(runs.prod, POLICY, "guincho-prod-lb-5xx-ratio").props.conditions as Condition[]
    )[0].conditionThreshold;
    const perUrlMap = {
      alignmentPeriod: "300s",
      perSeriesAligner: "ALIGN_RATE",
      crossSeriesReducer: "REDUCE_SUM",
      groupByFields: ["resource.label.url_map_name"],
    };
    expect(condition).toMatchObject({
      comparison: "COMPARISON_GT",
      aggregations: [perUrlMap],
      denominatorFilter: LB_REQUESTS,
      denominatorAggregations: [perUrlMap],
    });
  });

  test("latency is the 95th percentile of all requests together, in milliseconds", () => {
    const condition = (
      named(runs.prod, POLICY, "guincho-prod-lb-latency-p95").props.conditions as Condition[]
    )[0].conditionThreshold;
    expect(condition?.aggregations).toEqual([
      {
        alignmentPeriod: "300s",
        perSeriesAligner: "ALIGN_DELTA",
        crossSeriesReducer: "REDUCE_PERCENTILE_95",
        groupByFields: ["resource.label.url_map_name"],
      },
    ]);
  });

  test("backup freshness is the absence of the log-based metric for backupMaxAgeHours", () => {
    const condition = (
      named(runs.prod, POLICY, "guincho-prod-backup-stale").props.conditions as Condition[]
    )[0].conditionAbsent;
    // 2 h of alignment + 23 h of absence = 25 h without a backup_completed event.
    expect(condition).toEqual({
      filter: FILTERS["backup-stale"],
      aggregations: [
        {
          alignmentPeriod: "7200s",
          perSeriesAligner: "ALIGN_SUM",
          crossSeriesReducer: "REDUCE_SUM",
          groupByFields: ["resource.label.project_id"],
        },
      ],
      duration: "82800s",
      trigger: { count: 1 },
    });
  });

  test("the disk forecast looks diskFullForecastDays ahead", () => {
    const condition = (
      named(runs.prod, POLICY, "guincho-prod-disk-fill-forecast").props.conditions as Condition[]
    )[0].conditionThreshold;
    expect(condition?.forecastOptions).toEqual({ forecastHorizon: "604800s" });
  });

  test("log-match alerts are rate-limited to one notification per 5 minutes", () => {
    const logPolicies = ofType(runs.prod, POLICY).filter(
      (r) => (r.props.conditions as Condition[])[0].conditionMatchedLog,
    );
    expect(logPolicies.map((r) => r.name.replace("guincho-prod-", "")).sort()).toEqual([
      "backup-failed",
      "firewall-changed",
      "host-routine-failed",
      "iam-policy-changed",
      "patches-overdue",
      "release-failed",
      "restore-drill-failed",
      "sa-key-created",
      "vm-login",
    ]);
    for (const policy of logPolicies) {
      expect(policy.props.alertStrategy).toEqual({
        notificationRateLimit: { period: "300s" },
        autoClose: "1800s",
      });
    }
  });

  test("every prod policy carries its runbook link and the three checks", () => {
    for (const policy of ofType(runs.prod, POLICY)) {
      const id = policy.name.replace("guincho-prod-", "");
      const doc = policy.props.documentation as {
        content: string;
        mimeType: string;
        links: { displayName: string; url: string }[];
      };
      const url = `https://github.com/guincho-lacerda/infra/blob/main/docs/runbooks/${id}.md`;
      expect(doc.mimeType).toBe("text/markdown");
      expect(doc.links).toEqual([{ displayName: "Runbook", url }]);
      expect(doc.content).toContain(`**Runbook:** [docs/runbooks/${id}.md](${url})`);
      expect(doc.content).toMatch(/\*\*What it means:\*\* .{40,}/);
      expect(doc.content).toMatch(/\n1\. .+\n2\. .+\n3\. .+\n/);
      expect((policy.props.notificationChannels as string[]).length).toBeGreaterThan(0);
    }
  });
});

describe("notification channels", () => {
  const channelsOf = (stage: Stage) =>
    ofType(runs[stage], "gcp:monitoring/notificationChannel:NotificationChannel").map((r) => ({
      name: r.name,
      type: r.props.type,
      labels: plain(r.props.labels),
    }));

  test("dev notifies its owner only: the developer is listed, not paged", () => {
    expect(channelsOf("dev")).toEqual([
      {
        name: "guincho-dev-email-marina-souza",
        type: "email",
        labels: { email_address: "marina.souza@guincholacerda.com.br" },
      },
    ]);
  });

  test("staging e-mails its owner and on-call person (no phone, so no SMS)", () => {
    expect(channelsOf("staging").map((c) => c.name)).toEqual([
      "guincho-staging-email-marina-souza",
      "guincho-staging-email-rafael-lacerda",
    ]);
  });

  test("prod adds SMS for the on-call phone and the chat webhook; support is not paged", () => {
    expect(channelsOf("prod")).toEqual([
      {
        name: "guincho-prod-email-rafael-lacerda",
        type: "email",
        labels: { email_address: "rafael.lacerda@guincholacerda.com.br" },
      },
      {
        name: "guincho-prod-sms-rafael-lacerda",
        type: "sms",
        labels: { number: "+5511987654321" },
      },
      {
        name: "guincho-prod-email-marina-souza",
        type: "email",
        labels: { email_address: "marina.souza@guincholacerda.com.br" },
      },
      {
        name: "guincho-prod-chat",
        type: "webhook_tokenauth",
        labels: { url: "[secret: not decrypted by the offline plan]" },
      },
    ]);
  });

  test("the chat webhook's URL is a secret in the state, never a plain label", () => {
    const chat = named(
      runs.prod,
      "gcp:monitoring/notificationChannel:NotificationChannel",
      "guincho-prod-chat",
    );
    expect(chat.props.labels).toEqual({
      "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
      value: { url: "[secret: not decrypted by the offline plan]" },
    });
    expect(JSON.stringify(runs.prod.outputs)).not.toContain("secret: not decrypted");
  });
});

describe("uptime check", () => {
  test.each(["staging", "prod"] as const)(
    "%s checks https://<fqdn>/healthz from three regions and wants status ok",
    (stage) => {
      const check = only(runs[stage], "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig");
      expect(check.props).toMatchObject({
        displayName: `[${stage}] https://${HOSTS[stage]}/healthz`,
        monitoredResource: {
          type: "uptime_url",
          labels: { project_id: `guincho-lacerda-${stage}`, host: HOSTS[stage] },
        },
        httpCheck: {
          path: "/healthz",
          port: 443,
          useSsl: true,
          validateSsl: true,
          requestMethod: "GET",
          acceptedResponseStatusCodes: [{ statusClass: "STATUS_CLASS_2XX" }],
        },
        contentMatchers: [{ content: '"status"\\s*:\\s*"ok"', matcher: "MATCHES_REGEX" }],
        period: "60s",
        timeout: "10s",
        selectedRegions: ["SOUTH_AMERICA", "USA", "EUROPE"],
      });
    },
  );

  test("dev has no uptime check (no load balancer) and says so in its output", () => {
    expect(ofType(runs.dev, "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig")).toEqual([]);
    expect(runs.dev.outputs.uptimeCheckId).toBe("none (no load balancer in this stage)");
    expect(runs.prod.outputs.uptimeCheckId).toBe("guincho-prod-healthz-check");
  });
});

describe("log-based metrics, dashboard, audit logs and outputs", () => {
  test("backup and sync events become counter metrics, backups counted by kind", () => {
    const metrics = ofType(runs.prod, "gcp:logging/metric:Metric").map((r) => r.props);
    expect(metrics.map((m) => [m.name, m.filter, m.labelExtractors])).toEqual([
      [
        "guincho/backup_completed",
        `${VM} AND jsonPayload.event="backup_completed"`,
        { kind: "EXTRACT(jsonPayload.kind)" },
      ],
      ["guincho/sync_failed", `${VM} AND jsonPayload.event="sync_failed"`, undefined],
      ["guincho/sync_completed", `${VM} AND jsonPayload.event="sync_completed"`, undefined],
    ]);
    expect(metrics[0].metricDescriptor).toEqual({
      metricKind: "DELTA",
      valueType: "INT64",
      unit: "1",
      displayName: "backup_completed",
      labels: [{ key: "kind", valueType: "STRING" }],
    });
  });

  test("the dashboard JSON parses and shows edge charts only where there is an edge", () => {
    const titles = (stage: Stage) => {
      const json = only(runs[stage], "gcp:monitoring/dashboard:Dashboard").props.dashboardJson;
      const doc = JSON.parse(String(json)) as {
        mosaicLayout: { tiles: { widget: { title: string } }[] };
      };
      return doc.mosaicLayout.tiles.map((t) => t.widget.title);
    };
    expect(titles("prod")).toContain("Response time at the load balancer (ms)");
    expect(titles("prod")).toHaveLength(13);
    expect(titles("dev")).not.toContain("Response time at the load balancer (ms)");
    expect(titles("dev")).toHaveLength(8);
    expect(runs.prod.outputs.dashboardUrl).toBe(
      "https://console.cloud.google.com/monitoring/dashboards/builder/guincho-prod-dashboard-id" +
        "?project=guincho-lacerda-prod",
    );
  });

  test.each(["dev", "staging", "prod"] as const)(
    "%s turns on Data Access audit logs for storage, Secret Manager and IAP",
    (stage) => {
      const configs = ofType(runs[stage], "gcp:projects/iAMAuditConfig:IAMAuditConfig").map(
        (r) => r.props,
      );
      const all = ["ADMIN_READ", "DATA_READ", "DATA_WRITE"].map((logType) => ({ logType }));
      expect(configs).toEqual([
        {
          project: `guincho-lacerda-${stage}`,
          service: "storage.googleapis.com",
          auditLogConfigs: all,
        },
        {
          project: `guincho-lacerda-${stage}`,
          service: "secretmanager.googleapis.com",
          auditLogConfigs: all,
        },
        {
          project: `guincho-lacerda-${stage}`,
          service: "iap.googleapis.com",
          auditLogConfigs: [{ logType: "DATA_READ" }],
        },
      ]);
    },
  );

  test("prod exports its alert names, channels (without secrets) and the patch schedule", () => {
    expect(runs.prod.outputs.notificationChannels).toEqual([
      "email rafael.lacerda@guincholacerda.com.br: every alert",
      "sms +5511987654321: CRITICAL and ERROR alerts",
      "email marina.souza@guincholacerda.com.br: every alert",
      "webhook_tokenauth (URL kept secret): every alert",
    ]);
    expect(runs.prod.outputs.alertPolicyNames).toHaveLength(21);
    expect((runs.prod.outputs.alertPolicyNames as string[])[0]).toBe(
      "[prod] Site down: /healthz fails from several places",
    );
  });

  test.each(["dev", "staging", "prod"] as const)(
    "%s: the policy pack finds nothing mandatory in the monitoring and maintenance resources",
    (stage) => {
      const mine = runs[stage].resources.filter(
        (r) =>
          r.custom && /^gcp:(monitoring|logging|osconfig|projects\/iAMAuditConfig)/.test(r.type),
      );
      const findings = evaluatePolicies(
        mine.map((r) => ({
          type: r.type,
          name: r.name,
          props: plain(r.props) as Record<string, unknown>,
          protect: r.protect,
        })),
        stage,
      ).filter((f) => f.enforcementLevel === "mandatory");
      expect(findings).toEqual([]);
    },
  );
});
