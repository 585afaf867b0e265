/**
 * The service-control layer (host/lib/guincho_host/services.py): the process backend runs
 * real detached processes, the systemd backend is checked against a stand-in systemctl, and
 * the template unit is checked by systemd-analyze and against the process backend's script.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { repoRoot, tempDir } from "../helpers/host";

const hostLib = path.join(repoRoot, "host", "lib");
const unitFile = path.join(repoRoot, "host", "systemd", "guincho-app@.service");

/** Runs Python with host/lib on the path; the script prints its answer as JSON. */
function python(script: string, env: Record<string, string>) {
  const result = spawnSync("python3", ["-c", script], {
    encoding: "utf8",
    env: { ...process.env, PYTHONPATH: hostLib, PYTHONDONTWRITEBYTECODE: "1", ...env },
    timeout: 20_000,
  });
  return { status: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
}

const prelude = "import json, time\nfrom guincho_host import services as s\nc = s.from_env()\n";

function spec(start: string, releaseDir: string): string {
  return `c.write_spec("guincho-app@blue", s.LaunchSpec("1.0.0-abcdef012345", ${JSON.stringify(
    releaseDir,
  )}, ${JSON.stringify(start)}, 18555, "/data/app.sqlite3"))\n`;
}

describe("process service control", () => {
  it("runs the start command in the release directory with PORT and DATABASE_PATH", () => {
    const { dir, cleanup } = tempDir("services");
    try {
      const env = { GUINCHO_SERVICE_CONTROL: "process", GUINCHO_RUN_DIR: path.join(dir, "run") };
      const start =
        'sh -c "echo $PORT $DATABASE_PATH $GUINCHO_RELEASE_ID $(pwd) > seen; exec sleep 30"';
      const result = python(
        prelude +
          spec(start, dir) +
          'c.start("guincho-app@blue")\n' +
          'time.sleep(0.3)\nup = c.is_active("guincho-app@blue")\nc.stop("guincho-app@blue")\n' +
          'print(json.dumps([up, c.is_active("guincho-app@blue")]))\n',
        env,
      );
      expect(result.stderr).toBe("");
      expect(JSON.parse(result.stdout)).toEqual([true, false]);
      expect(fs.readFileSync(path.join(dir, "seen"), "utf8")).toBe(
        `18555 /data/app.sqlite3 1.0.0-abcdef012345 ${dir}\n`,
      );
      expect(fs.readFileSync(path.join(dir, "run", "app-blue.env"), "utf8")).toBe(
        "# Written by host/bin/deploy: the release this colour runs. Do not edit by hand.\n" +
          "GUINCHO_RELEASE_ID='1.0.0-abcdef012345'\n" +
          `GUINCHO_RELEASE_DIR='${dir}'\n` +
          `GUINCHO_START='${start}'\n` +
          "PORT='18555'\n" +
          "DATABASE_PATH='/data/app.sqlite3'\n",
      );
      expect(fs.existsSync(path.join(dir, "run", "app-blue.pid"))).toBe(false);
    } finally {
      cleanup();
    }
  });

  it("kills an app that ignores SIGTERM once the stop timeout has passed", () => {
    const { dir, cleanup } = tempDir("services");
    try {
      const env = {
        GUINCHO_SERVICE_CONTROL: "process",
        GUINCHO_RUN_DIR: path.join(dir, "run"),
        GUINCHO_STOP_TIMEOUT: "0.5",
      };
      const start =
        'python3 -c "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); ' +
        'print(1, flush=True); time.sleep(30)"';
      const result = python(
        prelude +
          spec(start, dir) +
          'c.start("guincho-app@blue")\ntime.sleep(0.4)\n' +
          't = time.monotonic()\nc.stop("guincho-app@blue")\n' +
          'print(json.dumps([round(time.monotonic() - t, 1), c.is_active("guincho-app@blue")]))\n',
        env,
      );
      expect(result.stderr).toBe("");
      const [seconds, active] = JSON.parse(result.stdout) as [number, boolean];
      expect(seconds).toBeGreaterThanOrEqual(0.5);
      expect(seconds).toBeLessThan(1.5);
      expect(active).toBe(false);
    } finally {
      cleanup();
    }
  });

  it("reports a colour whose process has exited as inactive", () => {
    const { dir, cleanup } = tempDir("services");
    try {
      const env = { GUINCHO_SERVICE_CONTROL: "process", GUINCHO_RUN_DIR: path.join(dir, "run") };
      const result = python(
        prelude +
          spec("exit 3", dir) +
          'c.start("guincho-app@blue")\ntime.sleep(0.3)\n' +
          'print(json.dumps(c.is_active("guincho-app@blue")))\n',
        env,
      );
      expect(result.stdout).toBe("false");
    } finally {
      cleanup();
    }
  });

  it("refuses a launch spec value holding a single quote", () => {
    const result = python(prelude + spec("echo 'hi'", "/opt/r"), {
      GUINCHO_SERVICE_CONTROL: "process",
      GUINCHO_RUN_DIR: "/tmp",
    });
    expect(result.status).toBe(1);
    expect(result.stderr.split("\n").at(-1)).toBe(
      'guincho_host.services.ServiceError: GUINCHO_START value "echo \'hi\'" contains "\'"; ' +
        "launch spec values may not contain single quotes, backslashes or line breaks",
    );
  });
});

describe("backend choice", () => {
  it.each([
    [
      { GUINCHO_SERVICE_CONTROL: "docker" },
      "GUINCHO_SERVICE_CONTROL value 'docker' is not allowed; use systemd or process",
    ],
    [
      { GUINCHO_SERVICE_CONTROL: "process", GUINCHO_RUN_DIR: "" },
      "GUINCHO_SERVICE_CONTROL=process needs GUINCHO_RUN_DIR, the directory for pid files, " +
        "logs and launch specs",
    ],
  ])("refuses %j with a message naming what is allowed", (env, message) => {
    const result = python("from guincho_host import services\nservices.from_env()\n", env);
    expect(result.stderr.split("\n").at(-1)).toBe(`guincho_host.services.ServiceError: ${message}`);
  });

  it("refuses a unit that is not one of the two colours", () => {
    const result = python(prelude + 'c.start("nginx")\n', { GUINCHO_SERVICE_CONTROL: "systemd" });
    expect(result.stderr.split("\n").at(-1)).toBe(
      "guincho_host.services.ServiceError: unit 'nginx' is not one of guincho-app@blue, " +
        "guincho-app@green",
    );
  });
});

describe("systemd service control", () => {
  it("enables and starts, disables and stops, and asks is-active through systemctl", () => {
    const { dir, cleanup } = tempDir("services");
    try {
      const fake = path.join(dir, "systemctl");
      const log = path.join(dir, "calls");
      fs.writeFileSync(
        fake,
        `#!/bin/sh\necho "$*" >> ${log}\n[ "$1" = is-active ] && exit 3\nexit 0\n`,
        { mode: 0o755 },
      );
      const result = python(
        prelude +
          'c.start("guincho-app@green")\nc.stop("guincho-app@blue")\n' +
          'print(json.dumps(c.is_active("guincho-app@green")))\n',
        { GUINCHO_SERVICE_CONTROL: "systemd", GUINCHO_SYSTEMCTL: fake, GUINCHO_APP_ENV_DIR: dir },
      );
      expect(result.stdout).toBe("false");
      expect(fs.readFileSync(log, "utf8")).toBe(
        "enable --now guincho-app@green\n" +
          "disable --now guincho-app@blue\n" +
          "is-active --quiet guincho-app@green\n",
      );
    } finally {
      cleanup();
    }
  });

  it("reports systemctl's own last line when a unit fails to start", () => {
    const { dir, cleanup } = tempDir("services");
    try {
      const fake = path.join(dir, "systemctl");
      fs.writeFileSync(
        fake,
        "#!/bin/sh\necho 'Job for guincho-app@green.service failed.' >&2\nexit 1\n",
        { mode: 0o755 },
      );
      const result = python(prelude + 'c.start("guincho-app@green")\n', {
        GUINCHO_SERVICE_CONTROL: "systemd",
        GUINCHO_SYSTEMCTL: fake,
      });
      expect(result.stderr.split("\n").at(-1)).toBe(
        "guincho_host.services.ServiceError: systemctl enable --now guincho-app@green failed: " +
          "Job for guincho-app@green.service failed.",
      );
    } finally {
      cleanup();
    }
  });
});

describe("guincho-app@.service", () => {
  const unit = fs.readFileSync(unitFile, "utf8");

  it("runs the same launch script as the process backend", () => {
    const launch = python(
      "from guincho_host.services import LAUNCH_SHELL\nprint(LAUNCH_SHELL)",
      {},
    );
    const execStart = unit.split("\n").find((line) => line.startsWith("ExecStart="));
    expect(execStart).toBe(`ExecStart=/bin/sh -c '${launch.stdout.replaceAll("$", () => "$$")}'`);
  });

  it("reads the colour's launch spec and runs as the unprivileged guincho user", () => {
    const settings = unit.split("\n").filter((line) => /^[A-Z]\w+=/.test(line));
    expect(settings).toEqual(
      expect.arrayContaining([
        "User=guincho",
        "EnvironmentFile=/etc/guincho/app-%i.env",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/guincho",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=",
      ]),
    );
  });

  it("passes systemd-analyze verify without a warning", () => {
    const result = spawnSync(
      "systemd-analyze",
      ["verify", path.join(path.dirname(unitFile), "guincho-app@blue.service")],
      { encoding: "utf8" },
    );
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });
});
