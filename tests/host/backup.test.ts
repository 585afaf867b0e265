/**
 * host/bin/backup against real SQLite files: what it writes, where, and what it reports.
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import * as crypto from "crypto";
import { repoRoot, runTool, tempDir } from "../helpers/host";
import {
  eventNamed,
  fakeGcloud,
  hostEnv,
  listFiles,
  makeDatabase,
  python,
  query,
  sha256,
} from "./fixtures/backupFixtures";

let root: string;
let cleanup: () => void;
let env: Record<string, string>;
let database: string;

let template: { dir: string; cleanup: () => void };

beforeAll(() => {
  template = tempDir("backup-template");
  makeDatabase(path.join(template.dir, "guincho.sqlite3"), 2000);
});

afterAll(() => template.cleanup());

beforeEach(() => {
  ({ dir: root, cleanup } = tempDir("backup"));
  env = hostEnv(root);
  database = path.join(root, "data", "db", "guincho.sqlite3");
  fs.mkdirSync(path.dirname(database), { recursive: true });
  fs.copyFileSync(path.join(template.dir, "guincho.sqlite3"), database);
});

afterEach(() => cleanup());

function backup(args: string[], extraEnv: Record<string, string> = {}) {
  return runTool("backup", ["--database", database, ...args], { env: { ...env, ...extraEnv } });
}

test("backs up a WAL database to file:// with a manifest that matches the copy", () => {
  const dest = path.join(root, "dest");
  const result = backup(["--destination", `file://${dest}`, "--kind", "daily"]);
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
  expect(result.events.map((e) => e.event)).toEqual([
    "backup_copied",
    "backup_checked",
    "backup_compressed",
    "backup_uploaded",
    "backup_kept_local",
    "backup_completed",
  ]);
  const done = eventNamed(result.events, "backup_completed");
  const sha = String(done.sha256);
  const name = String(done.backup);
  expect(name).toMatch(new RegExp(`^\\d{8}T\\d{6}\\.\\d{3}Z-daily-${sha.slice(0, 12)}$`));
  expect(done.object).toBe(`file://${dest}/data/${sha}.sqlite3.gz`);
  expect(done.manifest).toBe(`file://${dest}/manifests/${name}.json`);
  expect(listFiles(dest)).toEqual([`data/${sha}.sqlite3.gz`, `manifests/${name}.json`]);
  const object = path.join(dest, "data", `${sha}.sqlite3.gz`);
  expect(sha256(object)).toBe(sha);
  expect(done.compressed_bytes).toBe(fs.statSync(object).size);
  const raw = zlib.gunzipSync(fs.readFileSync(object));
  expect(raw.length).toBe(done.bytes);
  expect(crypto.createHash("sha256").update(raw).digest("hex")).toBe(done.database_sha256);
  const [[pageCount, version]] = query(
    database,
    "SELECT page_count, sqlite_version() FROM pragma_page_count",
  );
  expect(done.page_count).toBe(pageCount);
  expect(done.sqlite_version).toBe(version);
  expect(done.full).toBe(false);
  const manifest = JSON.parse(
    fs.readFileSync(path.join(dest, "manifests", `${name}.json`), "utf8"),
  );
  expect(manifest).toMatchObject({
    format: "guincho-backup/1",
    name,
    kind: "daily",
    stage: "dev",
    source: database,
    object: `data/${sha}.sqlite3.gz`,
    sha256: sha,
    bytes: raw.length,
    page_count: pageCount,
    schema_hash: done.schema_hash,
    tables: 1,
    host_state: null,
  });
  const local = path.join(root, "data", "backups");
  expect(listFiles(local)).toEqual([
    ".backup.lock",
    `data/${sha}.sqlite3.gz`,
    `manifests/${name}.json`,
  ]);
});

test("keeps only the --keep-local newest backups on the data disk, and every one remotely", () => {
  const dest = path.join(root, "dest");
  const names: string[] = [];
  for (const kind of ["daily", "pre-deploy", "daily"]) {
    const result = backup(["--destination", `file://${dest}`, "--kind", kind, "--keep-local", "2"]);
    expect(result.status).toBe(0);
    names.push(String(eventNamed(result.events, "backup_completed").backup));
    // A new row changes the content, so each backup has its own data object.
    insertRow();
  }
  const local = path.join(root, "data", "backups");
  expect(listFiles(path.join(local, "manifests"))).toEqual(names.slice(1).map((n) => `${n}.json`));
  expect(listFiles(path.join(local, "data"))).toHaveLength(2);
  expect(listFiles(path.join(dest, "manifests"))).toEqual(names.map((n) => `${n}.json`));
  expect(listFiles(path.join(dest, "data"))).toHaveLength(3);
});

test("takes the number of local copies from host.env's GUINCHO_BACKUP_LOCAL_COPIES", () => {
  const dest = path.join(root, "dest");
  for (let i = 0; i < 3; i++) {
    const result = backup(["--destination", `file://${dest}`, "--kind", "daily"], {
      GUINCHO_BACKUP_LOCAL_COPIES: "1",
    });
    expect(result.status).toBe(0);
    insertRow();
  }
  const local = path.join(root, "data", "backups");
  expect(listFiles(path.join(local, "manifests"))).toHaveLength(1);
  expect(listFiles(path.join(dest, "manifests"))).toHaveLength(3);
});

function insertRow(): void {
  const script =
    "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); " +
    "c.execute(\"INSERT INTO tows (plate) VALUES ('NEW')\"); c.commit()";
  expect(spawnSync(python(), ["-c", script, database]).status).toBe(0);
}

test("a weekly backup records the release id and host config, withholding secrets", () => {
  const stateDir = path.join(root, "data", "state");
  fs.mkdirSync(stateDir, { recursive: true });
  fs.writeFileSync(path.join(stateDir, "current-release"), "r2026.12.01-3\n");
  const hostEnvFile = path.join(root, "host.env");
  fs.writeFileSync(
    hostEnvFile,
    [
      "# host config",
      "GUINCHO_STAGE=prod",
      "GUINCHO_BACKUP_URL='gs://guincho-prod-backups/backups'",
      "SHEETS_API_KEY=abc123",
      "SMTP_PASSWORD=hunter2",
      "",
    ].join("\n"),
  );
  const dest = path.join(root, "dest");
  const result = backup([
    "--destination",
    `file://${dest}`,
    "--kind",
    "weekly",
    "--host-env",
    hostEnvFile,
  ]);
  expect(result.status).toBe(0);
  const done = eventNamed(result.events, "backup_completed");
  expect(done.full).toBe(true);
  const manifest = JSON.parse(
    fs.readFileSync(path.join(dest, "manifests", `${done.backup}.json`), "utf8"),
  );
  expect(manifest.host_state).toEqual({
    state_dir: stateDir,
    state_files: { "current-release": "r2026.12.01-3\n" },
    host_env: hostEnvFile,
    config: {
      GUINCHO_STAGE: "prod",
      GUINCHO_BACKUP_URL: "gs://guincho-prod-backups/backups",
    },
    withheld_keys: ["SHEETS_API_KEY", "SMTP_PASSWORD"],
  });
  expect(fs.readFileSync(path.join(dest, "manifests", `${done.backup}.json`), "utf8")).not.toMatch(
    /abc123|hunter2/,
  );
});

test("uploads to gs:// with --if-generation-match=0, data object first, manifest last", () => {
  const gcs = path.join(root, "gcs");
  fs.mkdirSync(gcs);
  const gcloudEnv = { GUINCHO_GCLOUD: fakeGcloud, FAKE_GCS_ROOT: gcs };
  const result = backup(
    ["--destination", "gs://guincho-dev-backups/backups", "--kind", "pre-deploy"],
    gcloudEnv,
  );
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
  const done = eventNamed(result.events, "backup_completed");
  const objectUrl = `gs://guincho-dev-backups/backups/data/${done.sha256}.sqlite3.gz`;
  const manifestUrl = `gs://guincho-dev-backups/backups/manifests/${done.backup}.json`;
  expect(done.object).toBe(objectUrl);
  expect(done.manifest).toBe(manifestUrl);
  const calls = fs.readFileSync(path.join(gcs, "calls.log"), "utf8").trim().split("\n");
  expect(calls.map((line) => line.replace(/ \/\S+ /, " LOCAL "))).toEqual([
    `storage cp --if-generation-match=0 --quiet LOCAL ${objectUrl} [composite=False]`,
    `storage cp --if-generation-match=0 --quiet LOCAL ${manifestUrl} [composite=False]`,
  ]);
  // The same bytes again: the data object exists, the precondition refuses a second upload,
  // and only a new manifest is added.
  const again = backup(
    ["--destination", "gs://guincho-dev-backups/backups", "--kind", "daily"],
    gcloudEnv,
  );
  expect(again.status).toBe(0);
  expect(eventNamed(again.events, "backup_completed").object).toBe(objectUrl);
  const bucket = path.join(gcs, "guincho-dev-backups", "backups");
  expect(listFiles(path.join(bucket, "data"))).toEqual([`${done.sha256}.sqlite3.gz`]);
  expect(listFiles(path.join(bucket, "manifests"))).toHaveLength(2);
  const drill = runTool(
    "restore",
    [
      ...["--source", "gs://guincho-dev-backups/backups", "--drill", "--database", database],
      ...["--backup", String(done.backup)],
    ],
    { env: { ...env, ...gcloudEnv } },
  );
  expect(drill.status).toBe(0);
  expect(eventNamed(drill.events, "restore_drill_ok")).toMatchObject({
    backup: done.backup,
    source: objectUrl,
    rows: 2000,
  });
});

test("a gs:// upload the bucket refuses fails the backup with gcloud's reason", () => {
  const gcs = path.join(root, "gcs");
  fs.mkdirSync(gcs);
  const result = backup(["--destination", "gs://guincho-dev-backups/backups", "--kind", "daily"], {
    GUINCHO_GCLOUD: fakeGcloud,
    FAKE_GCS_ROOT: gcs,
    FAKE_GCS_DENY_CREATE: "1",
  });
  expect(result.status).toBe(1);
  expect(eventNamed(result.events, "backup_failed").reason).toMatch(
    new RegExp(
      "^uploading gs://guincho-dev-backups/backups/data/[0-9a-f]{64}\\.sqlite3\\.gz failed: " +
        "ERROR: \\(gcloud\\.storage\\.cp\\) HTTPError 403: app@example\\.iam\\." +
        "gserviceaccount\\.com does not have storage\\.objects\\.create access$",
    ),
  );
  expect(listFiles(path.join(root, "data", "backups"))).toEqual([".backup.lock"]);
});

test.each([
  [
    ["--destination", "ftp://backups.example.com/x", "--kind", "daily"],
    "--destination value 'ftp://backups.example.com/x' is neither gs://bucket/prefix nor file:///dir",
  ],
  [
    ["--destination", "file://relative/dir", "--kind", "daily"],
    "--destination value 'file://relative/dir' is not a file URL of an absolute path (file:///dir)",
  ],
  [
    ["--destination", "file:///tmp/x", "--kind", "daily", "--keep-local", "-1"],
    "--keep-local value -1 is negative; use 0 or more",
  ],
  [
    ["--destination", "file:///tmp/x", "--kind", "daily", "--compress-level", "11"],
    "--compress-level value 11 is not between 1 and 9",
  ],
  [
    ["--kind", "daily"],
    "--destination is empty and GUINCHO_BACKUP_URL is not set; give gs://bucket/prefix or file:///dir",
  ],
])("refuses %j with one line naming the flag", (args, message) => {
  const result = backup(args);
  expect(result.status).toBe(1);
  expect(result.stderr).toBe(`backup: ${message}\n`);
  expect(eventNamed(result.events, "backup_failed")).toMatchObject({
    severity: "ERROR",
    reason: message,
  });
});

test("refuses a database path that is not a file", () => {
  const result = runTool(
    "backup",
    [
      "--database",
      "/nonexistent/guincho.sqlite3",
      "--destination",
      "file:///tmp/x",
      "--kind",
      "daily",
    ],
    { env },
  );
  expect(result.status).toBe(1);
  expect(result.stderr).toBe(
    "backup: --database value '/nonexistent/guincho.sqlite3' is not a file\n",
  );
});

test("refuses an unknown --kind, listing the kinds", () => {
  const result = backup(["--destination", "file:///tmp/x", "--kind", "hourly"]);
  expect(result.status).toBe(2);
  expect(result.stderr.trim().split("\n").pop()).toBe(
    "backup: error: argument --kind: invalid choice: 'hourly' (choose from 'pre-deploy', 'daily', 'weekly')",
  );
});

describe("systemd units", () => {
  const unitDir = path.join(repoRoot, "host", "systemd");

  function settings(unit: string): string[] {
    return fs
      .readFileSync(path.join(unitDir, unit), "utf8")
      .split("\n")
      .filter((line) => line && !line.startsWith("#") && !line.startsWith("["));
  }

  test("the backup unit runs the tool with its instance as --kind, the drill with --drill", () => {
    expect(settings("guincho-backup@.service")).toEqual(
      expect.arrayContaining([
        "Type=oneshot",
        "User=guincho",
        "ExecStart=/usr/bin/python3 /opt/guincho/host/bin/backup --kind %i",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/guincho",
      ]),
    );
    const drill = settings("guincho-restore-drill.service");
    expect(drill).toEqual(
      expect.arrayContaining([
        "Type=oneshot",
        "ExecStart=/usr/bin/python3 /opt/guincho/host/bin/restore --drill --scratch-dir " +
          "/var/lib/guincho/restore-drill",
        "ProtectSystem=strict",
        "StateDirectory=guincho/restore-drill",
      ]),
    );
    // The drill may write its scratch directory only, never the live database.
    expect(drill.filter((line) => line.startsWith("ReadWritePaths="))).toEqual([]);
  });

  test("both units pass systemd-analyze verify without a warning", () => {
    const { dir, cleanup: remove } = tempDir("backup-units");
    try {
      const daily = path.join(dir, "guincho-backup@daily.service");
      fs.copyFileSync(path.join(unitDir, "guincho-backup@.service"), daily);
      const drill = path.join(dir, "guincho-restore-drill.service");
      fs.copyFileSync(path.join(unitDir, "guincho-restore-drill.service"), drill);
      const result = spawnSync("systemd-analyze", ["verify", daily, drill], { encoding: "utf8" });
      expect(result.stderr).toBe("");
      expect(result.status).toBe(0);
    } finally {
      remove();
    }
  });
});

test("waits for another backup's lock, and gives up after --lock-timeout", async () => {
  const local = path.join(root, "data", "backups");
  fs.mkdirSync(local, { recursive: true });
  const holder = spawn(
    python(),
    [
      "-c",
      "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); " +
        "print('held', flush=True); time.sleep(30)",
      path.join(local, ".backup.lock"),
    ],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  try {
    await new Promise<void>((resolve) => holder.stdout.once("data", () => resolve()));
    const result = backup([
      ...["--destination", `file://${path.join(root, "dest")}`, "--kind", "daily"],
      ...["--lock-timeout", "0.5"],
    ]);
    expect(result.status).toBe(1);
    expect(eventNamed(result.events, "backup_failed").reason).toBe(
      `another backup still holds ${path.join(local, ".backup.lock")} after 0.5 s`,
    );
    expect(listFiles(path.join(root, "dest"))).toEqual([]);
  } finally {
    holder.kill("SIGKILL");
  }
});
