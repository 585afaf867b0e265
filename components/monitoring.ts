/**
 * Watching the stage: notification channels from the contact list, the public uptime check
 * of /healthz (stages with a load balancer), log-based metrics from the host's and the app's
 * JSON events, the alert policies of `alerts.ts` (each with its runbook text), the dashboard,
 * and Data Access audit logs for the services that hold the data and the secrets.
 */
import * as gcp from "./gcp";
import * as pulumi from "@pulumi/pulumi";
import {
  alertDocumentation,
  alertSpecs,
  eventFilter,
  isUrgent,
  LOG_METRICS,
  runbookPath,
  type AlertCondition,
  type AlertSpec,
  type AlertThresholds,
  type LogMetricKey,
} from "./alerts";
import { channelKeysFor, channelSpecs, type ChannelSpec, type Contact } from "./channels";
import { dashboardJson } from "./dashboard";

/** Regions the uptime check runs from: five checker locations on two continents and Europe. */
export const UPTIME_REGIONS: readonly string[] = ["SOUTH_AMERICA", "USA", "EUROPE"];

/** The health endpoint's body must say so; a 200 from a placeholder page is not health. */
export const HEALTH_BODY_REGEX = '"status"\\s*:\\s*"ok"';

/**
 * Services whose Data Access audit logs are switched on: who read or wrote backups
 * (storage), who read a secret (Secret Manager), who opened an IAP tunnel (IAP, DATA_READ
 * only). Admin Activity logs are always on and cannot be switched off.
 */
export const AUDITED_SERVICES: Readonly<Record<string, readonly string[]>> = {
  "storage.googleapis.com": ["ADMIN_READ", "DATA_READ", "DATA_WRITE"],
  "secretmanager.googleapis.com": ["ADMIN_READ", "DATA_READ", "DATA_WRITE"],
  "iap.googleapis.com": ["DATA_READ"],
};

/** Incidents of log-match alerts close on their own after this (they have no "recovery"). */
export const LOG_ALERT_AUTO_CLOSE = "1800s";
/** At most one notification per log-match alert in this period. */
export const LOG_ALERT_RATE_LIMIT = "300s";

