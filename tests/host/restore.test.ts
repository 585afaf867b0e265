/**
 * host/bin/restore against real backups: the drill, the plan, refusals of unsound backups
 * before anything is touched, and the live swap with the app stopped and started again.
 */
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import * as zlib from "zlib";
import { HostEvent, runTool, tempDir, ToolResult } from "../helpers/host";
import {
  eventNamed,
  fingerprint,
  fixtures,
  hostEnv,
  hostLib,
  listFiles,
  makeDatabase,
  python,
  query,
  sha256,
  sqliteTool,
} from "./fixtures/backupFixtures";

let root: string;
let cleanup: () => void;
let env: Record<string, string>;
let dest: string;
let first: HostEvent;
let second: HostEvent;
let template: string;

function backupOf(database: string, kind: string): HostEvent {
  const result = runTool(
    "backup",
    ["--database", database, "--destination", `file://${dest}`, "--kind", kind],
    { env },
  );
  expect(result.status).toBe(0);
  return eventNamed(result.events, "backup_completed");
}

beforeAll(() => {
  ({ dir: root, cleanup } = tempDir("restore"));
  env = hostEnv(root);
  dest = path.join(root, "dest");
  const source = path.join(root, "source.sqlite3");
  makeDatabase(source, 2000);
  first = backupOf(source, "weekly");
  makeDatabase(path.join(root, "other.sqlite3"), 500);
  second = backupOf(path.join(root, "other.sqlite3"), "daily");
  template = path.join(root, "template.sqlite3");
  makeDatabase(template, 300);
});

afterAll(() => cleanup());

/** A live database of its own (300 rows, differs from every backup) in a fresh directory. */
function liveDatabase(label: string): string {
  const file = path.join(root, label, "db", "guincho.sqlite3");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.copyFileSync(template, file);
  return file;
}

function restore(args: string[], extraEnv: Record<string, string> = {}): ToolResult {
  return runTool("restore", args, { env: { ...env, ...extraEnv } });
}

test("a drill restores the latest backup in scratch, verifies it, and leaves the live system alone", () => {
  const live = liveDatabase("drill");
  const before = fingerprint(path.dirname(live));
  const scratch = path.join(root, "scratch");
  const result = restore([
    ...["--database", live, "--source", `file://${dest}`, "--backup", String(first.backup)],
    ...["--drill", "--scratch-dir", scratch],
  ]);
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
  expect(result.events.map((e) => e.event)).toEqual([
    "restore_selected",
    "restore_verified",
    "restore_drill_ok",
  ]);
  expect(eventNamed(result.events, "restore_drill_ok")).toMatchObject({
    severity: "INFO",
    backup: first.backup,
    kind: "weekly",
    source: first.object,
    bytes: first.bytes,
    compressed_bytes: first.compressed_bytes,
    integrity: "ok",
    page_count: first.page_count,
    schema_hash: first.schema_hash,
    tables: 1,
    rows: 2000,
    kept: null,
  });
  expect(eventNamed(result.events, "restore_verified").schema_matches_live).toBe(null);
  expect(listFiles(scratch)).toEqual([]);
  expect(fingerprint(path.dirname(live))).toEqual(before);
});

test("--backup latest picks the newest backup; --kind narrows it to one kind", () => {
  const latest = restore(["--source", `file://${dest}`, "--dry-run"]);
  expect(eventNamed(latest.events, "restore_selected").backup).toBe(second.backup);
  const weekly = restore(["--source", `file://${dest}`, "--dry-run", "--kind", "weekly"]);
  expect(eventNamed(weekly.events, "restore_selected").backup).toBe(first.backup);
  const none = restore(["--source", `file://${dest}`, "--dry-run", "--kind", "pre-deploy"]);
  expect(none.status).toBe(1);
  expect(none.stderr).toBe(
    `restore: no backup of kind pre-deploy found in file://${dest}/manifests/\n`,
  );
});

