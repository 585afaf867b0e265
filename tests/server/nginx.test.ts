import { spawn, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as path from "path";
import {
  renderDefaultUpstream,
  renderHostFiles,
  renderLogrotate,
  renderNginxSite,
} from "../../components/hostFiles";
import { tempDir } from "../helpers/host";
import { DEV_HOST, hostRoot, run } from "./fixtures";

/** A private nginx: its own prefix, a main config that includes the site, the real log format. */
function privateNginx(dir: string, siteOptions: Parameters<typeof renderNginxSite>[0]) {
  const nginxDir = path.join(dir, "guincho");
  const logs = path.join(dir, "logs");
  fs.mkdirSync(nginxDir, { recursive: true });
  fs.mkdirSync(logs, { recursive: true });
  fs.copyFileSync(
    path.join(hostRoot, "nginx", "log-format.conf"),
    path.join(nginxDir, "log-format.conf"),
  );
  fs.writeFileSync(path.join(nginxDir, "upstream.conf"), renderDefaultUpstream());
  fs.writeFileSync(
    path.join(dir, "site.conf"),
    renderNginxSite({ nginxDir, logDir: logs, accessLogFormat: "guincho_json", ...siteOptions }),
  );
  const conf = path.join(dir, "nginx.conf");
  fs.writeFileSync(
    conf,
    `pid ${dir}/nginx.pid;\nerror_log ${logs}/error.log;\nevents {}\n` +
      `http {\n  include /etc/nginx/mime.types;\n  include ${dir}/site.conf;\n}\n`,
  );
  const args = ["-p", `${dir}/`, "-c", conf, "-e", `${logs}/error.log`];
  return { nginxDir, logs, args };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function get(port: number, urlPath: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>(
    (resolve, reject) => {
      const request = http.get({ host: "127.0.0.1", port, path: urlPath, headers }, (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      request.on("error", reject);
    },
  );
}

describe("the nginx site", () => {
  test("nginx -t accepts the site as the VM gets it, with the bundle's log format", () => {
    const { dir, cleanup } = tempDir("nginx-t");
    try {
      const { args } = privateNginx(dir, {});
      const result = run("nginx", ["-t", ...args]);
      expect(result.stderr).toContain("test is successful");
      expect(result.status).toBe(0);
    } finally {
      cleanup();
    }
  });

  test("the VM's site file is the rendered site with the VM's paths", () => {
    const site = renderHostFiles(DEV_HOST)["/etc/nginx/sites-available/guincho"];
    expect(site).toContain("include /etc/nginx/guincho/log-format.conf;\n");
    expect(site).toContain("include /etc/nginx/guincho/upstream.conf;\n");
    expect(site).toContain("    listen 80 default_server;\n");
    expect(site).toContain("    access_log /var/log/nginx/guincho-access.log guincho_json;\n");
    expect(site).toContain("    130.211.0.0/22 1;\n    35.191.0.0/16 1;\n");
    expect(site).toContain("server_tokens off;\n");
    expect(renderNginxSite({ accessLogFormat: "combined" })).not.toContain("log-format.conf");
  });

  describe("serving, behind a stand-in for the load balancer", () => {
    const { dir, cleanup } = tempDir("nginx-live");
    let app: http.Server;
    let port = 0;
    let nginxArgs: string[] = [];
    let master: ChildProcess | undefined;

    beforeAll(async () => {
      // The app stand-in echoes what nginx passed on.
      app = http.createServer((req, res) => {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ path: req.url, headers: req.headers }));
      });
      await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
      const appPort = (app.address() as net.AddressInfo).port;
      port = await freePort();
      // Loopback plays the Google front end, so its forwarded headers are believed.
      const { nginxDir, args } = privateNginx(dir, {
        listen: `127.0.0.1:${port}`,
        frontEndRanges: ["127.0.0.1/32"],
      });
      fs.writeFileSync(
        path.join(nginxDir, "upstream.conf"),
        renderDefaultUpstream().replace("127.0.0.1:8001", `127.0.0.1:${appPort}`),
      );
      nginxArgs = args;
      master = spawn("nginx", [...args, "-g", "daemon off;"], { stdio: "ignore" });
      for (let i = 0; i < 50; i++) {
        try {
          await get(port, "/healthz");
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    });

    afterAll(async () => {
      run("nginx", [...nginxArgs, "-s", "stop"]);
      await new Promise<void>((resolve) =>
        master ? master.on("exit", () => resolve()) : resolve(),
      );
      await new Promise<void>((resolve) => app.close(() => resolve()));
      cleanup();
    });

    test("passes the client's address from X-Forwarded-For, not the load balancer's", async () => {
      const res = await get(port, "/tows", {
        "X-Forwarded-For": "1.2.3.4, 203.0.113.9, 34.120.0.7",
        "X-Forwarded-Proto": "https",
      });
      const seen = JSON.parse(res.body) as { headers: Record<string, string> };
      expect(seen.headers["x-real-ip"]).toBe("203.0.113.9");
      expect(seen.headers["x-forwarded-proto"]).toBe("https");
      expect(seen.headers["x-forwarded-for"]).toBe("1.2.3.4, 203.0.113.9, 34.120.0.7");
    });

    test("sends the security headers, leaves HSTS to the load balancer, hides its version", async () => {
      const https = await get(port, "/", { "X-Forwarded-Proto": "https" });
      // The load balancer adds HSTS (customResponseHeaders); twice would be a sloppy duplicate.
      expect(https.headers["strict-transport-security"]).toBeUndefined();
      expect(https.headers.server).toBe("nginx");
      expect(https.headers["x-content-type-options"]).toBe("nosniff");
      expect(https.headers["x-frame-options"]).toBe("DENY");
      const plain = await get(port, "/");
      expect(plain.headers["strict-transport-security"]).toBeUndefined();
    });

    test("passes /healthz to the app and keeps it out of the access log", async () => {
      const res = await get(port, "/healthz");
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body).path).toBe("/healthz");
      await get(port, "/logged");
      const log = fs.readFileSync(path.join(dir, "logs", "guincho-access.log"), "utf8");
      const uris = log
        .trim()
        .split("\n")
        .map((line) => (JSON.parse(line) as { request_uri: string }).request_uri);
      expect(uris).not.toContain("/healthz");
      expect(uris).toContain("/logged");
    });
  });
});

describe("the logrotate rules", () => {
  test("logrotate -d reads them without an error", () => {
    const { dir, cleanup } = tempDir("logrotate");
    try {
      // `su nobody` in the app's rule: nobody must reach its logs, as guincho does on the VM.
      fs.chmodSync(dir, 0o755);
      for (const sub of ["nginx", "app"]) {
        fs.mkdirSync(path.join(dir, sub));
        fs.writeFileSync(path.join(dir, sub, "guincho-access.log"), "line\n");
      }
      const rules = path.join(dir, "guincho");
      fs.writeFileSync(
        rules,
        renderLogrotate({
          nginxLogDir: path.join(dir, "nginx"),
          appLogDir: path.join(dir, "app"),
          appUser: "nobody",
          appGroup: "nogroup",
        }),
      );
      const result = run("logrotate", ["-d", "-s", path.join(dir, "state"), rules]);
      expect(result.stderr + result.stdout).not.toMatch(/error/i);
      expect(result.status).toBe(0);
      expect(result.stderr + result.stdout).toContain("after 1 days (14 rotations)");
    } finally {
      cleanup();
    }
  });

  test("the VM's rules rotate nginx's and the app's logs daily, keep 14, as the app user", () => {
    const rules = renderHostFiles(DEV_HOST)["/etc/logrotate.d/guincho"];
    expect(rules).toContain("/var/log/nginx/*.log {\n    daily\n    rotate 14\n");
    expect(rules).toContain("/var/log/guincho/*.log {\n    daily\n    rotate 14\n");
    expect(rules).toContain("    su guincho guincho\n");
  });
});
