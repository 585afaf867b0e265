/**
 * The daily, weekly and monthly report tools, run for real on sample logs, apt output and
 * databases written here: exact counts, exact percentiles, exact growth.
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as path from "path";
import * as zlib from "zlib";
import { HostEvent, repoRoot, runTool, tempDir } from "../helpers/host";

const NOW = "2026-12-03T06:00:00Z";
const nowMs = Date.parse(NOW);

let dir: string;
let cleanup: () => void;

beforeEach(() => {
  ({ dir, cleanup } = tempDir("reports"));
});

afterEach(() => cleanup());

function write(name: string, lines: string[]): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const text = lines.join("\n") + "\n";
  fs.writeFileSync(file, name.endsWith(".gz") ? zlib.gzipSync(text) : text);
  return file;
}

function onlyEvent(events: HostEvent[], name: string): HostEvent {
  const found = events.filter((e) => e.event === name);
  expect(found).toHaveLength(1);
  return found[0];
}

/** An ISO instant `hours` before NOW. */
function ago(hours: number): string {
  return new Date(nowMs - hours * 3_600_000).toISOString();
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function httpGet(port: number, uri: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: uri }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      })
      .on("error", reject);
  });
}

async function waitForPort(port: number): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      await httpGet(port, "/healthz");
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`nginx did not listen on ${port}`);
}