test("--backup accepts the object URL backup printed, and refuses an unknown name", () => {
  const byObject = restore([
    "--source",
    `file://${dest}`,
    "--dry-run",
    "--backup",
    String(second.object),
  ]);
  expect(eventNamed(byObject.events, "restore_selected").backup).toBe(second.backup);
  const unknown = restore(["--source", `file://${dest}`, "--dry-run", "--backup", "yesterday"]);
  expect(unknown.status).toBe(1);
  expect(eventNamed(unknown.events, "restore_failed").reason).toBe(
    `--backup value 'yesterday' matches no backup in file://${dest}/manifests/ (2 there; newest: ${second.backup})`,
  );
});

test("--dry-run prints the plan and changes nothing", () => {
  const live = liveDatabase("dry-run");
  const before = fingerprint(path.dirname(live));
  const result = restore(["--database", live, "--source", `file://${dest}`, "--dry-run"]);
  expect(result.status).toBe(0);
  const plan = eventNamed(result.events, "restore_plan");
  expect(plan.steps).toEqual([
    `download ${second.object} (${second.compressed_bytes} bytes) next to ${live}`,
    "check sha256, size, PRAGMA integrity_check, page count and schema hash against the manifest",
    "stop the active app units among guincho-app@blue, guincho-app@green",
    `keep ${live} and its -wal/-shm files as ${live}.before-restore-<time>`,
    `move the verified copy to ${live} (one rename)`,
    "start the same units",
    "check http://127.0.0.1/healthz answers 200 within 60 s",
  ]);
  expect(fingerprint(path.dirname(live))).toEqual(before);
});

test("refuses to replace the live database without --yes", () => {
  const live = liveDatabase("no-yes");
  const result = restore(["--database", live, "--source", `file://${dest}`]);
  expect(result.status).toBe(1);
  expect(result.stderr).toBe(
    `restore: a restore replaces the live database ${live}; run with --dry-run to see the plan, ` +
      "--drill to rehearse, or --yes to restore\n",
  );
});

/** A copy of the destination whose first backup is damaged by `damage`. */
function damagedSource(label: string, damage: (store: string, manifest: Manifest) => void): string {
  const store = path.join(root, `damaged-${label}`);
  fs.cpSync(dest, store, { recursive: true });
  const manifestFile = path.join(store, "manifests", `${first.backup}.json`);
  const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8")) as Manifest;
  damage(store, manifest);
  fs.writeFileSync(manifestFile, JSON.stringify(manifest));
  return store;
}

interface Manifest {
  object: string;
  sha256: string;
  compressed_bytes: number;
  database_sha256: string;
  bytes: number;
  schema_hash: string;
  page_count: number;
}

function objectOf(store: string, manifest: Manifest): string {
  return path.join(store, manifest.object);
}

const damages: [string, (store: string, manifest: Manifest) => void, (store: string) => RegExp][] =
  [
    [
      "a corrupt object (one byte flipped)",
      (store, manifest) => {
        const file = objectOf(store, manifest);
        const bytes = fs.readFileSync(file);
        bytes[bytes.length >> 1] ^= 0xff;
        fs.writeFileSync(file, bytes);
      },
      (store) =>
        new RegExp(
          `^refusing ${first.backup}: file://${store}/data/${first.sha256}\\.sqlite3\\.gz has ` +
            `${first.compressed_bytes} bytes with sha256 [0-9a-f]{64}; the manifest says ` +
            `${first.compressed_bytes} bytes with sha256 ${first.sha256} \\(corrupt or truncated object\\)$`,
        ),
    ],
    [
      "a truncated object",
      (store, manifest) => fs.truncateSync(objectOf(store, manifest), 1000),
      () =>
        new RegExp(
          `^refusing ${first.backup}: \\S+ has 1000 bytes with sha256 [0-9a-f]{64}; the manifest ` +
            `says ${first.compressed_bytes} bytes`,
        ),
    ],
    [
      "a manifest paired with another backup's object",
      (_store, manifest) => {
        manifest.object = `data/${second.sha256}.sqlite3.gz`;
        manifest.sha256 = String(second.sha256);
        manifest.compressed_bytes = Number(second.compressed_bytes);
      },
      () =>
        new RegExp(
          `^refusing ${first.backup}: the database in it has ${second.bytes} bytes with sha256 ` +
            `${second.database_sha256}; the manifest says ${first.bytes} bytes with sha256 ` +
            `${first.database_sha256} \\(object and manifest do not belong together\\)$`,
        ),
    ],
    [
      "a schema hash that does not match the database",
      (_store, manifest) => {
        manifest.schema_hash = "0".repeat(64);
      },
      () =>
        new RegExp(
          `^refusing ${first.backup}: the database has schema hash ${first.schema_hash} and ` +
            `${first.page_count} pages; the manifest says ${"0".repeat(64)} and ` +
            `${first.page_count} pages$`,
        ),
    ],
    [
      "a database that fails PRAGMA integrity_check (checksums consistent)",
      (store, manifest) => {
        const broken = path.join(store, "broken.sqlite3");
        sqliteTool("corrupt", broken);
        const raw = fs.readFileSync(broken);
        const packed = zlib.gzipSync(raw);
        const sha = crypto.createHash("sha256").update(packed).digest("hex");
        fs.writeFileSync(path.join(store, "data", `${sha}.sqlite3.gz`), packed);
        manifest.object = `data/${sha}.sqlite3.gz`;
        manifest.sha256 = sha;
        manifest.compressed_bytes = packed.length;
        manifest.database_sha256 = crypto.createHash("sha256").update(raw).digest("hex");
        manifest.bytes = raw.length;
      },
      () =>
        new RegExp(
          `^refusing ${first.backup}: PRAGMA integrity_check on \\S+ reports: ` +
            "\\*\\*\\* in database main \\*\\*\\*; On tree page 6 cell",
        ),
    ],
  ];