export interface MonitoringArgs {
  /** Google Cloud project id of the stage. */
  project: string;
  /** The stage name, shown in alert titles and the dashboard. */
  stage: string;
  /** The stage's public host name; the uptime check requests `https://<fqdn>/healthz`. */
  fqdn: string;
  /** Whether the stage has the HTTPS load balancer (uptime check and edge alerts). */
  edgeEnabled: boolean;
  /** The contact list: on-call people and owners are notified. */
  contacts: Contact[];
  /**
   * Chat webhook URL (Google Chat or Slack incoming webhook). A secret: it is stored
   * encrypted in the state and never appears in plain labels.
   * @default undefined (no chat channel)
   */
  chatWebhookUrl?: pulumi.Input<string>;
  /** The stage's alert thresholds (`cfg.monitoring`). */
  thresholds: AlertThresholds;
  /** The backup bucket, whose size is charted and alerted on. */
  backupBucketName: string;
  /** Labels of every labelable child. */
  labels: Record<string, string>;
  /**
   * Base URL of the repository's docs, e.g. `https://github.com/o/r/blob/main`: alert
   * notifications then link the runbook page.
   * @default undefined (notifications name the runbook path only)
   */
  docsBaseUrl?: string;
  /**
   * Resources the children wait for (the enabled Monitoring and Logging APIs).
   * @default []
   */
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** The `conditions[0]` input of an alert policy, from its spec. */
export function conditionArgs(spec: AlertSpec): gcp.types.input.monitoring.AlertPolicyCondition {
  const condition: AlertCondition = spec.condition;
  const displayName = spec.thresholdText;
  switch (condition.kind) {
    case "log":
      return {
        displayName,
        conditionMatchedLog: {
          filter: condition.filter,
          ...(condition.labelExtractors ? { labelExtractors: condition.labelExtractors } : {}),
        },
      };
    case "absent":
      return {
        displayName,
        conditionAbsent: {
          filter: condition.filter,
          aggregations: [condition.aggregation],
          duration: `${condition.durationSeconds}s`,
          trigger: { count: 1 },
        },
      };
    case "threshold":
      return {
        displayName,
        conditionThreshold: {
          filter: condition.filter,
          aggregations: [condition.aggregation],
          ...(condition.denominator
            ? {
                denominatorFilter: condition.denominator.filter,
                denominatorAggregations: [condition.denominator.aggregation],
              }
            : {}),
          comparison: condition.comparison,
          thresholdValue: condition.threshold,
          duration: `${condition.durationSeconds}s`,
          trigger: { count: 1 },
          ...(condition.forecastHorizonSeconds
            ? { forecastOptions: { forecastHorizon: `${condition.forecastHorizonSeconds}s` } }
            : {}),
        },
      };
  }
}

/** The log-based metrics an alert reads, so the policy is created after them. */
export function metricsOf(spec: AlertSpec): LogMetricKey[] {
  const filter = spec.condition.filter;
  return (Object.keys(LOG_METRICS) as LogMetricKey[]).filter((key) =>
    filter.includes(`logging.googleapis.com/user/${LOG_METRICS[key].name}"`),
  );
}

/** Describes a channel for the stack output, without anything secret. */
export function describeChannel(spec: ChannelSpec): string {
  const target = spec.labels.email_address ?? spec.labels.number ?? "(URL kept secret)";
  const scope = spec.receives === "all" ? "every alert" : "CRITICAL and ERROR alerts";
  return `${spec.type} ${target}: ${scope}`;
}

export class Monitoring extends pulumi.ComponentResource {
  /** Console link of the dashboard. */
  readonly dashboardUrl: pulumi.Output<string>;
  /** The uptime check's id; undefined in stages without a load balancer. */
  readonly uptimeCheckId?: pulumi.Output<string>;
  /** Display names of every alert policy. */
  readonly alertPolicyNames: string[];
  /** Who gets what, one line per channel (no secrets). */
  readonly notificationChannels: string[];
  /** Alert ids with their runbook pages. */
  readonly runbooks: { id: string; path: string }[];

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("guincho:monitoring:Monitoring", name, {}, opts);
    const child = { parent: this, dependsOn: args.dependsOn ?? [] };
    const specs = channelSpecs(args.contacts, args.chatWebhookUrl !== undefined);
    if (!specs.some((spec) => spec.type === "email")) {
      throw new pulumi.ResourceError(
        `Monitoring: contacts has ${args.contacts.length} entries and none with role ` +
          '"on-call" or "owner"; alerts would reach no one. Give someone one of those roles.',
        this,
      );
    }
    const channels = new Map<string, gcp.monitoring.NotificationChannel>();
    for (const spec of specs) {
      const labels =
        spec.type === "webhook_tokenauth"
          ? { url: pulumi.secret(args.chatWebhookUrl as pulumi.Input<string>) }
          : spec.labels;
      channels.set(
        spec.key,
        new gcp.monitoring.NotificationChannel(
          `${name}-${spec.key}`,
          {
            project: args.project,
            displayName: `[${args.stage}] ${spec.displayName}`,
            type: spec.type,
            labels,
            userLabels: args.labels,
            enabled: true,
          },
          {
            ...child,
            additionalSecretOutputs: spec.type === "webhook_tokenauth" ? ["labels"] : [],
          },
        ),
      );
    }

    const metrics = new Map<LogMetricKey, gcp.logging.Metric>();
    for (const key of Object.keys(LOG_METRICS) as LogMetricKey[]) {
      const metric = LOG_METRICS[key];
      const labelKeys = Object.keys(metric.labels);
      metrics.set(
        key,
        new gcp.logging.Metric(
          `${name}-${metric.event.replace(/_/g, "-")}`,
          {
            project: args.project,
            name: metric.name,
            description: metric.description,
            filter: eventFilter(metric.event),
            metricDescriptor: {
              metricKind: "DELTA",
              valueType: "INT64",
              unit: "1",
              displayName: metric.event,
              labels: labelKeys.map((key) => ({ key, valueType: "STRING" })),
            },
            ...(labelKeys.length > 0 ? { labelExtractors: metric.labels } : {}),
          },
          child,
        ),
      );
    }

