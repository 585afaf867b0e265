/**
 * The pure derivations behind the monitoring component: alert specs, channels, the dashboard,
 * and the config mistakes an operator can make in the monitoring keys.
 */
import * as fs from "fs";
import * as path from "path";
import { ConfigError, rawFromPulumiConfig, validateStageConfig } from "../../config";
import {
  alertDocumentation,
  alertSpecs,
  EXAMPLE_THRESHOLDS,
  runbookLinks,
  type AlertContext,
  type AlertThresholds,
} from "../../components/alerts";
import { channelKeysFor, channelSpecs, contactSlug, type Contact } from "../../components/channels";
import { dashboardJson, dashboardWidgets, TILE } from "../../components/dashboard";
import { repoRoot, stackConfig } from "../helpers/program";

const THRESHOLDS: AlertThresholds = EXAMPLE_THRESHOLDS;

const context = (changes: Partial<AlertThresholds> = {}, edgeEnabled = true): AlertContext => ({
  stage: "prod",
  fqdn: "app.example.com",
  edgeEnabled,
  backupBucketName: "p-backups",
  thresholds: { ...THRESHOLDS, ...changes },
});

describe("alert specs", () => {
  test("prod has at least ten alerts, in four categories, each with three checks", () => {
    const specs = alertSpecs(context());
    expect(specs.length).toBeGreaterThanOrEqual(10);
    expect(new Set(specs.map((s) => s.category))).toEqual(
      new Set(["availability", "performance", "data", "security"]),
    );
    for (const spec of specs) {
      expect(spec.checks).toHaveLength(3);
      expect(spec.meaning.length).toBeGreaterThan(40);
    }
  });

  test("alert ids are unique and safe as file and resource names", () => {
    const ids = alertSpecs(context()).map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) {
      expect(id).toMatch(/^[a-z][a-z0-9-]{2,30}$/);
    }
  });

  test.each([
    [3, 3600],
    [6, 4 * 3600],
    [25, 23 * 3600],
  ])(
    "a backupMaxAgeHours of %d h leaves %d s of absence after the 2 h window",
    (hours, seconds) => {
      const stale = alertSpecs(context({ backupMaxAgeHours: hours })).find(
        (s) => s.id === "backup-stale",
      );
      expect(stale?.condition).toMatchObject({ kind: "absent", durationSeconds: seconds });
      // Cloud Monitoring refuses absence windows over 23.5 h and alignment + duration > 25 h.
      expect(seconds).toBeLessThanOrEqual(23.5 * 3600);
      expect(seconds + 7200).toBeLessThanOrEqual(25 * 3600);
    },
  );

  test("without an edge there are no uptime, latency, 5xx or Cloud Armor alerts", () => {
    const ids = alertSpecs(context({}, false)).map((s) => s.id);
    for (const edgeOnly of ["uptime-healthz", "lb-latency-p95", "lb-5xx-ratio"]) {
      expect(ids).not.toContain(edgeOnly);
    }
    expect(ids).not.toContain("armor-blocks-spike");
    expect(ids).toContain("host-silent");
  });

  test("the host heartbeat alert says it stands in for the uptime check without an edge", () => {
    const silent = (edge: boolean) =>
      alertSpecs(context({}, edge)).find((s) => s.id === "host-silent")?.meaning ?? "";
    expect(silent(false)).toContain("it stands in for the uptime check");
    expect(silent(true)).not.toContain("stands in");
  });

  test("loginAlerts false drops the login alert only", () => {
    const on = alertSpecs(context()).map((s) => s.id);
    const off = alertSpecs(context({ loginAlerts: false })).map((s) => s.id);
    expect(on.filter((id) => !off.includes(id))).toEqual(["vm-login"]);
  });

  test("documentation names the stage, the threshold, the checks and the runbook path", () => {
    const cpu = alertSpecs(context()).find((s) => s.id === "vm-cpu");
    expect(cpu).toBeDefined();
    const doc = alertDocumentation(cpu!, "prod");
    expect(doc.split("\n")).toEqual([
      "### VM CPU high (prod)",
      "",
      "**What it means:** The VM has been busy for a quarter of an hour; responses slow down next.",
      "",
      "**Fires when:** CPU above 85% (5-minute mean) for 15 minutes.",
      "",
      "**First three things to check:**",
      "",
      "1. On the VM: `top -o %CPU`: the app, a backup (gzip), a patch job (apt), or else?",
      "2. Dashboard: did traffic grow (request rate) or did a release change the app?",
      "3. If it is steady growth: the monthly capacity report; consider a bigger machine type.",
      "",
      "**Runbook:** `docs/runbooks/vm-cpu.md` in the infrastructure repository; the whole " +
        "alert list is in `docs/monitoring.md`.",
    ]);
  });

  test("every documentation fits Cloud Monitoring's 8192-character limit", () => {
    for (const spec of alertSpecs(context())) {
      expect(
        alertDocumentation(spec, "staging", "https://x/docs/runbooks/a.md").length,
      ).toBeLessThan(8192);
    }
  });
});

