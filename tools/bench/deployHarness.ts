/**
 * A blue/green stage on loopback for the deploy tests and `npm run bench:deploy`: a private
 * nginx (its own prefix, pid file and port; no root service), the real host tools with the
 * `process` service control, the sample app's release archives, and a bounded load
 * generator that sends requests through nginx and records every answer.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as path from "path";

export const repoRoot = path.resolve(__dirname, "..", "..");
const hostBin = path.join(repoRoot, "host", "bin");

/** One JSON-lines event printed by a host tool or the app. */
export interface ToolEvent {
  severity: string;
  event: string;
  time?: string;
  [field: string]: unknown;
}

export interface ToolRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  events: ToolEvent[];
}

/** The directories, ports and environment of one private stage. */
export interface Stage {
  dir: string;
  frontPort: number;
  bluePort: number;
  greenPort: number;
  nginxPrefix: string;
  nginxConf: string;
  upstreamFile: string;
  databasePath: string;
  runDir: string;
  env: Record<string, string>;
}

export function parseToolEvents(stdout: string): ToolEvent[] {
  const events: ToolEvent[] = [];
  for (const line of stdout.split("\n")) {
    if (!line.startsWith("{")) {
      continue;
    }
    try {
      const value = JSON.parse(line) as ToolEvent;
      if (typeof value.event === "string") {
        events.push(value);
      }
    } catch {
      // Not an event: ignore.
    }
  }
  return events;
}

/** Ports the kernel reports free right now (held together so they differ). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** Renders host/nginx/private-nginx.conf.template and starts nginx on the front port. */
export async function createStage(dir: string, drainTimeout = 10): Promise<Stage> {
  const [frontPort, bluePort, greenPort] = await freePorts(3);
  const nginxPrefix = path.join(dir, "nginx");
  const nginxConf = path.join(nginxPrefix, "nginx.conf");
  const upstreamFile = path.join(dir, "etc", "upstream.conf");
  fs.mkdirSync(path.join(nginxPrefix, "tmp"), { recursive: true });
  fs.mkdirSync(path.dirname(upstreamFile), { recursive: true });
  const template = fs.readFileSync(
    path.join(repoRoot, "host", "nginx", "private-nginx.conf.template"),
    "utf8",
  );
  fs.writeFileSync(
    nginxConf,
    template
      .replaceAll("@PREFIX@", nginxPrefix)
      .replaceAll("@PORT@", String(frontPort))
      .replaceAll("@UPSTREAM_FILE@", upstreamFile),
  );
  // Before the first deploy nginx needs an upstream to start; it answers 502 until then.
  fs.writeFileSync(upstreamFile, `upstream guincho_app { server 127.0.0.1:${bluePort}; }\n`);
  // -e: nginx opens its error log before reading the configuration; keep it in the prefix.
  const nginxArgs = `-p ${nginxPrefix} -c ${nginxConf} -e ${nginxPrefix}/error.log`;
  const started = spawnSync("nginx", nginxArgs.split(" "), { encoding: "utf8" });
  if (started.status !== 0) {
    throw new Error(`private nginx did not start: ${started.stderr}`);
  }
  const runDir = path.join(dir, "run");
  const databasePath = path.join(dir, "data", "db", "guincho.sqlite3");
  const env = {
    GUINCHO_HOST_ENV: path.join(dir, "etc", "host.env"),
    GUINCHO_SERVICE_CONTROL: "process",
    GUINCHO_RUN_DIR: runDir,
    GUINCHO_RELEASES_DIR: path.join(dir, "releases"),
    GUINCHO_DATA_DIR: path.join(dir, "data"),
    GUINCHO_DATABASE_PATH: databasePath,
    GUINCHO_BLUE_PORT: String(bluePort),
    GUINCHO_GREEN_PORT: String(greenPort),
    GUINCHO_NGINX_UPSTREAM: upstreamFile,
    GUINCHO_NGINX_TEST: `nginx -t -q ${nginxArgs}`,
    GUINCHO_NGINX_RELOAD: `nginx ${nginxArgs} -s reload`,
    GUINCHO_NGINX_PID_FILE: path.join(nginxPrefix, "nginx.pid"),
    GUINCHO_DRAIN_TIMEOUT: String(drainTimeout),
    GUINCHO_HEALTH_TIMEOUT: "10",
    GUINCHO_STOP_TIMEOUT: "10",
    GUINCHO_APP_USER: "",
    GUINCHO_BACKUP_URL: `file://${path.join(dir, "backups")}`,
    GUINCHO_HEALTH_URL: `http://127.0.0.1:${frontPort}/healthz`,
    PYTHONDONTWRITEBYTECODE: "1",
  };
  return {
    dir,
    frontPort,
    bluePort,
    greenPort,
    nginxPrefix,
    nginxConf,
    upstreamFile,
    databasePath,
    runDir,
    env,
  };
}