test.each(damages)("refuses %s; the live database is untouched", (label, damage, reason) => {
  const store = damagedSource(label.replace(/\W+/g, "-"), damage);
  const live = liveDatabase(`refuse-${label.replace(/\W+/g, "-")}`);
  const before = fingerprint(path.dirname(live));
  const result = restore([
    ...["--database", live, "--source", `file://${store}`, "--backup", String(first.backup)],
    "--yes",
  ]);
  expect(result.status).toBe(1);
  const failed = eventNamed(result.events, "restore_failed");
  expect(failed.severity).toBe("ERROR");
  expect(failed.reason).toMatch(reason(store));
  expect(result.stderr).toBe(`restore: ${failed.reason}\n`);
  expect(result.events.map((e) => e.event)).toEqual(["restore_selected", "restore_failed"]);
  expect(fingerprint(path.dirname(live))).toEqual(before);
});

test("a drill of a damaged backup reports restore_drill_failed", () => {
  const store = damagedSource("drill", (s, m) => fs.truncateSync(objectOf(s, m), 10));
  const result = restore([
    "--source",
    `file://${store}`,
    "--backup",
    String(first.backup),
    "--drill",
  ]);
  expect(result.status).toBe(1);
  expect(eventNamed(result.events, "restore_drill_failed").reason).toMatch(
    new RegExp(`^refusing ${first.backup}: \\S+ has 10 bytes with sha256 `),
  );
});