describe("error-review", () => {
  /** One `journalctl -o json` entry whose MESSAGE is an app event. */
  function journal(
    hours: number,
    severity: string,
    event: string,
    unit = "guincho-app@blue.service",
  ) {
    const micros = String((nowMs - hours * 3_600_000) * 1000);
    const message = JSON.stringify({ severity, event, time: ago(hours), release: "r42" });
    return JSON.stringify({
      __REALTIME_TIMESTAMP: micros,
      PRIORITY: severity === "ERROR" ? "3" : "6",
      _SYSTEMD_UNIT: unit,
      MESSAGE: message,
    });
  }

  function nginxError(hours: number, level: string, text: string): string {
    const t = new Date(nowMs - hours * 3_600_000).toISOString();
    const stamp = `${t.slice(0, 10).replace(/-/g, "/")} ${t.slice(11, 19)}`;
    return `${stamp} [${level}] 812#812: *${4400 + hours} ${text}, client: 35.191.8.4, server: _`;
  }

  function writeSampleLogs(): string[] {
    const journalFile = write("journal.json", [
      journal(2, "ERROR", "sync_failed"),
      journal(5, "ERROR", "sync_failed"),
      journal(23, "ERROR", "sync_failed"),
      journal(3, "ERROR", "backup_failed", "guincho-backup.service"),
      journal(4, "WARNING", "sync_slow"),
      journal(6, "INFO", "sync_completed"),
      journal(30, "ERROR", "sync_failed"), // yesterday's news: outside the window
      JSON.stringify({
        __REALTIME_TIMESTAMP: String((nowMs - 1_800_000) * 1000),
        PRIORITY: "3",
        _SYSTEMD_UNIT: "guincho-app@green.service",
        MESSAGE: "Traceback (most recent call last):",
      }),
    ]);
    const appLog = write("app.log", [
      JSON.stringify({ severity: "ERROR", event: "invoice_render_failed", time: ago(1) }),
      JSON.stringify({ severity: "CRITICAL", event: "database_locked", time: ago(7) }),
      "not json at all",
    ]);
    write("nginx/error.log", [
      nginxError(
        1,
        "error",
        "connect() failed (111: Connection refused) while connecting to upstream",
      ),
      nginxError(
        2,
        "error",
        "connect() failed (111: Connection refused) while connecting to upstream",
      ),
      nginxError(3, "warn", 'an upstream response is buffered to a temporary file "/var/cache/x"'),
    ]);
    write("nginx/error.log.1", [
      nginxError(
        20,
        "error",
        "upstream timed out (110: Connection timed out) while reading response",
      ),
      nginxError(
        40,
        "error",
        "upstream timed out (110: Connection timed out) while reading response",
      ),
    ]);
    return ["--input", journalFile, "--input", appLog];
  }

  it("counts the last day's errors by kind from the journal, app logs and nginx", () => {
    const inputs = writeSampleLogs();
    const nginxLog = path.join(dir, "nginx", "error.log");
    const result = runTool("error-review", [
      ...inputs,
      "--nginx-error-log",
      nginxLog,
      "--now",
      NOW,
    ]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const summary = onlyEvent(result.events, "error_review_summary");
    expect(summary).toMatchObject({
      severity: "WARNING",
      window_start: "2026-12-02T06:00:00+00:00",
      window_end: "2026-12-03T06:00:00+00:00",
      total_errors: 10,
      total_warnings: 2,
      errors_by_kind: {
        backup_failed: 1,
        database_locked: 1,
        invoice_render_failed: 1,
        "nginx: connect() failed (N: Connection refused) while connecting to upstream": 2,
        "nginx: upstream timed out (N: Connection timed out) while reading response": 1,
        sync_failed: 3,
        "unstructured:guincho-app@green.service": 1,
      },
      warnings_by_kind: {
        'nginx: an upstream response is buffered to a temporary file "..."': 1,
        sync_slow: 1,
      },
      errors_by_source: {
        "app.log": 2,
        "guincho-app@blue.service": 3,
        "guincho-app@green.service": 1,
        "guincho-backup.service": 1,
        nginx: 3,
      },
      lines_unparsed: 1,
      lines_outside_window: 2,
    });
    expect(summary.top_kinds).toEqual([
      { kind: "sync_failed", count: 3 },
      {
        kind: "nginx: connect() failed (N: Connection refused) while connecting to upstream",
        count: 2,
      },
      { kind: "backup_failed", count: 1 },
      { kind: "database_locked", count: 1 },
      { kind: "invoice_render_failed", count: 1 },
    ]);
  });

  it("reads the journal of the guincho units since the start of the window", () => {
    const fake = path.join(dir, "journalctl");
    const entries = [journal(1, "ERROR", "sync_failed"), journal(2, "INFO", "sync_completed")];
    write("entries.json", entries);
    fs.writeFileSync(
      fake,
      '#!/bin/sh\necho "$*" > "$(dirname "$0")/args"\ncat "$(dirname "$0")/entries.json"\n',
    );
    fs.chmodSync(fake, 0o755);
    const result = runTool("error-review", ["--nginx-error-log", "none", "--now", NOW], {
      env: { GUINCHO_JOURNALCTL: fake },
    });
    expect(result.status).toBe(0);
    expect(onlyEvent(result.events, "error_review_summary")).toMatchObject({
      total_errors: 1,
      errors_by_kind: { sync_failed: 1 },
    });
    const since = (nowMs - 24 * 3_600_000) / 1000;
    expect(fs.readFileSync(path.join(dir, "args"), "utf8")).toBe(
      `-o json --no-pager --since @${since} -u guincho-*\n`,
    );
  });

  it("is INFO when the day had no error", () => {
    const quiet = write("quiet.json", [journal(2, "INFO", "sync_completed")]);
    const result = runTool("error-review", [
      "--input",
      quiet,
      "--nginx-error-log",
      "none",
      "--now",
      NOW,
    ]);
    expect(result.status).toBe(0);
    expect(onlyEvent(result.events, "error_review_summary")).toMatchObject({
      severity: "INFO",
      total_errors: 0,
      errors_by_kind: {},
      top_kinds: [],
    });
  });

  it("refuses a missing input file in one line naming the flag", () => {
    const result = runTool("error-review", ["--input", path.join(dir, "nope.json")]);
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      `error-review: error: --input '${path.join(dir, "nope.json")}' is not a readable file\n`,
    );
    expect(result.stdout).toBe("");
  });
});

