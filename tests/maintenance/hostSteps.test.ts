/**
 * What OS Config runs on the VM around a patch (`host/maintenance/pre-patch`, `post-patch`),
 * run here for real with a stand-in `systemctl`.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseEvents, repoRoot } from "../helpers/host";

const steps = path.join(repoRoot, "host", "maintenance");
let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "patch-steps-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A fake `systemctl` that records its arguments and exits with `status`. */
function fakeSystemctl(status: number): string {
  const file = path.join(dir, "systemctl");
  fs.writeFileSync(file, `#!/bin/sh\necho "$*" >> "${dir}/calls"\nexit ${status}\n`);
  fs.chmodSync(file, 0o755);
  return file;
}

function run(step: string, env: Record<string, string>) {
  const result = spawnSync("sh", [path.join(steps, step)], {
    encoding: "utf8",
    timeout: 20_000,
    env: { PATH: process.env.PATH ?? "", GUINCHO_HOST_ENV: path.join(dir, "host.env"), ...env },
  });
  return { status: result.status, events: parseEvents(result.stdout), stderr: result.stderr };
}

describe("pre-patch", () => {
  test("backs up through the pre-deploy backup unit before patching", () => {
    const database = path.join(dir, "guincho.sqlite3");
    fs.writeFileSync(database, "");
    const result = run("pre-patch", {
      GUINCHO_DATABASE_PATH: database,
      GUINCHO_SYSTEMCTL: fakeSystemctl(0),
    });
    expect(result.status).toBe(0);
    expect(fs.readFileSync(path.join(dir, "calls"), "utf8")).toBe(
      "start guincho-backup@pre-deploy.service\n",
    );
    expect(result.events.map((e) => e.event)).toEqual([
      "pre_patch_backup_started",
      "pre_patch_backup_done",
    ]);
    expect(result.events[1]).toMatchObject({
      severity: "INFO",
      unit: "guincho-backup@pre-deploy.service",
    });
  });

  test("refuses to let the patch go ahead when the backup fails", () => {
    const database = path.join(dir, "guincho.sqlite3");
    fs.writeFileSync(database, "");
    const result = run("pre-patch", {
      GUINCHO_DATABASE_PATH: database,
      GUINCHO_SYSTEMCTL: fakeSystemctl(3),
    });
    expect(result.status).toBe(1);
    expect(result.events[1]).toEqual({
      severity: "ERROR",
      event: "pre_patch_backup_failed",
      unit: "guincho-backup@pre-deploy.service",
      exit_status: 3,
    });
    expect(result.stderr).toBe(
      "pre-patch: guincho-backup@pre-deploy.service failed (exit 3); not patching. " +
        "See: journalctl -u guincho-backup@pre-deploy.service\n",
    );
  });

  test("skips the backup on a VM with no database yet, reading the path from host.env", () => {
    const missing = path.join(dir, "db", "none.sqlite3");
    fs.writeFileSync(
      path.join(dir, "host.env"),
      `GUINCHO_STAGE=dev\nGUINCHO_DATABASE_PATH="${missing}"\n`,
    );
    const result = run("pre-patch", { GUINCHO_SYSTEMCTL: fakeSystemctl(0) });
    expect(result.status).toBe(0);
    expect(result.events).toEqual([
      {
        severity: "INFO",
        event: "pre_patch_backup_skipped",
        reason: "no database yet",
        database: missing,
      },
    ]);
    expect(fs.existsSync(path.join(dir, "calls"))).toBe(false);
  });
});

describe("post-patch", () => {
  test("passes once the health check answers", () => {
    const database = path.join(dir, "guincho.sqlite3");
    fs.writeFileSync(database, "");
    fs.writeFileSync(path.join(dir, "healthz"), '{"status": "ok"}');
    const url = `file://${dir}/healthz`;
    const result = run("post-patch", {
      GUINCHO_DATABASE_PATH: database,
      GUINCHO_HEALTH_URL: url,
      GUINCHO_HEALTH_DELAY: "0",
    });
    expect(result.status).toBe(0);
    expect(result.events).toEqual([
      { severity: "INFO", event: "post_patch_healthy", url, attempts: 1 },
    ]);
  });

  test("fails the patch job when the app never answers", () => {
    const database = path.join(dir, "guincho.sqlite3");
    fs.writeFileSync(database, "");
    const url = `file://${dir}/nothing-here`;
    const result = run("post-patch", {
      GUINCHO_DATABASE_PATH: database,
      GUINCHO_HEALTH_URL: url,
      GUINCHO_HEALTH_TRIES: "3",
      GUINCHO_HEALTH_DELAY: "0",
    });
    expect(result.status).toBe(1);
    expect(result.events).toEqual([
      { severity: "ERROR", event: "post_patch_unhealthy", url, attempts: 3 },
    ]);
  });

  test("both steps pass shellcheck as POSIX sh", () => {
    const check = spawnSync("shellcheck", ["-s", "sh", "pre-patch", "post-patch"], {
      cwd: steps,
      encoding: "utf8",
    });
    expect(check.stdout).toBe("");
    expect(check.status).toBe(0);
  });

  test("both steps are executable, so an operator can run them by hand", () => {
    for (const step of ["pre-patch", "post-patch"]) {
      expect(fs.statSync(path.join(steps, step)).mode & 0o111).toBe(0o111);
    }
  });
});