    let uptime: gcp.monitoring.UptimeCheckConfig | undefined;
    if (args.edgeEnabled) {
      uptime = new gcp.monitoring.UptimeCheckConfig(
        `${name}-healthz`,
        {
          project: args.project,
          displayName: `[${args.stage}] https://${args.fqdn}/healthz`,
          monitoredResource: {
            type: "uptime_url",
            labels: { project_id: args.project, host: args.fqdn },
          },
          httpCheck: {
            path: "/healthz",
            port: 443,
            useSsl: true,
            validateSsl: true,
            requestMethod: "GET",
            acceptedResponseStatusCodes: [{ statusClass: "STATUS_CLASS_2XX" }],
          },
          contentMatchers: [{ content: HEALTH_BODY_REGEX, matcher: "MATCHES_REGEX" }],
          period: "60s",
          timeout: "10s",
          selectedRegions: [...UPTIME_REGIONS],
          userLabels: args.labels,
        },
        child,
      );
      this.uptimeCheckId = uptime.uptimeCheckId;
    }

    const alerts = alertSpecs({
      stage: args.stage,
      fqdn: args.fqdn,
      edgeEnabled: args.edgeEnabled,
      backupBucketName: args.backupBucketName,
      thresholds: args.thresholds,
    });
    for (const spec of alerts) {
      const targets = channelKeysFor(specs, isUrgent(spec.severity)).map(
        (key) => (channels.get(key) as gcp.monitoring.NotificationChannel).name,
      );
      const waitFor: pulumi.Resource[] = metricsOf(spec).map(
        (key) => metrics.get(key) as gcp.logging.Metric,
      );
      if (spec.id === "uptime-healthz" && uptime) {
        waitFor.push(uptime);
      }
      const runbookUrl = args.docsBaseUrl
        ? `${args.docsBaseUrl}/${runbookPath(spec.id)}`
        : undefined;
      new gcp.monitoring.AlertPolicy(
        `${name}-${spec.id}`,
        {
          project: args.project,
          displayName: `[${args.stage}] ${spec.title}`,
          combiner: "OR",
          severity: spec.severity,
          enabled: true,
          conditions: [conditionArgs(spec)],
          notificationChannels: targets,
          documentation: {
            content: alertDocumentation(spec, args.stage, runbookUrl),
            mimeType: "text/markdown",
            subject: `[${args.stage}] ${spec.title}`,
            ...(runbookUrl ? { links: [{ displayName: "Runbook", url: runbookUrl }] } : {}),
          },
          ...(spec.condition.kind === "log"
            ? {
                alertStrategy: {
                  notificationRateLimit: { period: LOG_ALERT_RATE_LIMIT },
                  autoClose: LOG_ALERT_AUTO_CLOSE,
                },
              }
            : {}),
          userLabels: { ...args.labels, category: spec.category, alert: spec.id },
        },
        { ...child, dependsOn: [...(args.dependsOn ?? []), ...waitFor] },
      );
    }

    const dashboard = new gcp.monitoring.Dashboard(
      `${name}-dashboard`,
      {
        project: args.project,
        dashboardJson: dashboardJson({
          stage: args.stage,
          displayName: `Guincho Lacerda (${args.stage})`,
          edgeEnabled: args.edgeEnabled,
          backupBucketName: args.backupBucketName,
          thresholds: args.thresholds,
        }),
      },
      child,
    );

    for (const [service, logTypes] of Object.entries(AUDITED_SERVICES)) {
      new gcp.projects.IAMAuditConfig(
        `${name}-audit-${service.split(".")[0]}`,
        {
          project: args.project,
          service,
          auditLogConfigs: logTypes.map((logType) => ({ logType })),
        },
        child,
      );
    }

    this.dashboardUrl = dashboard.id.apply(
      (id) =>
        "https://console.cloud.google.com/monitoring/dashboards/builder/" +
        `${id.split("/").pop()}?project=${args.project}`,
    );
    this.alertPolicyNames = alerts.map((spec) => `[${args.stage}] ${spec.title}`);
    this.notificationChannels = specs.map(describeChannel);
    this.runbooks = alerts.map((spec) => ({ id: spec.id, path: runbookPath(spec.id) }));
    this.registerOutputs({
      dashboardUrl: this.dashboardUrl,
      uptimeCheckId: this.uptimeCheckId,
      alertPolicyNames: this.alertPolicyNames,
      notificationChannels: this.notificationChannels,
    });
  }
}
