import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import {
  accessLogFormat,
  bundleDigest,
  bundleManifest,
  dailyCalendar,
  journalMaxUseMb,
  monthlyCalendar,
  readBundleDir,
  renderHostEnv,
  renderHostFiles,
  renderStartupScript,
  renderTimer,
  timerSpecs,
  weeklyCalendar,
} from "../../components/hostFiles";
import { tempDir } from "../helpers/host";
import { DEV_HOST, hostRoot, run } from "./fixtures";

describe("the host tools bundle digest", () => {
  const files = [
    { path: "bin/x", content: Buffer.from("#!/bin/sh\n") },
    { path: "a.txt", content: Buffer.from("hello\n") },
  ];

  test("is the sha256 of sha256sum's lines for the files, sorted by path", () => {
    expect(bundleManifest(files)).toBe(
      "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  a.txt\n" +
        "a8076d3d28d21e02012b20eaf7dbf75409a6277134439025f282e368e3305abf  bin/x\n",
    );
    expect(bundleDigest(files)).toBe(
      "b7de09196616fd5ea2133e0cc00d9823b1335ab1e75a55d4aa5a64cacdf21998",
    );
  });

  test("changes when one byte of one file changes", () => {
    const changed = [files[0], { path: "a.txt", content: Buffer.from("hello!\n") }];
    expect(bundleDigest(changed)).not.toBe(bundleDigest(files));
  });

  test("skips caches and refuses a name the VM could not verify", () => {
    const { dir, cleanup } = tempDir("bundle");
    try {
      fs.mkdirSync(path.join(dir, "lib", "__pycache__"), { recursive: true });
      fs.writeFileSync(path.join(dir, "lib", "__pycache__", "m.cpython-311.pyc"), "x");
      fs.writeFileSync(path.join(dir, "lib", "m.py"), "x = 1\n");
      fs.writeFileSync(path.join(dir, ".swp"), "x");
      expect(readBundleDir(dir).map((f) => f.path)).toEqual(["lib/m.py"]);
      fs.writeFileSync(path.join(dir, "lib", "two words.py"), "");
      expect(() => readBundleDir(dir)).toThrow(
        'host bundle: file "lib/two words.py" has a name the VM cannot verify; use only ' +
          "letters, digits and _ @ + . - in names under host/",
      );
    } finally {
      cleanup();
    }
  });

  test("the VM's check of the extracted zip gives the same digest as the plan", () => {
    const { dir, cleanup } = tempDir("bundle-vm");
    try {
      const files = readBundleDir(hostRoot);
      const staged = path.join(dir, "staged");
      for (const file of files) {
        fs.mkdirSync(path.dirname(path.join(staged, file.path)), { recursive: true });
        fs.writeFileSync(path.join(staged, file.path), file.content);
      }
      const script = path.join(dir, "startup.sh");
      fs.writeFileSync(script, renderStartupScript(DEV_HOST));
      const zip = path.join(dir, "bundle.zip");
      // zipfile's command line names entries after the arguments' base names: give it the
      // top-level directories so every entry keeps its path.
      const names = fs.readdirSync(staged);
      expect(run("python3", ["-m", "zipfile", "-c", zip, ...names], { cwd: staged }).status).toBe(
        0,
      );
      // The same two commands install_host_bundle runs after the download.
      const vm = run("bash", [
        "-c",
        `GUINCHO_BOOTSTRAP_LIBRARY=1 source ${script} && ` +
          `python3 -m zipfile -e ${zip} ${dir}/tree && bundle_digest ${dir}/tree`,
      ]);
      expect(vm.stderr).toBe("");
      expect(vm.stdout.trim()).toBe(bundleDigest(files));
    } finally {
      cleanup();
    }
  });
});