describe("perf-audit", () => {
  /** A guincho_json access-log line, as nginx writes it with host/nginx/log-format.conf. */
  function jsonLine(hoursAgo: number, uri: string, status: number, seconds: number): string {
    const t = new Date(nowMs - hoursAgo * 3_600_000).toISOString().replace(".000Z", "+00:00");
    return JSON.stringify({
      time_iso8601: t,
      remote_addr: "35.191.8.4",
      forwarded_for: "177.92.14.3, 34.120.1.1",
      request_method: "GET",
      request_uri: uri,
      status: String(status),
      body_bytes_sent: "512",
      request_time: seconds.toFixed(3),
      upstream_response_time: (seconds - 0.001).toFixed(3),
      upstream_addr: "127.0.0.1:8001",
      http_user_agent: "Mozilla/5.0",
    });
  }

  it("gives nearest-rank p50/p95/p99 and 5xx/4xx shares over the log and its rotations", () => {
    // 100 requests of 1..100 ms spread over the current log, .1 and .2.gz; 3 are 5xx, 7 are 4xx.
    const lines = Array.from({ length: 100 }, (_, i) => {
      const ms = i + 1;
      const status = ms <= 3 ? 502 : ms <= 10 ? 404 : 200;
      return jsonLine(ms, ms % 2 ? `/tows/${ms}` : "/invoices?page=2", status, ms / 1000);
    });
    const log = write("access.log", [
      ...lines.slice(0, 40),
      "{garbage",
      jsonLine(1, "/healthz", 200, 0.5),
    ]);
    write("access.log.1", lines.slice(40, 70));
    write("access.log.2.gz", [...lines.slice(70), jsonLine(24 * 9, "/tows/1", 200, 9)]);
    const result = runTool("perf-audit", ["--access-log", log, "--now", NOW]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(onlyEvent(result.events, "perf_audit_report")).toMatchObject({
      severity: "WARNING",
      window_start: "2026-11-26T06:00:00+00:00",
      requests: 100,
      p50_ms: 50,
      p95_ms: 95,
      p99_ms: 99,
      max_ms: 100,
      upstream_p95_ms: 94,
      share_5xx: 0.03,
      share_4xx: 0.07,
      status_classes: { "2xx": 90, "4xx": 7, "5xx": 3 },
      slowest_paths: [
        { path: "/invoices", requests: 50, p95_ms: 96 },
        { path: "/tows/:id", requests: 50, p95_ms: 95 },
      ],
      warnings: ["5xx share 0.03 is above 0.01"],
      lines_unparsed: 1,
      lines_outside_window: 1,
      requests_excluded: 1,
      files: [`${log}.2.gz`, `${log}.1`, log],
    });
  });

  it("reads the combined format with request and upstream times appended", () => {
    const lines = [0.12, 0.031, 0.45, 2.5, 0.08].map(
      (s, i) =>
        `177.92.14.${i} - - [03/Dec/2026:0${i}:15:00 +0000] "POST /tows HTTP/1.1" 201 88 ` +
        `"-" "Mozilla/5.0 (Linux; Android 14)" ${s.toFixed(3)} ${s.toFixed(3)}`,
    );
    const log = write("timed.log", lines);
    const result = runTool("perf-audit", [
      "--access-log",
      log,
      "--now",
      NOW,
      "--p95-warn-ms",
      "2000",
    ]);
    expect(result.status).toBe(0);
    expect(onlyEvent(result.events, "perf_audit_report")).toMatchObject({
      severity: "WARNING",
      requests: 5,
      p50_ms: 120,
      p95_ms: 2500,
      p99_ms: 2500,
      share_5xx: 0,
      warnings: ["p95 2500 ms is above 2000 ms"],
    });
  });

  it("reads what nginx itself writes with log-format.conf, in both formats", async () => {
    const port = await freePort();
    const conf = path.join(dir, "nginx.conf");
    fs.writeFileSync(
      conf,
      `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n` +
        `  include ${path.join(repoRoot, "host", "nginx", "log-format.conf")};\n` +
        `  server {\n    listen 127.0.0.1:${port};\n` +
        `    access_log ${dir}/json.log guincho_json;\n` +
        `    access_log ${dir}/timed.log guincho_timed;\n` +
        "    location /broken { return 503; }\n    location / { return 200 ok; }\n  }\n}\n",
    );
    const master = spawn("nginx", ["-p", `${dir}/`, "-c", conf, "-g", "daemon off;"], {
      stdio: "ignore",
    });
    try {
      await waitForPort(port);
      for (const uri of ["/tows/1", "/tows/2?x=1", "/broken", "/nope", "/healthz"]) {
        await httpGet(port, uri);
      }
    } finally {
      master.kill("SIGQUIT"); // graceful: the logs are complete when it exits
      await new Promise((resolve) => master.once("exit", resolve));
    }
    for (const log of ["json.log", "timed.log"]) {
      const result = runTool("perf-audit", ["--access-log", path.join(dir, log)]);
      expect([log, result.status]).toEqual([log, 0]);
      expect(onlyEvent(result.events, "perf_audit_report")).toMatchObject({
        requests: 4,
        share_5xx: 0.25,
        share_4xx: 0,
        status_classes: { "2xx": 3, "5xx": 1 },
        requests_excluded: 2, // /healthz: ours and the readiness probe's
        lines_unparsed: 0,
      });
    }
  });

  it("fails with an event when there is no access log", () => {
    const missing = path.join(dir, "none.log");
    const result = runTool("perf-audit", ["--access-log", missing]);
    expect(result.status).toBe(1);
    expect(onlyEvent(result.events, "perf_audit_failed")).toMatchObject({
      severity: "ERROR",
      error: `no access log at ${missing} nor rotated copies of it`,
    });
  });

  it("fails naming a damaged rotated log", () => {
    const log = write("access.log", [jsonLine(1, "/tows/1", 200, 0.1)]);
    const gz = zlib.gzipSync("a log cut short by a full disk\n");
    fs.writeFileSync(`${log}.2.gz`, gz.subarray(0, gz.length - 9));
    const result = runTool("perf-audit", ["--access-log", log, "--now", NOW]);
    expect(result.status).toBe(1);
    expect(onlyEvent(result.events, "perf_audit_failed").error).toBe(
      `${log}.2.gz cannot be read: ` +
        "Compressed file ended before the end-of-stream marker was reached",
    );
  });

  it("refuses a share outside 0..1 in one line", () => {
    const result = runTool("perf-audit", ["--max-5xx-share", "5"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toBe("perf-audit: error: --max-5xx-share 5 must be between 0 and 1\n");
  });
});

describe("security-check", () => {
  const APT = [
    "Listing...",
    "libssl3/stable-security 3.0.15-1~deb12u1 amd64 [upgradable from: 3.0.14-1~deb12u2]",
    "openssl/stable-security,stable 3.0.15-1~deb12u1 amd64 [upgradable from: 3.0.14-1~deb12u2]",
    "tzdata/stable-updates 2024b-0+deb12u1 all [upgradable from: 2024a-0+deb12u1]",
    "nginx-light/oldstable 1.22.1-9+deb12u1 amd64 [upgradable from: 1.22.1-9]",
  ];

  it("lists pending security updates and warns once they wait past the limit", () => {
    const apt = write("apt.txt", APT);
    const state = path.join(dir, "state", "security-pending.json");
    const flag = write("reboot-required", ["*** System restart required ***"]);
    write("reboot-required.pkgs", ["linux-image-6.1.0-28-cloud-amd64", "libssl3"]);
    const rebootSince = new Date(nowMs - 2 * 86_400_000);
    fs.utimesSync(flag, rebootSince, rebootSince);
    const args = ["--input", apt, "--state", state, "--reboot-required-file", flag];
    const first = runTool("security-check", [...args, "--now", NOW]);
    expect(first.status).toBe(0);
    expect(onlyEvent(first.events, "security_check_report")).toMatchObject({
      severity: "NOTICE",
      upgradable: 4,
      security_updates: 2,
      security_packages: ["libssl3", "openssl"],
      other_packages: ["nginx-light", "tzdata"],
      oldest_pending_days: 0,
      overdue_packages: [],
      reboot_required: true,
      reboot_pending_days: 2,
      reboot_packages: ["libssl3", "linux-image-6.1.0-28-cloud-amd64"],
      warnings: [],
    });
    const later = new Date(nowMs + 8 * 86_400_000).toISOString();
    const second = runTool("security-check", [...args, "--now", later]);
    expect(onlyEvent(second.events, "security_check_report")).toMatchObject({
      severity: "WARNING",
      oldest_pending_days: 8,
      overdue_packages: ["libssl3", "openssl"],
      reboot_pending_days: 10,
      warnings: [
        "2 security update(s) pending for more than 7 days",
        "a reboot has been pending for 10 days",
      ],
    });
  });

  it("fails with an event when it cannot keep its state", () => {
    const apt = write("apt.txt", APT);
    const state = path.join(apt, "security-pending.json"); // under a file: never writable
    const result = runTool("security-check", ["--input", apt, "--state", state]);
    expect(result.status).toBe(1);
    expect(onlyEvent(result.events, "security_check_failed")).toMatchObject({
      error: `cannot read the state file ${state}: Not a directory`,
      state,
    });
  });

  it("is INFO when nothing waits", () => {
    const apt = write("apt.txt", ["Listing..."]);
    const args = [
      "--input",
      apt,
      "--state",
      path.join(dir, "s.json"),
      "--reboot-required-file",
      path.join(dir, "no"),
    ];
    const result = runTool("security-check", args);
    expect(onlyEvent(result.events, "security_check_report")).toMatchObject({
      severity: "INFO",
      upgradable: 0,
      security_updates: 0,
      reboot_required: false,
    });
  });
});

describe("capacity-report", () => {
  function sampleDatabase(): string {
    const db = path.join(dir, "db", "guincho.sqlite3");
    fs.mkdirSync(path.dirname(db), { recursive: true });
    const sql =
      "CREATE TABLE tows (id INTEGER PRIMARY KEY, notes TEXT); " +
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) " +
      "INSERT INTO tows (notes) " +
      "SELECT printf('Reboque %d, Rodovia Anhanguera km %d', i, i) FROM n;";
    const made = spawnSync("sqlite3", [db, sql], { encoding: "utf8" });
    expect(made.stderr).toBe("");
    return db;
  }

  it("measures database and bucket, keeps history and reports growth since the last report", () => {
    const db = sampleDatabase();
    const bucket = path.join(dir, "bucket");
    fs.mkdirSync(path.join(bucket, "data"), { recursive: true });
    fs.writeFileSync(path.join(bucket, "data", "a.sqlite3.gz"), Buffer.alloc(3000));
    fs.writeFileSync(path.join(bucket, "data", "b.sqlite3.gz"), Buffer.alloc(500));
    const args = ["--database", db, "--data-dir", dir, "--backup-url", `file://${bucket}`];
    const first = runTool("capacity-report", [...args, "--now", "2026-11-03T03:00:00Z"]);
    expect(first.stderr).toBe("");
    const report = onlyEvent(first.events, "capacity_report");
    expect(report).toMatchObject({
      database_bytes: fs.statSync(db).size,
      database_free_bytes: 0,
      bucket_bytes: 3500,
      growth: { since: null },
      days_until_full: null,
      reports_in_trend: 1,
    });
    fs.writeFileSync(path.join(bucket, "data", "c.sqlite3.gz"), Buffer.alloc(1500));
    const second = runTool("capacity-report", [...args, "--now", "2026-11-18T03:00:00Z"]);
    expect(onlyEvent(second.events, "capacity_report")).toMatchObject({
      bucket_bytes: 5000,
      growth: {
        since: "2026-11-03T03:00:00+00:00",
        days: 15,
        database_bytes: 0,
        bucket_bytes: 1500,
        bucket_per_30_days: 3000,
      },
      reports_in_trend: 2,
    });
    const history = JSON.parse(
      fs.readFileSync(path.join(dir, "state", "capacity-history.json"), "utf8"),
    );
    expect(history.reports.map((r: { time: string }) => r.time)).toEqual([
      "2026-11-03T03:00:00+00:00",
      "2026-11-18T03:00:00+00:00",
    ]);
  });

  it("measures a gs:// bucket with gcloud storage du", () => {
    const db = sampleDatabase();
    const gcloud = path.join(dir, "gcloud");
    fs.writeFileSync(
      gcloud,
      '#!/bin/sh\necho "$*" > "$(dirname "$0")/args"\necho "734003200  gs://b/backups"\n',
    );
    fs.chmodSync(gcloud, 0o755);
    const result = runTool(
      "capacity-report",
      ["--database", db, "--data-dir", dir, "--backup-url", "gs://b/backups"],
      { env: { GUINCHO_GCLOUD: gcloud } },
    );
    expect(onlyEvent(result.events, "capacity_report").bucket_bytes).toBe(734003200);
    expect(fs.readFileSync(path.join(dir, "args"), "utf8")).toBe("storage du -s gs://b/backups\n");
  });

  it.each([
    [
      [
        [0, 100],
        [30, 400],
      ],
      1000,
      60,
    ],
    [
      [
        [0, 100],
        [10, 200],
        [20, 300],
        [30, 400],
      ],
      1000,
      60,
    ],
    [
      [
        [0, 500],
        [30, 400],
      ],
      1000,
      null,
    ],
    [[[0, 500]], 1000, null],
  ])("days until full along the trend of %j with capacity %d is %p", (points, capacity, days) => {
    const code =
      "import json, sys; from guincho_host.stats import days_until_full; " +
      "print(json.dumps(days_until_full(json.loads(sys.argv[1]), float(sys.argv[2]))))";
    const result = spawnSync("python3", ["-c", code, JSON.stringify(points), String(capacity)], {
      encoding: "utf8",
      env: { ...process.env, PYTHONPATH: path.join(repoRoot, "host", "lib") },
    });
    expect(JSON.parse(result.stdout)).toBe(days);
  });

  it("refuses a backup URL of another scheme in one line", () => {
    const db = sampleDatabase();
    const result = runTool("capacity-report", [
      "--database",
      db,
      "--data-dir",
      dir,
      "--backup-url",
      "s3://x/y",
    ]);
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      "capacity-report: error: --backup-url 's3://x/y' is neither gs://bucket/prefix " +
        "nor file:///dir\n",
    );
  });
});

describe.each(["error-review", "perf-audit", "security-check", "capacity-report", "sanitize"])(
  "%s --help",
  (tool) => {
    it("explains every flag and exits 0", () => {
      const result = runTool(tool, ["--help"]);
      expect(result.status).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^usage: ${tool} `));
      expect(result.stdout).toContain("(default: ");
    });
  },
);
