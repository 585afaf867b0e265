/**
 * host/bin/backup under faults, for real: kill -9 at any moment, a read-only or full
 * destination, a full data disk, and a second process committing throughout the backup.
 */
import { spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import { hostBin, parseEvents, runTool, tempDir, ToolResult } from "../helpers/host";
import {
  eventNamed,
  fingerprint,
  hostEnv,
  listFiles,
  makeDatabase,
  python,
  query,
  sha256,
  sqliteFixture,
} from "./fixtures/backupFixtures";

let root: string;
let cleanup: () => void;
let env: Record<string, string>;
let database: string;

beforeAll(() => {
  ({ dir: root, cleanup } = tempDir("backup-faults"));
  env = hostEnv(root);
  database = path.join(root, "data", "db", "guincho.sqlite3");
  // About 10 MB of half-compressible rows: each step of a backup takes long enough to be hit.
  makeDatabase(database, 40000, 200, true);
});

afterAll(() => cleanup());

/** Every manifest names a complete data object, and every data object is complete. */
function expectOnlyWholeBackups(store: string): number {
  // What a reader lists: hidden `.tmp-*` files of a killed writer are not backups.
  const manifests = listFiles(path.join(store, "manifests")).filter((f) => !f.startsWith(".tmp-"));
  for (const file of manifests) {
    expect(file).toMatch(/^\d{8}T\d{6}\.\d{3}Z-daily-[0-9a-f]{12}\.json$/);
    const manifest = JSON.parse(fs.readFileSync(path.join(store, "manifests", file), "utf8"));
    const object = path.join(store, manifest.object);
    expect(sha256(object)).toBe(manifest.sha256);
    const raw = zlib.gunzipSync(fs.readFileSync(object));
    expect(crypto.createHash("sha256").update(raw).digest("hex")).toBe(manifest.database_sha256);
  }
  for (const file of listFiles(path.join(store, "data"))) {
    if (!file.startsWith(".tmp-")) {
      expect(sha256(path.join(store, "data", file))).toBe(file.replace(".sqlite3.gz", ""));
    }
  }
  return manifests.length;
}

interface Kill {
  afterEvent?: string;
  afterMs?: number;
}

/** Runs a backup and SIGKILLs it when `kill` says; resolves with the signal it died of. */
function killedBackup(dest: string, kill: Kill): Promise<string | null> {
  return new Promise((resolve) => {
    const child = spawn(
      "python3",
      [
        ...[path.join(hostBin, "backup"), "--database", database],
        ...["--destination", `file://${dest}`, "--kind", "daily"],
      ],
      { env: { ...process.env, ...env, PYTHONDONTWRITEBYTECODE: "1" } },
    );
    child.stdin.end();
    const killNow = (): boolean => child.kill("SIGKILL");
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (kill.afterEvent !== undefined && out.includes(`"event": "${kill.afterEvent}"`)) {
        killNow();
      }
    });
    const timer = kill.afterMs !== undefined ? setTimeout(killNow, kill.afterMs) : undefined;
    child.on("exit", (_code, signal) => {
      clearTimeout(timer);
      resolve(signal);
    });
  });
}

test("kill -9 at any moment of a backup leaves no partial or corrupt backup visible", async () => {
  const dest = path.join(root, "kill-dest");
  const local = path.join(root, "data", "backups");
  const kills: Kill[] = [
    { afterMs: 10 },
    { afterMs: 80 },
    { afterMs: 200 },
    { afterMs: 350 },
    { afterEvent: "backup_copied" },
    { afterEvent: "backup_compressed" },
    { afterEvent: "backup_uploaded" },
  ];
  let killedCount = 0;
  for (const kill of kills) {
    const signal = await killedBackup(dest, { ...kill });
    killedCount += signal === "SIGKILL" ? 1 : 0;
    expectOnlyWholeBackups(dest);
    expectOnlyWholeBackups(local);
  }
  // NOTE: a run that finished before its timer fired is fine; most must really have died.
  expect(killedCount).toBeGreaterThanOrEqual(5);
  const leftovers = listFiles(local).filter((file) => file.includes(".tmp-"));
  const after = runTool(
    "backup",
    ["--database", database, "--destination", `file://${dest}`, "--kind", "daily"],
    { env },
  );
  expect(after.status).toBe(0);
  expect(listFiles(local).filter((file) => file.includes(".tmp-"))).toEqual([]);
  expect(leftovers.length).toBeGreaterThan(0);
  expect(expectOnlyWholeBackups(dest)).toBeGreaterThanOrEqual(1);
  const drill = runTool("restore", ["--source", `file://${dest}`, "--drill"], { env });
  expect(eventNamed(drill.events, "restore_drill_ok").rows).toBe(40000);
}, 30000);