describe("host.env", () => {
  test("names the stage's paths, buckets and secret, and no secret value", () => {
    expect(renderHostEnv(DEV_HOST)).toBe(
      "# Written by the Guincho bootstrap at every boot (components/hostFiles.ts): do not edit,\n" +
        "# change the stack's config instead. Names only: secret values live in Secret Manager.\n" +
        "GUINCHO_STAGE=dev\n" +
        "GUINCHO_GCP_PROJECT=guincho-lacerda-dev\n" +
        "GUINCHO_DATA_DIR=/var/lib/guincho\n" +
        "GUINCHO_DATABASE_PATH=/var/lib/guincho/db/guincho.sqlite3\n" +
        "GUINCHO_BACKUP_URL=gs://guincho-lacerda-dev-backups/backups\n" +
        "GUINCHO_BACKUP_LOCAL_COPIES=2\n" +
        "GUINCHO_ARTIFACTS_URL=gs://guincho-lacerda-dev-artifacts\n" +
        "GUINCHO_SECRET_NAME=guincho-app-secret-key\n" +
        "GUINCHO_RELEASES_DIR=/opt/guincho/releases\n" +
        "GUINCHO_KEEP_RELEASES=5\n" +
        "GUINCHO_BLUE_PORT=8001\n" +
        "GUINCHO_GREEN_PORT=8002\n" +
        "GUINCHO_NGINX_UPSTREAM=/etc/nginx/guincho/upstream.conf\n" +
        `GUINCHO_HOST_BUNDLE=${"ab".repeat(32)}\n` +
        "GUINCHO_TIME_ZONE=America/Sao_Paulo\n",
    );
  });

  test("refuses a value systemd's EnvironmentFile would split", () => {
    expect(() => renderHostEnv({ ...DEV_HOST, secretId: "my secret" })).toThrow(
      'host.env: GUINCHO_SECRET_NAME received "my secret"; values may hold only letters, ' +
        "digits and _ . / : @ + - (no spaces or quotes)",
    );
  });
});

