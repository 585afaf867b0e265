/**
 * The stage's Cloud Monitoring dashboard as data: response times, error rate, resource use,
 * backup freshness, Sheets sync health and storage use, with the stage's alert thresholds
 * drawn on the charts. `dashboardJson` renders the `dashboardJson` input of
 * `gcp.monitoring.Dashboard`.
 */
import { DISK_FORECAST_PERCENT, logMetricFilter, type AlertThresholds } from "./alerts";

/** A widget of the dashboard (the Cloud Monitoring `Widget` JSON shape). */
export type Widget = { title: string } & Record<string, unknown>;

/** What the dashboard shows, all plain values. */
export interface DashboardContext {
  stage: string;
  displayName: string;
  edgeEnabled: boolean;
  backupBucketName: string;
  thresholds: AlertThresholds;
}

interface Series {
  filter: string;
  aligner: string;
  period?: string;
  reducer?: string;
  groupBy?: string[];
  legend?: string;
  plotType?: "LINE" | "STACKED_BAR" | "STACKED_AREA";
}

/** Width and height of a tile on the 48-column mosaic grid. */
export const TILE = { width: 24, height: 16 } as const;

function query(series: Series): Record<string, unknown> {
  return {
    timeSeriesFilter: {
      filter: series.filter,
      aggregation: {
        alignmentPeriod: series.period ?? "60s",
        perSeriesAligner: series.aligner,
        ...(series.reducer
          ? { crossSeriesReducer: series.reducer, groupByFields: series.groupBy ?? [] }
          : {}),
      },
    },
  };
}

function chart(
  title: string,
  yLabel: string,
  series: Series[],
  threshold?: { value: number; label: string },
): Widget {
  return {
    title,
    xyChart: {
      dataSets: series.map((s) => ({
        timeSeriesQuery: query(s),
        plotType: s.plotType ?? "LINE",
        ...(s.legend ? { legendTemplate: s.legend } : {}),
      })),
      ...(threshold ? { thresholds: [{ value: threshold.value, label: threshold.label }] } : {}),
      yAxis: { label: yLabel, scale: "LINEAR" },
    },
  };
}

const LB = 'resource.type="https_lb_rule"';
const VM = 'resource.type="gce_instance"';
const USED = 'metric.label.state="used"';

function edgeWidgets(t: AlertThresholds): Widget[] {
  const latency = `metric.type="loadbalancing.googleapis.com/https/total_latencies" AND ${LB}`;
  const requests = `metric.type="loadbalancing.googleapis.com/https/request_count" AND ${LB}`;
  const rate = {
    alignmentPeriod: "300s",
    perSeriesAligner: "ALIGN_RATE",
    crossSeriesReducer: "REDUCE_SUM",
    groupByFields: [],
  };
  return [
    chart(
      "Response time at the load balancer (ms)",
      "ms",
      [
        {
          filter: latency,
          aligner: "ALIGN_DELTA",
          reducer: "REDUCE_PERCENTILE_95",
          legend: "p95",
        },
        {
          filter: latency,
          aligner: "ALIGN_DELTA",
          reducer: "REDUCE_PERCENTILE_50",
          legend: "p50",
        },
      ],
      { value: t.latencyP95Ms, label: "p95 alert" },
    ),
    {
      title: "Server errors (share of 5xx responses)",
      xyChart: {
        dataSets: [
          {
            timeSeriesQuery: {
              timeSeriesFilterRatio: {
                numerator: {
                  filter: `${requests} AND metric.label.response_code_class=500`,
                  aggregation: rate,
                },
                denominator: { filter: requests, aggregation: rate },
              },
            },
            plotType: "LINE",
          },
        ],
        thresholds: [{ value: t.errorRatePercent / 100, label: "5xx alert" }],
        yAxis: { label: "share", scale: "LINEAR" },
      },
    },
    chart("Requests per second by response class", "requests/s", [
      {
        filter: requests,
        aligner: "ALIGN_RATE",
        reducer: "REDUCE_SUM",
        groupBy: ["metric.label.response_code_class"],
        plotType: "STACKED_AREA",
      },
    ]),
    chart("Uptime check: locations passing /healthz", "locations", [
      {
        filter:
          'metric.type="monitoring.googleapis.com/uptime_check/check_passed" AND ' +
          'resource.type="uptime_url"',
        aligner: "ALIGN_NEXT_OLDER",
        reducer: "REDUCE_COUNT_TRUE",
      },
    ]),
    chart(
      "Cloud Armor: blocked requests per minute",
      "requests/min",
      [
        {
          filter:
            'metric.type="networksecurity.googleapis.com/https/request_count" AND ' +
            'resource.type="network_security_policy" AND metric.label.blocked=true',
          aligner: "ALIGN_SUM",
          reducer: "REDUCE_SUM",
          groupBy: ["resource.label.policy_name"],
        },
      ],
      { value: t.blockedRequestsPerMinute, label: "spike alert" },
    ),
  ];
}