/** Runs the backup tool with `mountPoint` replaced by a fresh tmpfs (`options`) of its own. */
function backupOverTmpfs(
  mountPoint: string,
  options: string,
  args: string[],
): ToolResult & { listing: string[] } {
  fs.mkdirSync(mountPoint, { recursive: true });
  const listing = path.join(root, `listing-${path.basename(mountPoint)}.txt`);
  const script =
    'mount -t tmpfs -o "$1" tmpfs "$2" || exit 97; mp="$2"; out="$3"; shift 3; ' +
    'python3 "$@"; rc=$?; (cd "$mp" && find . -type f | sort) > "$out"; exit $rc';
  const result = spawnSync(
    "unshare",
    [
      "--mount",
      "--map-root-user",
      "sh",
      "-c",
      script,
      "sh",
      options,
      mountPoint,
      listing,
      path.join(hostBin, "backup"),
      ...args,
    ],
    { encoding: "utf8", env: { ...process.env, ...env, PYTHONDONTWRITEBYTECODE: "1" } },
  );
  const stdout = String(result.stdout);
  return {
    status: result.status,
    signal: result.signal,
    stdout,
    stderr: String(result.stderr),
    events: parseEvents(stdout),
    listing: fs.readFileSync(listing, "utf8").split("\n").filter(Boolean),
  };
}

test.each([
  ["read-only", "ro,size=1m", "Read-only file system"],
  ["full", "size=256k", "No space left on device"],
])(
  "a %s destination fails the backup with backup_failed and touches nothing else",
  (label, options, why) => {
    const dest = path.join(root, `dest-${label}`);
    const local = path.join(root, `local-${label}`);
    const before = fingerprint(path.dirname(database));
    const result = backupOverTmpfs(dest, options, [
      ...["--database", database, "--destination", `file://${dest}`, "--kind", "daily"],
      ...["--local-dir", local],
    ]);
    expect(result.status).toBe(1);
    const failed = eventNamed(result.events, "backup_failed");
    expect(failed.severity).toBe("ERROR");
    expect(failed.reason).toMatch(
      new RegExp(`^writing file://${dest}/data/[0-9a-f]{64}\\.sqlite3\\.gz failed: ${why}$`),
    );
    expect(result.stderr).toBe(`backup: ${failed.reason}\n`);
    expect(result.events.map((e) => e.event)).not.toContain("backup_uploaded");
    expect(result.listing).toEqual([]);
    expect(listFiles(local)).toEqual([".backup.lock"]);
    expect(fingerprint(path.dirname(database))).toEqual(before);
  },
);

test("a full data disk fails the copy with backup_failed; the destination stays empty", () => {
  const local = path.join(root, "local-full");
  const dest = path.join(root, "dest-after-full-disk");
  const result = backupOverTmpfs(local, "size=512k", [
    ...["--database", database, "--destination", `file://${dest}`, "--kind", "daily"],
    ...["--local-dir", local],
  ]);
  expect(result.status).toBe(1);
  expect(eventNamed(result.events, "backup_failed").reason).toBe(
    `copy failed: copying ${database} failed: database or disk is full`,
  );
  expect(result.listing).toEqual(["./.backup.lock"]);
  expect(listFiles(dest)).toEqual([]);
});

test("a writer committing throughout the backup: it finishes and holds every earlier row", async () => {
  const writer = spawn(python(), [sqliteFixture, "writer", database], { stdio: "pipe" });
  try {
    await new Promise<void>((resolve) => {
      writer.stdout.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("ready")) {
          resolve();
        }
      });
    });
    const [[committedBefore]] = query(database, "SELECT max(id) FROM tows");
    const started = Date.now() / 1000;
    const dest = path.join(root, "writer-dest");
    const result = runTool(
      "backup",
      ["--database", database, "--destination", `file://${dest}`, "--kind", "daily"],
      { env },
    );
    const finished = Date.now() / 1000;
    expect(result.status).toBe(0);
    const [[during]] = query(
      database,
      `SELECT count(*) FROM tows WHERE committed_at BETWEEN ${started} AND ${finished}`,
    );
    expect(during).toBeGreaterThan(5);
    const scratch = path.join(root, "writer-scratch");
    const drill = runTool(
      "restore",
      ["--source", `file://${dest}`, "--drill", "--keep", "--scratch-dir", scratch],
      { env },
    );
    const ok = eventNamed(drill.events, "restore_drill_ok");
    expect(ok.integrity).toBe("ok");
    const [[restoredMax, missing]] = query(
      String(ok.kept),
      `SELECT max(id), ${committedBefore} - count(*) FROM tows WHERE id <= ${committedBefore}`,
    );
    expect(restoredMax).toBeGreaterThanOrEqual(committedBefore as number);
    expect(missing).toBe(0);
  } finally {
    writer.kill("SIGKILL");
  }
});

test("SIGTERM (systemd's timeout) ends a backup with backup_failed and no leftovers", async () => {
  const dest = path.join(root, "term-dest");
  const local = path.join(root, "term-local");
  const child = spawn(
    python(),
    [
      ...[path.join(hostBin, "backup"), "--database", database, "--local-dir", local],
      ...["--destination", `file://${dest}`, "--kind", "daily"],
    ],
    { env: { ...process.env, ...env, PYTHONDONTWRITEBYTECODE: "1" } },
  );
  let out = "";
  let sent = false;
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
    if (out.includes('"event": "backup_copied"') && child.signalCode === null && !sent) {
      sent = child.kill("SIGTERM");
    }
  });
  const status = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  expect(status).toBe(1);
  expect(eventNamed(parseEvents(out), "backup_failed")).toMatchObject({
    severity: "ERROR",
    kind: "daily",
    reason: "stopped by signal SIGTERM",
  });
  expect(listFiles(local)).toEqual([".backup.lock"]);
  expect(listFiles(dest)).toEqual([]);
});