/** Stops the stage's app processes (by their pid files) and its nginx. */
export function stopStage(stage: Stage): void {
  for (const colour of ["blue", "green"]) {
    const pidFile = path.join(stage.runDir, `app-${colour}.pid`);
    if (fs.existsSync(pidFile)) {
      const pid = Number(fs.readFileSync(pidFile, "utf8").split(" ")[0]);
      killGroup(pid);
    }
  }
  spawnSync("nginx", ["-p", stage.nginxPrefix, "-c", stage.nginxConf, "-s", "stop"]);
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

/** Which colours have a live app process, from the process backend's pid files. */
export function activeColours(stage: Stage): string[] {
  return ["blue", "green"].filter((colour) => {
    const pidFile = path.join(stage.runDir, `app-${colour}.pid`);
    if (!fs.existsSync(pidFile)) {
      return false;
    }
    const pid = Number(fs.readFileSync(pidFile, "utf8").split(" ")[0]);
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      return !/\) [ZX] /.test(stat);
    } catch {
      return false;
    }
  });
}

export interface BuiltRelease {
  archive: string;
  sha256: string;
  version: string;
}

/** Builds the sample app's archive (examples/build_release.py), optionally a faulty one. */
export function buildRelease(outDir: string, version: string, fault?: string): BuiltRelease {
  const args = [path.join(repoRoot, "examples", "build_release.py"), "--out", outDir];
  args.push("--version", version, ...(fault ? ["--fault", fault] : []));
  const result = spawnSync("python3", args, { encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(`build_release.py failed: ${result.stderr}`);
  }
  return JSON.parse(result.stdout) as BuiltRelease;
}

/** A host tool running in the background; `events` fills as it prints them. */
export interface RunningTool {
  child: ChildProcess;
  events: ToolEvent[];
  done: Promise<ToolRun>;
  /** Resolves when the tool prints the named event (or it exits without printing it). */
  waitFor(event: string): Promise<ToolEvent | undefined>;
}

export function startTool(tool: string, args: string[], env: Record<string, string>): RunningTool {
  const child = spawn("python3", [path.join(hostBin, tool), ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: ToolEvent[] = [];
  const waiters: { event: string; resolve: (value: ToolEvent | undefined) => void }[] = [];
  let stdout = "";
  let stderr = "";
  let pending = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const event of parseToolEvents(lines.join("\n"))) {
      events.push(event);
      for (const waiter of waiters.filter((item) => item.event === event.event)) {
        waiter.resolve(event);
      }
    }
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const done = new Promise<ToolRun>((resolve) => {
    child.on("close", (status, signal) => {
      for (const waiter of waiters) {
        waiter.resolve(undefined);
      }
      resolve({ status, signal, stdout, stderr, events: parseToolEvents(stdout) });
    });
  });
  const waitFor = (event: string): Promise<ToolEvent | undefined> => {
    const found = events.find((item) => item.event === event);
    if (found || child.exitCode !== null) {
      return Promise.resolve(found);
    }
    return new Promise((resolve) => waiters.push({ event, resolve }));
  };
  return { child, events, done, waitFor };
}

export function runTool(tool: string, args: string[], env: Record<string, string>) {
  return startTool(tool, args, env).done;
}

/** One request of the load: when it started (epoch ms), how long it took, how it ended. */
export interface Sample {
  at: number;
  ms: number;
  status: number;
  error?: string;
  /** Sent again once: a pooled keep-alive connection was closed before any answer. */
  retried?: boolean;
}

/**
 * Sends `rate` requests per second through nginx (3 reads of /tows for 1 insert), on pooled
 * connections like a load balancer's. Bounded: it stops at `stop()` or after `maxSeconds`.
 */
export class LoadGenerator {
  readonly samples: Sample[] = [];
  private timer?: NodeJS.Timeout;
  private inFlight = new Set<Promise<void>>();
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  private sent = 0;
  private startedAt = 0;

  constructor(
    private readonly port: number,
    private readonly rate: number,
    private readonly maxSeconds = 300,
  ) {}

  start(): void {
    this.startedAt = Date.now();
    this.timer = setInterval(() => this.tick(), 1000 / this.rate);
  }

  async stop(): Promise<Sample[]> {
    clearInterval(this.timer);
    await Promise.all([...this.inFlight]);
    this.agent.destroy();
    return this.samples;
  }

  failures(): Sample[] {
    return this.samples.filter((sample) => sample.status < 200 || sample.status >= 300);
  }

  private tick(): void {
    if (Date.now() - this.startedAt > this.maxSeconds * 1000) {
      clearInterval(this.timer);
      return;
    }
    const write = this.sent % 4 === 3;
    this.sent += 1;
    const request = this.request(write).finally(() => this.inFlight.delete(request));
    this.inFlight.add(request);
  }

  private async request(write: boolean): Promise<void> {
    const at = Date.now();
    const started = process.hrtime.bigint();
    const body = write ? JSON.stringify({ plate: `LOAD${this.sent}`, location: "bench" }) : "";
    let outcome = await this.attempt(write, body, this.agent);
    // NOTE: HTTP/1.1 lets a server close an idle keep-alive connection at any time, and a
    // client that sent on it just then gets a reset with no answer; well-behaved clients
    // (browsers, load balancers, Node's documented pattern) send such a request again on a
    // fresh connection. nginx's old workers close their idle connections on a reload, so we
    // do the same, and count it, instead of calling it a failed request.
    const retried = outcome.stale;
    if (retried) {
      outcome = await this.attempt(write, body, false);
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    this.samples.push({
      at,
      ms,
      status: outcome.status,
      ...(outcome.error ? { error: outcome.error } : {}),
      ...(retried ? { retried } : {}),
    });
  }

  private attempt(
    write: boolean,
    body: string,
    agent: http.Agent | false,
  ): Promise<{ status: number; error?: string; stale: boolean }> {
    return new Promise((resolve) => {
      let answered = false;
      const req = http.request(
        {
          host: "127.0.0.1",
          port: this.port,
          path: "/tows",
          method: write ? "POST" : "GET",
          agent,
          timeout: 10_000,
          headers: write ? { "Content-Type": "application/json" } : {},
        },
        (res) => {
          answered = true;
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode ?? 0, stale: false }));
          res.on("error", (error) => resolve({ status: 0, error: error.message, stale: false }));
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (error: NodeJS.ErrnoException) => {
        const closed = error.code === "ECONNRESET" || error.message === "socket hang up";
        resolve({
          status: 0,
          error: error.message,
          stale: req.reusedSocket && !answered && closed,
        });
      });
      req.end(body);
    });
  }
}

/** The value below which `fraction` of the sorted numbers fall (nearest rank). */
export function percentile(values: number[], fraction: number): number {
  if (values.length === 0) {
    return NaN;
  }
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[rank];
}

/** GET through nginx; resolves with the status and parsed JSON body. */
export function getJson(port: number, urlPath: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: urlPath, agent: false }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // Keep the raw text (nginx error pages).
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      })
      .on("error", reject);
  });
}