describe("the startup script", () => {
  const script = renderStartupScript(DEV_HOST);

  test("passes shellcheck with no finding", () => {
    const result = run("shellcheck", ["-s", "bash", "-"], { input: script });
    expect(result.stdout + result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  test("holds names only: no key material, no password, no token", () => {
    expect(script).not.toMatch(/PRIVATE KEY|private_key|password|passwd|access_token/i);
    expect(script).toContain("GUINCHO_SECRET_NAME=guincho-app-secret-key\n");
  });

  test("formats the data disk in one place only, after checking that it is blank", () => {
    expect(script.match(/mkfs/g)).toHaveLength(2); // the comment naming it, and the command
    const check = script.indexOf('if is_blank "$DATA_DEVICE"; then');
    expect(check).toBeGreaterThan(0);
    expect(script.indexOf("    mkfs.ext4 -q -L guincho-data")).toBe(
      script.indexOf("\n", check) + 1,
    );
  });

  test("guards every one-time action by the state it would change", () => {
    expect(script).toContain('if ! id "$APP_USER" >/dev/null 2>&1; then\n    useradd');
    expect(script).toContain("if ! installed google-cloud-ops-agent; then");
    expect(script).toContain("if [[ ! -e $NGINX_DIR/upstream.conf ]]; then");
    expect(script).toContain('mountpoint -q "$DATA_DIR" || mount "$DATA_DIR"');
    expect(script).toContain("if ! dpkg-divert --list /etc/logrotate.d/nginx | grep -q .; then");
    expect(script).toContain("exec 9>/run/guincho-bootstrap.lock");
    expect(script.startsWith("#!/bin/bash\n")).toBe(true);
    expect(script).toContain("\nset -euo pipefail\n");
  });

  test("write_file rewrites a file only when its content changes", () => {
    const { dir, cleanup } = tempDir("write-file");
    try {
      const target = path.join(dir, "etc", "x.conf");
      fs.writeFileSync(path.join(dir, "s.sh"), script);
      const once = () =>
        run("bash", [
          "-c",
          `GUINCHO_BOOTSTRAP_LIBRARY=1 source ${dir}/s.sh; ` +
            `write_file 0640 "$(id -u):$(id -g)" ${target} <<<'a=1'; ` +
            'echo "${#CHANGED[@]}"',
        ]).stdout;
      expect(once()).toBe("1\n");
      const inode = fs.statSync(target).ino;
      expect(once()).toBe("0\n");
      expect(fs.statSync(target).ino).toBe(inode);
      expect(fs.readFileSync(target, "utf8")).toBe("a=1\n");
      expect((fs.statSync(target).mode & 0o777).toString(8)).toBe("640");
    } finally {
      cleanup();
    }
  });

  test("update_fstab keeps one line for the data disk, by UUID with nofail, and is stable", () => {
    const { dir, cleanup } = tempDir("fstab");
    try {
      const fstab = path.join(dir, "fstab");
      fs.writeFileSync(
        fstab,
        "# /etc/fstab\nUUID=root-uuid / ext4 rw,discard,errors=remount-ro 0 1\n" +
          "/dev/sdb /var/lib/guincho ext4 defaults 0 2\n",
      );
      const call = (uuid: string) =>
        run("bash", [
          "-c",
          `GUINCHO_BOOTSTRAP_LIBRARY=1 source ${path.join(dir, "s.sh")}; ` +
            `update_fstab ${fstab} ${uuid} ext4; echo "\${#CHANGED[@]}"`,
        ]);
      fs.writeFileSync(path.join(dir, "s.sh"), script);
      expect(call("1111-aaaa").stdout).toBe("1\n");
      const expected =
        "# /etc/fstab\nUUID=root-uuid / ext4 rw,discard,errors=remount-ro 0 1\n" +
        "UUID=1111-aaaa /var/lib/guincho ext4 defaults,nofail,noatime,discard 0 2\n";
      expect(fs.readFileSync(fstab, "utf8")).toBe(expected);
      expect(call("1111-aaaa").stdout).toBe("0\n");
      expect(fs.readFileSync(fstab, "utf8")).toBe(expected);
    } finally {
      cleanup();
    }
  });

  test("is_blank tells an empty disk from a formatted one", () => {
    const { dir, cleanup } = tempDir("blank");
    try {
      const image = path.join(dir, "disk.img");
      fs.writeFileSync(path.join(dir, "s.sh"), script);
      fs.writeFileSync(image, Buffer.alloc(4 * 1024 * 1024));
      const blank = () =>
        run("bash", ["-c", `GUINCHO_BOOTSTRAP_LIBRARY=1 source ${dir}/s.sh; is_blank ${image}`])
          .status;
      expect(blank()).toBe(0);
      // Any signature counts; mkswap is in util-linux, which every Debian has (mkfs.ext4 may not).
      expect(run("mkswap", [image]).status).toBe(0);
      expect(blank()).toBe(1);
    } finally {
      cleanup();
    }
  });
});

describe("the systemd timers", () => {
  test("turn the stage's times into calendar events in its time zone", () => {
    expect(dailyCalendar("02:30", "America/Sao_Paulo")).toBe("*-*-* 02:30:00 America/Sao_Paulo");
    expect(weeklyCalendar("Sun 03:30", "UTC")).toBe("Sun *-*-* 03:30:00 UTC");
    expect(monthlyCalendar("01 07:00", "Europe/Lisbon")).toBe("*-*-01 07:00:00 Europe/Lisbon");
    expect(
      timerSpecs(DEV_HOST.routines, DEV_HOST.timeZone).map((t) => [t.timer, t.unit, t.onCalendar]),
    ).toEqual([
      [
        "guincho-backup-daily.timer",
        "guincho-backup@daily.service",
        "*-*-* 02:30:00 America/Sao_Paulo",
      ],
      [
        "guincho-backup-weekly.timer",
        "guincho-backup@weekly.service",
        "Sun *-*-* 03:30:00 America/Sao_Paulo",
      ],
      [
        "guincho-restore-drill.timer",
        "guincho-restore-drill.service",
        "*-*-* 05:30:00 America/Sao_Paulo",
      ],
      [
        "guincho-error-review.timer",
        "guincho-error-review.service",
        "*-*-* 07:00:00 America/Sao_Paulo",
      ],
      [
        "guincho-perf-audit.timer",
        "guincho-perf-audit.service",
        "Mon *-*-* 06:00:00 America/Sao_Paulo",
      ],
      [
        "guincho-security-check.timer",
        "guincho-security-check.service",
        "Mon *-*-* 06:30:00 America/Sao_Paulo",
      ],
      [
        "guincho-capacity-report.timer",
        "guincho-capacity-report.service",
        "*-*-01 07:00:00 America/Sao_Paulo",
      ],
    ]);
  });

  test("systemd reads every calendar back unchanged (time zone suffix included)", () => {
    const calendars = timerSpecs(DEV_HOST.routines, DEV_HOST.timeZone).map((t) => t.onCalendar);
    const result = run("systemd-analyze", ["calendar", ...calendars]);
    expect(result.status).toBe(0);
    const normalized = [...result.stdout.matchAll(/Normalized form: (.*)/g)].map((m) => m[1]);
    expect(normalized).toEqual(calendars);
  });

  test("each timer starts a unit the host bundle ships", () => {
    const shipped = fs.readdirSync(path.join(hostRoot, "systemd"));
    for (const spec of timerSpecs(DEV_HOST.routines, DEV_HOST.timeZone)) {
      expect([spec.timer, shipped.includes(spec.unitFile)]).toEqual([spec.timer, true]);
    }
  });

  test("systemd-analyze verify accepts the timers beside the bundle's services", () => {
    const { dir, cleanup } = tempDir("units");
    try {
      for (const name of fs.readdirSync(path.join(hostRoot, "systemd"))) {
        fs.copyFileSync(path.join(hostRoot, "systemd", name), path.join(dir, name));
      }
      const timers = timerSpecs(DEV_HOST.routines, DEV_HOST.timeZone);
      for (const spec of timers) {
        fs.writeFileSync(path.join(dir, spec.timer), renderTimer(spec));
      }
      const units = fs
        .readdirSync(dir)
        .filter((f) => f.endsWith(".timer") || f.endsWith(".service"));
      const result = run("systemd-analyze", ["verify", "--man=no", ...units], { cwd: dir });
      expect(result.stderr).toBe("");
      expect(result.status).toBe(0);
    } finally {
      cleanup();
    }
  });

  test("a timer runs a missed routine after a reboot, spread by at most two minutes", () => {
    const [daily] = timerSpecs(DEV_HOST.routines, DEV_HOST.timeZone);
    expect(renderTimer(daily)).toBe(
      "# Written by the Guincho bootstrap (components/hostFiles.ts) from the stack's config.\n" +
        "[Unit]\nDescription=Guincho daily database backup (timer)\n\n[Timer]\n" +
        "OnCalendar=*-*-* 02:30:00 America/Sao_Paulo\nPersistent=true\n" +
        "RandomizedDelaySec=120\nAccuracySec=30s\nUnit=guincho-backup@daily.service\n\n" +
        "[Install]\nWantedBy=timers.target\n",
    );
  });
});

describe("journald and the Ops Agent", () => {
  test.each([
    [10, 512],
    [20, 1024],
    [200, 2048],
    [4, 256],
  ])("a %i GB boot disk caps the journal at %i MiB", (gb, mb) => {
    expect(journalMaxUseMb(gb)).toBe(mb);
  });

  test("the journald drop-in and the Ops Agent config are the ones the VM gets", () => {
    const files = renderHostFiles(DEV_HOST);
    expect(files["/etc/systemd/journald.conf.d/guincho.conf"]).toBe(
      "# Written by the Guincho bootstrap: keep the journal from filling the boot disk.\n" +
        "[Journal]\nStorage=persistent\nSystemMaxUse=1024M\nSystemKeepFree=1G\n" +
        "MaxRetentionSec=1month\n",
    );
    const ops = files["/etc/google-cloud-ops-agent/config.yaml"];
    expect(ops).toContain("    guincho_journald:\n      type: systemd_journald\n");
    expect(ops).toContain(
      "      guincho_nginx_access:\n        receivers: [guincho_nginx_access]\n" +
        "        processors: [guincho_access_json]\n",
    );
  });

  test("the Ops Agent config is YAML whose pipelines use only what it defines", () => {
    const config = YAML.parse(
      renderHostFiles(DEV_HOST)["/etc/google-cloud-ops-agent/config.yaml"],
    ) as {
      logging: {
        receivers: Record<string, { type: string }>;
        processors: Record<string, { type: string; field?: string }>;
        service: { pipelines: Record<string, { receivers: string[]; processors?: string[] }> };
      };
    };
    const { receivers, processors, service } = config.logging;
    expect(Object.values(receivers).map((r) => r.type)).toEqual([
      "systemd_journald",
      "files",
      "files",
    ]);
    for (const pipeline of Object.values(service.pipelines)) {
      expect(pipeline.receivers.every((r) => r in receivers)).toBe(true);
      expect((pipeline.processors ?? []).every((p) => p in processors)).toBe(true);
    }
    // The host tools' JSON events become jsonPayload fields (event, severity...).
    expect(processors.guincho_events).toEqual({ type: "parse_json", field: "MESSAGE" });
  });

  test("the access log format is guincho_json when the bundle defines it", () => {
    expect(accessLogFormat("log_format other '$x';\nlog_format guincho_json '$y';")).toBe(
      "guincho_json",
    );
    expect(accessLogFormat("  log_format other '$x';")).toBe("other");
    expect(accessLogFormat(undefined)).toBe("combined");
    const shipped = fs.readFileSync(path.join(hostRoot, "nginx", "log-format.conf"), "utf8");
    expect(accessLogFormat(shipped)).toBe("guincho_json");
  });
});