function hostWidgets(t: AlertThresholds): Widget[] {
  return [
    chart(
      "VM CPU utilization",
      "share",
      [
        {
          filter: `metric.type="compute.googleapis.com/instance/cpu/utilization" AND ${VM}`,
          aligner: "ALIGN_MEAN",
        },
      ],
      { value: t.cpuPercent / 100, label: "CPU alert" },
    ),
    chart(
      "VM memory used (%)",
      "%",
      [
        {
          filter: `metric.type="agent.googleapis.com/memory/percent_used" AND ${VM} AND ${USED}`,
          aligner: "ALIGN_MEAN",
        },
      ],
      { value: t.memoryPercent, label: "memory alert" },
    ),
    chart(
      "Disk used (%) by device: boot and data disk",
      "%",
      [
        {
          filter: `metric.type="agent.googleapis.com/disk/percent_used" AND ${VM} AND ${USED}`,
          aligner: "ALIGN_MEAN",
          reducer: "REDUCE_MAX",
          groupBy: ["metric.label.device"],
          legend: "${metric.labels.device}",
        },
      ],
      { value: t.diskPercent, label: "disk alert" },
    ),
  ];
}

function dataWidgets(ctx: DashboardContext): Widget[] {
  const t = ctx.thresholds;
  return [
    {
      title: `Backups completed in the last ${t.backupMaxAgeHours} h (0 means stale)`,
      scorecard: {
        timeSeriesQuery: query({
          filter: logMetricFilter("backupCompleted"),
          aligner: "ALIGN_SUM",
          period: `${t.backupMaxAgeHours * 3600}s`,
          reducer: "REDUCE_SUM",
        }),
        thresholds: [{ value: 1, color: "RED", direction: "BELOW" }],
      },
    },
    chart("Backups completed per day, by kind", "backups", [
      {
        filter: logMetricFilter("backupCompleted"),
        aligner: "ALIGN_SUM",
        period: "86400s",
        reducer: "REDUCE_SUM",
        groupBy: ["metric.label.kind"],
        plotType: "STACKED_BAR",
        legend: "${metric.labels.kind}",
      },
    ]),
    chart(
      "Google Sheets sync runs per hour",
      "runs",
      [
        {
          filter: logMetricFilter("syncCompleted"),
          aligner: "ALIGN_SUM",
          period: "3600s",
          reducer: "REDUCE_SUM",
          legend: "completed",
          plotType: "STACKED_BAR",
        },
        {
          filter: logMetricFilter("syncFailed"),
          aligner: "ALIGN_SUM",
          period: "3600s",
          reducer: "REDUCE_SUM",
          legend: "failed",
          plotType: "STACKED_BAR",
        },
      ],
      { value: t.syncFailuresPerHour, label: "failures alert" },
    ),
    chart(
      "Backup bucket size (bytes, all versions)",
      "bytes",
      [
        {
          filter:
            'metric.type="storage.googleapis.com/storage/total_bytes" AND ' +
            `resource.type="gcs_bucket" AND resource.label.bucket_name="${ctx.backupBucketName}"`,
          aligner: "ALIGN_MAX",
          period: "3600s",
        },
      ],
      { value: t.backupBucketMaxGb * 1024 ** 3, label: "size alert" },
    ),
  ];
}

function intro(ctx: DashboardContext): Widget {
  const edge = ctx.edgeEnabled
    ? "Top row: what users see at the load balancer."
    : "No load balancer in this stage: the VM heartbeat alert stands in for the uptime check.";
  return {
    title: `Guincho Lacerda (${ctx.stage})`,
    text: {
      content:
        `${edge} Every alert and its runbook: \`docs/monitoring.md\`. Disks are also ` +
        `forecast: an alert fires when one is due to pass ${DISK_FORECAST_PERCENT}% within ` +
        `${ctx.thresholds.diskFullForecastDays} days.`,
      format: "MARKDOWN",
    },
  };
}

/** The dashboard's widgets in reading order. */
export function dashboardWidgets(ctx: DashboardContext): Widget[] {
  return [
    intro(ctx),
    ...(ctx.edgeEnabled ? edgeWidgets(ctx.thresholds) : []),
    ...hostWidgets(ctx.thresholds),
    ...dataWidgets(ctx),
  ];
}

/** The dashboard JSON: widgets laid out two per row on the mosaic grid. */
export function dashboardJson(ctx: DashboardContext): string {
  const tiles = dashboardWidgets(ctx).map((widget, i) => ({
    xPos: (i % 2) * TILE.width,
    yPos: Math.floor(i / 2) * TILE.height,
    width: TILE.width,
    height: TILE.height,
    widget,
  }));
  return JSON.stringify({
    displayName: ctx.displayName,
    mosaicLayout: { columns: 2 * TILE.width, tiles },
    labels: { [ctx.stage]: "" },
  });
}
