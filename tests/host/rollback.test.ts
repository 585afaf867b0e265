/**
 * host/bin/rollback on a private nginx with real app processes: back to the previous release
 * without a failed request, and back to its data through the real backup and restore tools.
 */
import * as http from "http";
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
  stopStage,
} from "../../tools/bench/deployHarness";
import { tempDir } from "../helpers/host";

let stage: Stage;
let cleanup: () => void;
let first: BuiltRelease;
let second: BuiltRelease;

function rid(release: BuiltRelease): string {
  return `${release.version}-${release.sha256.slice(0, 12)}`;
}

async function post(plate: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port: stage.frontPort, path: "/tows", method: "POST", agent: false },
      (res) => res.resume().on("end", () => resolve()),
    );
    req.on("error", reject);
    req.end(JSON.stringify({ plate, location: "Rua Augusta" }));
  });
}

async function plates(): Promise<string[]> {
  const { body } = await getJson(stage.frontPort, "/tows");
  return (body as { tows: { plate: string }[] }).tows.map((tow) => tow.plate);
}

beforeAll(async () => {
  const temp = tempDir("rollback");
  cleanup = temp.cleanup;
  stage = await createStage(temp.dir, 5);
  first = buildRelease(path.join(temp.dir, "dist"), "2.0.0");
  second = buildRelease(path.join(temp.dir, "dist"), "2.1.0");
});

afterAll(() => {
  stopStage(stage);
  cleanup();
});

describe("rollback", () => {
  it("refuses when nothing is deployed yet", async () => {
    const run = await runTool("rollback", [], stage.env);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      "rollback: error: nothing is deployed on this host yet; there is nothing to roll back\n",
    );
  });

  it("goes back to the previous release under load without a failed request", async () => {
    expect((await runTool("deploy", ["--archive", first.archive], stage.env)).status).toBe(0);
    await post("BEFORE-2.1");
    expect((await runTool("deploy", ["--archive", second.archive], stage.env)).status).toBe(0);
    await post("AFTER-2.1");
    const load = new LoadGenerator(stage.frontPort, 50, 20);
    load.start();
    const run = await runTool("rollback", [], stage.env);
    await load.stop();
    expect(run.status).toBe(0);
    expect(load.failures()).toEqual([]);
    expect(run.events.map((event) => event.event)).toEqual([
      "rollback_started",
      "rollback_switching",
      "rollback_colour_started",
      "rollback_healthy",
      "rollback_switched",
      "rollback_drained",
      "rollback_old_stopped",
      "rollback_completed",
    ]);
    const { body } = await getJson(stage.frontPort, "/healthz");
    expect(body).toEqual({ status: "ok", release: rid(first), schema: 2 });
    expect(activeColours(stage)).toEqual(["blue"]);
  });

  it("names the flag and the expected shape for a --release that is not a release id", async () => {
    const run = await runTool("rollback", ["--release", "../../etc"], stage.env);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      "rollback: error: --release '../../etc' is not a release id; ids look like " +
        `1.4.0-2096d1eadc0b (the directory names under ${stage.env.GUINCHO_RELEASES_DIR})\n`,
    );
  });

  it("refuses --restore-data when the serving release has no pre-deploy backup", async () => {
    const run = await runTool("rollback", ["--restore-data", "--yes"], stage.env);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      `rollback: error: release ${rid(first)} has no pre-deploy backup recorded (deployed with ` +
        "--no-backup or onto an empty disk); pick a backup with host/bin/restore --dry-run\n",
    );
  });

  it("restores the pre-deploy backup of the release it leaves with --restore-data --yes", async () => {
    // Forward again to 2.1.0, which records the backup taken just before it.
    expect((await runTool("deploy", ["--archive", second.archive], stage.env)).status).toBe(0);
    await post("AFTER-REDEPLOY");
    expect(await plates()).toContain("AFTER-REDEPLOY");
    const unconfirmed = await runTool("rollback", ["--restore-data"], stage.env);
    expect(unconfirmed.status).toBe(2);
    expect(unconfirmed.stderr).toBe(
      "rollback: error: --restore-data replaces the live database and needs confirmation; " +
        "add --yes when not running from a terminal\n",
    );
    const run = await runTool("rollback", ["--restore-data", "--yes"], stage.env);
    expect(run.status).toBe(0);
    const done = run.events.find((event) => event.event === "rollback_completed");
    expect(done?.release).toBe(rid(first));
    expect(String(done?.restored)).toMatch(/^file:\/\/.*\.sqlite3\.gz$/);
    expect(run.events.find((event) => event.event === "restore_completed")).toBeDefined();
    const kept = (await plates()).filter((plate) => !plate.startsWith("LOAD"));
    expect(kept.sort()).toEqual(["AFTER-2.1", "BEFORE-2.1"]);
  });
});
