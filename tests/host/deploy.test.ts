/**
 * host/bin/deploy against a private nginx and real app processes on loopback: the switch
 * under load, the faults that must undo themselves, the lock and recovery after SIGKILL.
 * The tests share one stage and run in order, like successive deploys on one VM.
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import {
  activeColours,
  buildRelease,
  BuiltRelease,
  createStage,
  getJson,
  LoadGenerator,
  runTool,
  Stage,
  startTool,
  stopStage,
  ToolRun,
} from "../../tools/bench/deployHarness";
import { tempDir } from "../helpers/host";

let stage: Stage;
let cleanup: () => void;
const built: Record<string, BuiltRelease> = {};

function names(run: ToolRun): string[] {
  return run.events.map((event) => event.event);
}

function deploy(release: BuiltRelease, extra: string[] = ["--no-backup"]): Promise<ToolRun> {
  return runTool("deploy", ["--archive", release.archive, ...extra], stage.env);
}

async function servingRelease(): Promise<unknown> {
  const { body } = await getJson(stage.frontPort, "/healthz");
  return (body as { release?: string }).release;
}

function rid(release: BuiltRelease): string {
  return `${release.version}-${release.sha256.slice(0, 12)}`;
}

beforeAll(async () => {
  const temp = tempDir("deploy");
  cleanup = temp.cleanup;
  stage = await createStage(temp.dir, 5);
  const dist = path.join(temp.dir, "dist");
  for (const version of ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]) {
    built[version] = buildRelease(dist, version);
  }
  built.unhealthy = buildRelease(dist, "9.0.0", "unhealthy");
  built.migration = buildRelease(dist, "9.1.0", "migration");
});

afterAll(() => {
  stopStage(stage);
  cleanup();
});

describe("deploy", () => {
  it("serves the first release through nginx and records it as the current release", async () => {
    const run = await deploy(built["1.0.0"]);
    expect(run.status).toBe(0);
    expect(names(run)).toEqual([
      "deploy_started",
      "deploy_fetched",
      "deploy_unpacked",
      "deploy_installed",
      "deploy_backup_skipped",
      "migration_applied",
      "migration_applied",
      "migrate_completed",
      "deploy_migrated",
      "deploy_colour_started",
      "deploy_healthy",
      "deploy_switched",
      "deploy_pruned",
      "deploy_completed",
    ]);
    expect(await servingRelease()).toBe(rid(built["1.0.0"]));
    const state = path.join(stage.env.GUINCHO_DATA_DIR, "state", "current-release");
    expect(fs.readFileSync(state, "utf8")).toBe(`${rid(built["1.0.0"])}\n`);
    expect(activeColours(stage)).toEqual(["blue"]);
  });

  it("switches colours under 50 requests per second without one failed request", async () => {
    const load = new LoadGenerator(stage.frontPort, 50, 20);
    load.start();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const run = await deploy(built["1.1.0"], ["--sha256", built["1.1.0"].sha256, "--no-backup"]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const samples = await load.stop();
    expect(run.status).toBe(0);
    expect(samples.length).toBeGreaterThan(30);
    expect(load.failures()).toEqual([]);
    expect(run.events.find((event) => event.event === "deploy_switched")).toMatchObject({
      colour: "green",
      port: stage.greenPort,
      previous: rid(built["1.0.0"]),
    });
    expect(run.events.find((event) => event.event === "deploy_drained")).toMatchObject({
      colour: "blue",
      drained: true,
    });
    expect(await servingRelease()).toBe(rid(built["1.1.0"]));
    expect(activeColours(stage)).toEqual(["green"]);
  });

  it("rolls an unhealthy release back by itself while the serving release keeps serving", async () => {
    const run = await deploy(built.unhealthy, ["--no-backup", "--health-timeout", "1.5"]);
    expect(run.status).toBe(1);
    const failed = run.events.find((event) => event.event === "deploy_failed");
    expect(failed).toMatchObject({ step: "health", serving: rid(built["1.1.0"]) });
    expect(String(failed?.error)).toMatch(
      new RegExp(
        `^http://127.0.0.1:${stage.bluePort}/healthz not healthy after 1.5 s \\(last answer: HTTP 503\\)$`,
      ),
    );
    expect(run.events.find((event) => event.event === "deploy_rolled_back")).toMatchObject({
      release: rid(built.unhealthy),
      step: "health",
      serving: rid(built["1.1.0"]),
    });
    expect(names(run).includes("deploy_switched")).toBe(false);
    expect(await servingRelease()).toBe(rid(built["1.1.0"]));
    expect(activeColours(stage)).toEqual(["green"]);
  });

  it("stops at a failing migration, undone by its transaction, before any colour starts", async () => {
    const run = await deploy(built.migration);
    expect(run.status).toBe(1);
    expect(run.events.find((event) => event.event === "deploy_failed")).toMatchObject({
      step: "migrate",
      error: "migrate failed (exit status 1): no such table: no_such_table",
      serving: rid(built["1.1.0"]),
    });
    expect(names(run).includes("deploy_colour_started")).toBe(false);
    const tables = spawnSync("sqlite3", [stage.databasePath, ".tables"], { encoding: "utf8" });
    expect(tables.stdout.split(/\s+/).filter(Boolean).sort()).toEqual([
      "schema_migrations",
      "tows",
    ]);
    expect(await servingRelease()).toBe(rid(built["1.1.0"]));
  });

  it("refuses a second deploy while another holds the lock, naming the holder", async () => {
    const lockFile = path.join(stage.env.GUINCHO_DATA_DIR, "state", "deploy.lock");
    const holder = spawn(
      "python3",
      [
        "-c",
        "import sys, time; sys.path.insert(0, sys.argv[1]);" +
          "from guincho_host.locking import ReleaseLock;" +
          "lock = ReleaseLock(__import__('pathlib').Path(sys.argv[2]), 'deploy', archive='x.tar.gz');" +
          "lock.__enter__(); print('held', flush=True); time.sleep(30)",
        path.join(__dirname, "..", "..", "host", "lib"),
        lockFile,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise((resolve) => holder.stdout.once("data", resolve));
    const run = await deploy(built["1.2.0"]);
    holder.kill("SIGKILL");
    expect(run.status).toBe(75);
    const failed = run.events.find((event) => event.event === "deploy_failed");
    expect(failed?.step).toBe("lock");
    expect(String(failed?.error)).toMatch(
      new RegExp(
        `^another release operation is running \\(deploy pid ${holder.pid}, archive x.tar.gz, ` +
          "since \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\); wait for it to finish and try again$",
      ),
    );
    expect(await servingRelease()).toBe(rid(built["1.1.0"]));
  });

  it("undoes a deploy killed with SIGKILL before the switch, on the next deploy", async () => {
    // The unhealthy release keeps the killed deploy in its health wait, whatever the timing.
    const killed = startTool("deploy", ["--archive", built.unhealthy.archive, "--no-backup"], {
      ...stage.env,
    });
    await killed.waitFor("deploy_colour_started");
    killed.child.kill("SIGKILL");
    await killed.done;
    expect(activeColours(stage)).toEqual(["blue", "green"]);
    const run = await deploy(built["1.3.0"]);
    expect(run.status).toBe(0);
    expect(run.events.find((event) => event.event === "deploy_recovered")).toMatchObject({
      action: "undone",
      step: "starting",
      release: rid(built.unhealthy),
    });
    expect(await servingRelease()).toBe(rid(built["1.3.0"]));
    expect(activeColours(stage)).toEqual(["blue"]);
  });

  it("finishes a deploy killed with SIGKILL after the switch, on the next deploy", async () => {
    const load = new LoadGenerator(stage.frontPort, 50, 20);
    load.start();
    const killed = startTool("deploy", ["--archive", built["1.2.0"].archive, "--no-backup"], {
      ...stage.env,
    });
    await killed.waitFor("deploy_switched");
    killed.child.kill("SIGKILL");
    await killed.done;
    const run = await deploy(built["1.2.0"]);
    await load.stop();
    expect(run.status).toBe(0);
    expect(run.events.find((event) => event.event === "deploy_recovered")).toMatchObject({
      action: "finished",
      release: rid(built["1.2.0"]),
    });
    expect(run.events.find((event) => event.event === "deploy_completed")).toMatchObject({
      release: rid(built["1.2.0"]),
      unchanged: true,
    });
    expect(load.failures()).toEqual([]);
    expect(await servingRelease()).toBe(rid(built["1.2.0"]));
    expect(activeColours(stage)).toEqual(["green"]);
  });

  it("refuses an archive whose sha256 is not the one given", async () => {
    const wrong = "0".repeat(64);
    const run = await deploy(built["1.3.0"], ["--sha256", wrong, "--no-backup"]);
    expect(run.status).toBe(1);
    expect(run.events.find((event) => event.event === "deploy_failed")).toMatchObject({
      step: "fetch",
      error: `archive sha256 is ${built["1.3.0"].sha256}, expected ${wrong}`,
    });
  });

  it("stops before migrating when the pre-deploy backup fails", async () => {
    const fake = path.join(stage.dir, "failing-backup");
    fs.writeFileSync(
      fake,
      'import json\nprint(json.dumps({"severity": "ERROR", "event": "backup_failed", ' +
        '"reason": "bucket unreachable"}))\nraise SystemExit(1)\n',
    );
    const run = await deploy(built["1.3.0"], ["--backup-tool", fake]);
    expect(run.status).toBe(1);
    expect(run.events.map((event) => event.event).slice(-2)).toEqual([
      "backup_failed",
      "deploy_failed",
    ]);
    expect(run.events.at(-1)).toMatchObject({
      step: "backup",
      error: "backup failed (exit status 1): bucket unreachable",
      serving: rid(built["1.2.0"]),
    });
    expect(await servingRelease()).toBe(rid(built["1.2.0"]));
  });

  it("records the pre-deploy backup object and keeps only the --keep newest releases", async () => {
    const run = await deploy(built["1.3.0"], ["--keep", "2"]);
    expect(run.status).toBe(0);
    const done = run.events.find((event) => event.event === "deploy_backup_done");
    const reported = run.events.find((event) => event.event === "backup_completed");
    expect(done?.object).toBe(reported?.object);
    const state = JSON.parse(
      fs.readFileSync(path.join(stage.env.GUINCHO_DATA_DIR, "state", "deploy.json"), "utf8"),
    );
    expect(state.current).toEqual({
      release: rid(built["1.3.0"]),
      colour: "blue",
      port: stage.bluePort,
      backup: reported?.object,
    });
    const kept = [rid(built["1.2.0"]), rid(built["1.3.0"])];
    const removed = ["1.0.0", "1.1.0", "unhealthy", "migration"].map((key) => rid(built[key]));
    expect(run.events.find((event) => event.event === "deploy_pruned")).toMatchObject({
      kept: 2,
      removed: removed.sort(),
    });
    const left = fs.readdirSync(stage.env.GUINCHO_RELEASES_DIR).filter((n) => !n.startsWith("."));
    expect(left.sort()).toEqual(kept.sort());
  });

  it("fetches a gs:// archive through gcloud storage cp and keeps an unchanged release", async () => {
    const gcloud = path.join(stage.dir, "gcloud");
    const calls = path.join(stage.dir, "gcloud-calls");
    fs.writeFileSync(
      gcloud,
      `#!/bin/sh\necho "$*" >> ${calls}\ncp ${built["1.3.0"].archive} "$4"\n`,
      { mode: 0o755 },
    );
    const url = `gs://guincho-artifacts/releases/${built["1.3.0"].sha256}.tar.gz`;
    const run = await runTool(
      "deploy",
      ["--archive", url, "--sha256", built["1.3.0"].sha256, "--gcloud", gcloud, "--no-backup"],
      stage.env,
    );
    expect(run.status).toBe(0);
    const [call] = fs.readFileSync(calls, "utf8").trim().split("\n");
    expect(call).toMatch(new RegExp(`^storage cp ${url} ${stage.env.GUINCHO_RELEASES_DIR}/`));
    expect(run.events.at(-1)).toMatchObject({
      event: "deploy_completed",
      release: rid(built["1.3.0"]),
      unchanged: true,
    });
    expect(fs.readdirSync(path.join(stage.env.GUINCHO_RELEASES_DIR, ".incoming"))).toEqual([]);
  });

  it("takes its defaults from the host env file when sudo has cleared the environment", async () => {
    const { GUINCHO_BACKUP_URL: backupUrl, ...cleared } = stage.env;
    const args = ["--archive", built["1.3.0"].archive];
    const without = await runTool("deploy", args, { ...cleared, GUINCHO_BACKUP_URL: "" });
    expect(without.status).toBe(2);
    expect(without.stderr).toBe(
      "deploy: error: --backup-destination is empty; set GUINCHO_BACKUP_URL or the flag, or " +
        "pass --no-backup to deploy without a pre-deploy backup\n",
    );
    fs.writeFileSync(
      cleared.GUINCHO_HOST_ENV,
      `GUINCHO_STAGE=dev\nGUINCHO_BACKUP_URL=${backupUrl}\n`,
    );
    const env: Record<string, string | undefined> = { ...process.env, ...cleared };
    delete env.GUINCHO_BACKUP_URL;
    const run = await runTool("deploy", args, env as Record<string, string>);
    fs.rmSync(cleared.GUINCHO_HOST_ENV);
    expect(run.status).toBe(0);
    expect(run.events.at(-1)).toMatchObject({ event: "deploy_completed", unchanged: true });
  });

  it("leaves the upstream file and the serving release alone when nginx refuses the switch", async () => {
    const before = fs.readFileSync(stage.upstreamFile, "utf8");
    const run = await runTool("deploy", ["--archive", built["1.2.0"].archive, "--no-backup"], {
      ...stage.env,
      GUINCHO_NGINX_TEST: "false",
    });
    expect(run.status).toBe(1);
    expect(run.events.find((event) => event.event === "deploy_failed")).toMatchObject({
      step: "switch",
      error: "nginx configuration test (false) failed: exit status 1",
      serving: rid(built["1.3.0"]),
    });
    expect(fs.readFileSync(stage.upstreamFile, "utf8")).toBe(before);
    expect(await servingRelease()).toBe(rid(built["1.3.0"]));
    expect(activeColours(stage)).toEqual(["blue"]);
  });

  it("names the flag, the value and what is allowed for a bad --sha256", async () => {
    const run = await deploy(built["1.3.0"], ["--sha256", "abc"]);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe("deploy: error: --sha256 'abc' is not 64 lowercase hex digits\n");
    expect(run.events).toEqual([]);
  });
});
