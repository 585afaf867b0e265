/**
 * The sample app in examples/ honours the app contract: a reproducible release archive with
 * release.json, expand-only migrations in one transaction each, WAL mode, /healthz, JSON
 * events (sync ones included) and a graceful SIGTERM that finishes requests in flight.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { freePorts, getJson, parseToolEvents } from "../../tools/bench/deployHarness";
import { repoRoot, tempDir } from "../helpers/host";

const appDir = path.join(repoRoot, "examples", "sample-app");
const cleanups: (() => void)[] = [];

/** A temporary directory removed after the test, whatever happened in it. */
function scratch(): string {
  const { dir, cleanup } = tempDir("sample");
  cleanups.push(cleanup);
  return dir;
}

afterEach(() => {
  for (const cleanup of cleanups.splice(0)) {
    cleanup();
  }
});

const builder = path.join(repoRoot, "examples", "build_release.py");

function build(out: string, ...extra: string[]) {
  const result = spawnSync("python3", [builder, "--out", out, ...extra], { encoding: "utf8" });
  return {
    status: result.status,
    stderr: result.stderr,
    summary: JSON.parse(result.stdout || "{}"),
  };
}

function appEnv(database: string, port = 0): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PYTHONPATH: appDir,
    PYTHONDONTWRITEBYTECODE: "1",
    DATABASE_PATH: database,
    PORT: String(port),
    GUINCHO_RELEASE_ID: "1.0.0-test",
  };
}

function migrate(database: string, ...extra: string[]) {
  const result = spawnSync("python3", ["-m", "guincho_sample.migrate", ...extra], {
    encoding: "utf8",
    env: appEnv(database),
  });
  return { status: result.status, events: parseToolEvents(result.stdout) };
}

interface RunningApp {
  child: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<number | null>;
}

async function startApp(database: string): Promise<RunningApp> {
  const [port] = await freePorts(1);
  const child = spawn("python3", ["-m", "guincho_sample.server"], {
    env: appEnv(database, port),
    stdio: ["ignore", "pipe", "inherit"],
  });
  let stdout = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  cleanups.push(() => child.kill("SIGKILL"));
  while (!stdout.includes("app_started")) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { child, port, output: () => stdout, exited };
}

/** Sends raw HTTP on one socket and resolves with everything the app answered. */
function rawRequest(port: number, head: string, body = "", delayMs = 0, onSent?: () => void) {
  return new Promise<string>((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.write(head);
      setTimeout(() => {
        onSent?.();
        setTimeout(() => socket.write(body), delayMs);
      }, 50);
    });
    let answer = "";
    socket.setEncoding("utf8").on("data", (chunk: string) => (answer += chunk));
    socket.on("end", () => resolve(answer));
    socket.on("error", reject);
  });
}

describe("release archive", () => {
  it("is byte-for-byte the same when built twice, so its sha256 names it", () => {
    const dir = scratch();
    const one = build(path.join(dir, "a"), "--version", "3.2.1");
    const two = build(path.join(dir, "b"), "--version", "3.2.1");
    expect(one.summary.sha256).toBe(two.summary.sha256);
    expect(path.basename(one.summary.archive)).toBe(`${one.summary.sha256}.tar.gz`);
    const listing = spawnSync("tar", ["-tzf", one.summary.archive], { encoding: "utf8" });
    expect(listing.stdout.split("\n").slice(0, 3)).toEqual([
      "release.json",
      "guincho_sample/__init__.py",
      "guincho_sample/db.py",
    ]);
    const manifest = spawnSync("tar", ["-xzOf", one.summary.archive, "release.json"], {
      encoding: "utf8",
    });
    expect(JSON.parse(manifest.stdout)).toEqual({
      name: "guincho-sample",
      version: "3.2.1",
      start: "python3 -m guincho_sample.server",
      migrate: "python3 -m guincho_sample.migrate",
      health_path: "/healthz",
    });
  });

  it("names the flag, the value and what is allowed for a bad version", () => {
    const result = build("/tmp", "--version", "../etc");
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      "build_release: error: --version '../etc' is not allowed; use letters, digits, '.', '_', " +
        "'+' or '-' (at most 64)\n",
    );
  });
});

