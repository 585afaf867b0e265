import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { repoRoot } from "../helpers/program";

type PlanModule = typeof import("../../tools/plan");

/** Runs the plan command in-process with a fresh module registry; returns code and output. */
async function plan(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  jest.resetModules();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { main } = require("../../tools/plan") as PlanModule;
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    argv,
    (t) => out.push(t),
    (t) => err.push(t),
  );
  return { code, out: out.join("\n"), err: err.join("\n") };
}

function writeStackFile(change: (config: Record<string, any>) => void): string {
  const doc = YAML.parse(fs.readFileSync(path.join(repoRoot, "Pulumi.dev.yaml"), "utf8"));
  change(doc.config);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "guincho-plan-")), "stack.yaml");
  fs.writeFileSync(file, YAML.stringify(doc));
  return file;
}

describe("npm run plan", () => {
  test("prints the JSON document of the contract for a stage", async () => {
    const { code, out } = await plan("--stack", "prod", "--json");
    expect(code).toBe(0);
    const doc = JSON.parse(out);
    expect(Object.keys(doc)).toEqual(["stack", "resources", "outputs", "findings"]);
    expect(doc.stack).toBe("prod");
    expect(doc.resources[0]).toEqual({
      type: "pulumi:providers:gcp",
      name: "guincho-prod-gcp",
      parent: null,
      props: expect.objectContaining({ project: "guincho-lacerda-prod" }),
      protect: false,
    });
    expect(doc.outputs.stage).toBe("prod");
    expect(doc.findings.filter((f: any) => f.enforcementLevel === "mandatory")).toEqual([]);
  });

  test("prints a readable tree with outputs and findings", async () => {
    const { code, out } = await plan("--stack", "dev");
    expect(code).toBe(0);
    expect(out).toMatch(/^Stack dev: \d+ resources$/m);
    expect(out).toContain("  guincho-dev-gcp  (pulumi:providers:gcp)");
    expect(out).toContain("Outputs:\n");
    expect(out).toContain("  stage: dev");
  });

  test("draws the stage as a Mermaid flowchart", async () => {
    const { code, out } = await plan("--stack", "staging", "--format", "mermaid");
    expect(code).toBe(0);
    expect(out.split("\n")[0]).toBe("flowchart TB");
    expect(out).not.toContain("providers:gcp");
  });

  test("plans a config file that is not committed yet", async () => {
    const file = writeStackFile((c) => {
      c["guincho:gcpProject"] = "guincho-lacerda-sandbox";
    });
    const { code, out } = await plan("--stack", "dev", "--config-file", file, "--json");
    expect(code).toBe(0);
    expect(JSON.parse(out).outputs.gcpProject).toBe("guincho-lacerda-sandbox");
  });

  test("plans prod with a marked placeholder for its encrypted secret", async () => {
    const { out } = await plan("--stack", "prod", "--json");
    expect(out).not.toContain("v1:Zq0yN2xhY2VyZGEtY2hhdC13ZWJob29r");
  });

  test("exits 2 on invalid config with one line per problem", async () => {
    const file = writeStackFile((c) => {
      c["guincho:server"].dataDiskGb = 5;
      c["guincho:sever"] = {};
    });
    const { code, out, err } = await plan("--stack", "dev", "--config-file", file);
    expect(code).toBe(2);
    expect(out).toBe("");
    expect(err.split("\n")).toEqual([
      "Invalid configuration for this stack; nothing was planned:",
      "guincho:server.dataDiskGb: received 5; expected at least 10",
      expect.stringMatching(/^guincho:sever: unknown key .*did you mean "server"\?/),
    ]);
  });

  test.each([
    [
      ["--stack", "dev", "--format", "svg"],
      '--format: received "svg"; expected text, json or mermaid',
    ],
    [[], "--stack is required: which stage to plan (dev, staging or prod)"],
    [
      ["--stack", "dev", "--config-file", "/nonexistent.yaml"],
      "config file /nonexistent.yaml: cannot be read (does it exist?)",
    ],
  ])("exits 2 on a usage mistake: %j", async (argv, message) => {
    const { code, err } = await plan(...argv);
    expect(code).toBe(2);
    expect(err.split("\n")[0]).toBe(message);
  });

  test("as a real process, writes the whole JSON document into a pipe", () => {
    const result = spawnSync(
      process.execPath,
      ["-r", "@swc-node/register", "tools/plan.ts", "--stack", "prod", "--json"],
      { cwd: repoRoot, encoding: "utf8", timeout: 60_000, maxBuffer: 1 << 26 },
    );
    expect(result.status).toBe(0);
    // Larger than a pipe's 64 KiB buffer: a premature exit would cut it short.
    expect(result.stdout.length).toBeGreaterThan(65536);
    expect(JSON.parse(result.stdout).stack).toBe("prod");
  });

  test("as a real process, prints no stack trace for a user's mistake", () => {
    const file = writeStackFile((c) => {
      delete c["guincho:gcpProject"];
    });
    const result = spawnSync(
      process.execPath,
      ["-r", "@swc-node/register", "tools/plan.ts", "--stack", "dev", "--config-file", file],
      { cwd: repoRoot, encoding: "utf8", timeout: 60_000 },
    );
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      "Invalid configuration for this stack; nothing was planned:\n" +
        "guincho:gcpProject: required, but missing; set it in Pulumi.<stack>.yaml\n",
    );
    expect(result.stdout).toBe("");
  });
});