test("restoring over a WAL database keeps it with its -wal and -shm aside and replays no stale WAL", () => {
  const live = liveDatabase("over-wal");
  // Commits left only in the -wal file, as after a crash: they must not reach the restored file.
  sqliteTool("crash", live, "50");
  expect(fs.statSync(`${live}-wal`).size).toBeGreaterThan(0);
  const walBefore = sha256(`${live}-wal`);
  // The app's user owns the live file; restore (run as root) must hand the new one back to it.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    fs.chownSync(live, 4321, 4321);
  }
  fs.chmodSync(live, 0o600);
  const result = restore([
    ...["--database", live, "--source", `file://${dest}`, "--backup", String(first.backup)],
    "--yes",
  ]);
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
  const swapped = eventNamed(result.events, "restore_swapped");
  const kept = swapped.kept as string[];
  const previous = kept[0];
  expect(previous).toMatch(new RegExp(`^${live}\\.before-restore-\\d{8}T\\d{6}Z$`));
  expect(kept).toEqual([previous, `${previous}-wal`, `${previous}-shm`]);
  expect(listFiles(path.dirname(live))).toEqual(
    [path.basename(live), ...kept.map((file) => path.basename(file))].sort(),
  );
  expect(sha256(live)).toBe(first.database_sha256);
  expect(fs.statSync(live).mode & 0o777).toBe(0o600);
  expect(fs.statSync(live).uid).toBe(asRoot ? 4321 : process.getuid?.());
  expect(sha256(`${previous}-wal`)).toBe(walBefore);
  expect(
    query(
      live,
      "SELECT (SELECT count(*) FROM tows), (SELECT count(*) FROM sqlite_schema WHERE name = 'late')",
    ),
  ).toEqual([[2000, 0]]);
  expect(query(previous, "SELECT count(*) FROM late")).toEqual([[50]]);
  expect(eventNamed(result.events, "restore_completed")).toMatchObject({
    backup: first.backup,
    database: live,
    previous,
    units: [],
    health_status: null,
    integrity: "ok",
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** Drives the real service layer (process backend) for the blue colour. */
function blue(action: string, live = "", port = 0): void {
  const script = [
    "import sys",
    `sys.path.insert(0, ${JSON.stringify(hostLib)})`,
    "from guincho_host import services",
    "control = services.from_env()",
    "unit = 'guincho-app@blue'",
    action === "start"
      ? `control.write_spec(unit, services.LaunchSpec('r1', ${JSON.stringify(fixtures)}, ` +
        `'python3 health_app.py', ${port}, ${JSON.stringify(live)})); control.start(unit)`
      : "control.stop(unit)",
  ].join("\n");
  const result = spawnSync(python(), ["-c", script], { env: { ...process.env, ...env } });
  expect(String(result.stderr)).toBe("");
}

async function healthz(port: number): Promise<unknown> {
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/healthz`);
      return await response.json();
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`nothing answered on port ${port}`);
}

test("stops the running app, swaps the database, starts the app again and checks /healthz", async () => {
  const live = liveDatabase("with-app");
  const port = await freePort();
  blue("start", live, port);
  try {
    expect(await healthz(port)).toEqual({ tows: 300 });
    const healthUrl = `http://127.0.0.1:${port}/healthz`;
    const result = restore([
      ...["--database", live, "--source", `file://${dest}`, "--backup", String(first.backup)],
      ...["--yes", "--health-url", healthUrl, "--health-timeout", "10"],
    ]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.events.map((e) => e.event)).toEqual([
      "restore_selected",
      "restore_verified",
      "restore_app_stopped",
      "restore_swapped",
      "restore_app_started",
      "restore_health_ok",
      "restore_completed",
    ]);
    expect(eventNamed(result.events, "restore_app_stopped").units).toEqual(["guincho-app@blue"]);
    expect(eventNamed(result.events, "restore_completed")).toMatchObject({
      units: ["guincho-app@blue"],
      health_status: 200,
    });
    expect(await healthz(port)).toEqual({ tows: 2000 });
  } finally {
    blue("stop");
  }
});

test("refuses a manifest whose object is not data/<its sha256>.sqlite3.gz", () => {
  const store = damagedSource("object-path", (_store, manifest) => {
    manifest.object = "../../etc/passwd";
  });
  const result = restore([
    "--source",
    `file://${store}`,
    "--backup",
    String(first.backup),
    "--drill",
  ]);
  expect(result.status).toBe(1);
  expect(eventNamed(result.events, "restore_drill_failed").reason).toBe(
    `manifest file://${store}/manifests/${first.backup}.json names object '../../etc/passwd'; ` +
      "a backup's object is data/<its sha256>.sqlite3.gz",
  );
});

test("an operator's bare `restore` reads unset settings from the host's env file", () => {
  const hostEnvFile = path.join(root, "host.env");
  fs.writeFileSync(hostEnvFile, `GUINCHO_BACKUP_URL='file://${dest}'\n`);
  try {
    const result = restore(["--dry-run"]);
    expect(result.stderr).toBe("");
    expect(eventNamed(result.events, "restore_selected")).toMatchObject({
      backup: second.backup,
      source: `file://${dest}/manifests/${second.backup}.json`,
    });
  } finally {
    fs.rmSync(hostEnvFile);
  }
});