describe("runbook links", () => {
  test("lists every alert id any stage can have, with its runbook path", () => {
    expect(runbookLinks()).toEqual(
      alertSpecs(context()).map((s) => ({ id: s.id, path: `docs/runbooks/${s.id}.md` })),
    );
  });

  const pagesWritten = fs.existsSync(path.join(repoRoot, "docs", "runbooks"));
  (pagesWritten ? test : test.skip)(
    "every runbook page an alert links to exists (once docs/runbooks/ is written)",
    () => {
      const missing = runbookLinks().filter(
        (link) => !fs.existsSync(path.join(repoRoot, link.path)),
      );
      expect(missing).toEqual([]);
    },
  );

  test("docs/monitoring.md describes every alert and links its runbook", () => {
    const page = fs.readFileSync(path.join(repoRoot, "docs", "monitoring.md"), "utf8");
    for (const link of runbookLinks()) {
      expect(page).toContain(`\`${link.id}\``);
      expect(page).toContain(link.path);
    }
  });
});

describe("notification channels from contacts", () => {
  const contacts: Contact[] = [
    { name: "Ana", email: "Ana.Lima@x.com.br", role: "on-call", phone: "+5511900000000" },
    { name: "Bia", email: "bia@x.com.br", role: "owner" },
    { name: "Caio", email: "caio@x.com.br", role: "developer" },
    { name: "Ana again", email: "ana.lima@x.com.br", role: "owner" },
  ];

  test("e-mails on-call people and owners once each, SMS for on-call phones, chat last", () => {
    expect(channelSpecs(contacts, true)).toEqual([
      {
        key: "email-ana-lima",
        type: "email",
        displayName: "Ana (on-call) e-mail",
        labels: { email_address: "ana.lima@x.com.br" },
        receives: "all",
      },
      {
        key: "sms-ana-lima",
        type: "sms",
        displayName: "Ana (on-call) SMS",
        labels: { number: "+5511900000000" },
        receives: "urgent",
      },
      {
        key: "email-bia",
        type: "email",
        displayName: "Bia (owner) e-mail",
        labels: { email_address: "bia@x.com.br" },
        receives: "all",
      },
      {
        key: "chat",
        type: "webhook_tokenauth",
        displayName: "Team chat webhook",
        labels: {},
        receives: "all",
      },
    ]);
  });

  test("SMS channels receive urgent alerts only", () => {
    const specs = channelSpecs(contacts, false);
    expect(channelKeysFor(specs, true)).toEqual(["email-ana-lima", "sms-ana-lima", "email-bia"]);
    expect(channelKeysFor(specs, false)).toEqual(["email-ana-lima", "email-bia"]);
  });

  test.each([
    ["marina.souza@guincholacerda.com.br", "marina-souza"],
    ["Plantao+Noite@x.com", "plantao-noite"],
    ["_ops_@x.com", "ops"],
  ])("slugs %s as %s", (email, slug) => {
    expect(contactSlug(email)).toBe(slug);
  });
});