describe("sample app", () => {
  it("migrates a fresh database to schema 2 in WAL mode, one event per migration", () => {
    const dir = scratch();
    const database = path.join(dir, "db", "app.sqlite3");
    const run = migrate(database);
    expect(run.status).toBe(0);
    expect(run.events.map((event) => [event.event, event.version ?? event.schema])).toEqual([
      ["migration_applied", 1],
      ["migration_applied", 2],
      ["migrate_completed", 2],
    ]);
    const mode = spawnSync("sqlite3", [database, "PRAGMA journal_mode;"], { encoding: "utf8" });
    expect(mode.stdout.trim()).toBe("wal");
    expect(migrate(database).events.at(-1)).toMatchObject({ applied: 0, schema: 2 });
  });

  it("answers 503 on /healthz until the migrations have run", async () => {
    const dir = scratch();
    const app = await startApp(path.join(dir, "app.sqlite3"));
    try {
      expect(await getJson(app.port, "/healthz")).toEqual({
        status: 503,
        body: { status: "schema too old", release: "1.0.0-test", schema: 0 },
      });
    } finally {
      app.child.kill("SIGTERM");
      await app.exited;
    }
  });

  it("stores tows, syncs them with a sync_completed event and stops cleanly on SIGTERM", async () => {
    const dir = scratch();
    const database = path.join(dir, "app.sqlite3");
    migrate(database);
    const app = await startApp(database);
    try {
      const tow = JSON.stringify({ plate: "ABC1D23", location: "Av. Paulista" });
      const created = await rawRequest(
        app.port,
        `POST /tows HTTP/1.1\r\nHost: x\r\nContent-Length: ${tow.length}\r\nConnection: close\r\n\r\n`,
        tow,
      );
      expect(created).toMatch(/^HTTP\/1.1 201 Created\r\n/);
      const { body } = await getJson(app.port, "/tows");
      expect((body as { tows: object[] }).tows).toEqual([
        expect.objectContaining({ id: 1, plate: "ABC1D23", location: "Av. Paulista" }),
      ]);
      const synced = await rawRequest(
        app.port,
        "POST /sync HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
      );
      expect(synced).toMatch(/\r\n\r\n\{"rows": 1\}$/);
      expect(fs.readFileSync(path.join(dir, "sheets-export.csv"), "utf8")).toMatch(
        /^id,plate,location,created_at\r\n1,ABC1D23,Av. Paulista,/,
      );
    } finally {
      app.child.kill("SIGTERM");
    }
    expect(await app.exited).toBe(0);
    expect(parseToolEvents(app.output()).map((event) => event.event)).toEqual([
      "app_started",
      "sync_completed",
      "app_stopping",
      "app_stopped",
    ]);
  });

  it("finishes a request already in flight when SIGTERM arrives, then closes", async () => {
    const dir = scratch();
    const database = path.join(dir, "app.sqlite3");
    migrate(database);
    const app = await startApp(database);
    const body = JSON.stringify({ plate: "INFLIGHT", location: "Marginal" });
    // The head is sent, SIGTERM arrives, then the body: the app must still answer it.
    const answer = await rawRequest(
      app.port,
      `POST /tows HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`,
      body,
      300,
      () => app.child.kill("SIGTERM"),
    );
    expect(await app.exited).toBe(0);
    expect(answer).toMatch(/^HTTP\/1.1 201 Created\r\n/);
    expect(answer).toContain("Connection: close\r\n");
    expect(answer).toMatch(/\{"id": 1, "plate": "INFLIGHT"\}$/);
  });
});