describe("dashboard", () => {
  const dashboard = (edgeEnabled: boolean) => ({
    stage: "prod",
    displayName: "Guincho Lacerda (prod)",
    edgeEnabled,
    backupBucketName: "p-backups",
    thresholds: THRESHOLDS,
  });

  test("shows response times, errors, resources, backups, sync and storage", () => {
    expect(dashboardWidgets(dashboard(true)).map((w) => w.title)).toEqual([
      "Guincho Lacerda (prod)",
      "Response time at the load balancer (ms)",
      "Server errors (share of 5xx responses)",
      "Requests per second by response class",
      "Uptime check: locations passing /healthz",
      "Cloud Armor: blocked requests per minute",
      "VM CPU utilization",
      "VM memory used (%)",
      "Disk used (%) by device: boot and data disk",
      "Backups completed in the last 25 h (0 means stale)",
      "Backups completed per day, by kind",
      "Google Sheets sync runs per hour",
      "Backup bucket size (bytes, all versions)",
    ]);
  });

  test("lays tiles out two per row without overlap on the 48-column grid", () => {
    const doc = JSON.parse(dashboardJson(dashboard(false))) as {
      displayName: string;
      mosaicLayout: { columns: number; tiles: { xPos: number; yPos: number; width: number }[] };
    };
    expect(doc.displayName).toBe("Guincho Lacerda (prod)");
    expect(doc.mosaicLayout.columns).toBe(48);
    const cells = doc.mosaicLayout.tiles.map((t) => `${t.xPos},${t.yPos}`);
    expect(new Set(cells).size).toBe(cells.length);
    expect(doc.mosaicLayout.tiles.slice(0, 3).map((t) => [t.xPos, t.yPos])).toEqual([
      [0, 0],
      [TILE.width, 0],
      [0, TILE.height],
    ]);
  });

  test("draws the stage's thresholds on the charts", () => {
    const cpu = dashboardWidgets(dashboard(true)).find((w) => w.title === "VM CPU utilization");
    expect((cpu?.xyChart as { thresholds: unknown }).thresholds).toEqual([
      { value: 0.85, label: "CPU alert" },
    ]);
  });
});

describe("monitoring config mistakes", () => {
  let dev: Record<string, unknown>;
  beforeAll(() => {
    dev = rawFromPulumiConfig(stackConfig("dev"));
  });

  function problemsOf(changes: Record<string, unknown>): string[] {
    try {
      validateStageConfig("dev", { ...dev, ...changes });
    } catch (e) {
      if (e instanceof ConfigError) {
        return e.problems;
      }
      throw e;
    }
    throw new Error("the config was accepted");
  }

  const monitoring = (changes: Record<string, unknown>) => ({
    monitoring: { ...(dev.monitoring as object), ...changes },
  });

  test.each([
    ["cpuPercent", 150, "expected at most 100"],
    ["errorRatePercent", 0, "expected at least 0.1"],
    ["latencyP95Ms", 20, "expected at least 50"],
    ["backupMaxAgeHours", 26, "expected at most 25"],
    ["backupMaxAgeHours", 2, "expected at least 3"],
    ["diskFullForecastDays", 14, "expected at most 7"],
    ["syncFailuresPerHour", 2.5, "expected a whole number"],
    ["loginAlerts", "yes", "expected boolean"],
  ])("fails on monitoring.%s = %j, naming the key", (key, value, allowed) => {
    expect(problemsOf(monitoring({ [key]: value }))).toEqual([
      `guincho:monitoring.${key}: received ${JSON.stringify(value)}; ${allowed}`,
    ]);
  });

  test("fails on a chat webhook that is not https", () => {
    expect(problemsOf(monitoring({ chatWebhookUrl: "http://chat.example.com/hook" }))).toEqual([
      'guincho:monitoring.chatWebhookUrl: received "http://chat.example.com/hook"; expected ' +
        "an https:// URL",
    ]);
  });

  test("fails on a typo in a threshold's name, suggesting the right one", () => {
    const problems = problemsOf(monitoring({ cpuPercnt: 80 }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^guincho:monitoring\.cpuPercnt: unknown key .*did you mean "cpuPercent"\?/,
    );
  });

  test("fails on a malformed e-mail in the contact list", () => {
    const contacts = [{ name: "Marina Souza", email: "marina.souza@", role: "owner" }];
    expect(problemsOf({ contacts })).toEqual([
      'guincho:contacts[0].email: received "marina.souza@"; expected an e-mail address like ' +
        "ana@guincholacerda.com.br",
    ]);
  });

  test("fails on an SMS phone for someone who is not on call", () => {
    const contacts = [
      { name: "Marina Souza", email: "m@x.com.br", role: "owner", phone: "+5511900000000" },
    ];
    expect(problemsOf({ contacts })).toEqual([
      'guincho:contacts[0].phone: received "+5511900000000"; only on-call contacts get SMS ' +
        'alerts: set role "on-call" or remove the phone',
    ]);
  });
});
