import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { evaluatePolicies } from "../../policies/evaluate";
import { toMermaid, toText } from "../../tools/plan";
import { repoRoot, runStage } from "../helpers/program";

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

/** A plan built from the suite's cached run of a committed stack, for the renderers. */
async function cachedPlan(stage: "dev" | "staging" | "prod") {
  const run = await runStage(stage);
  const findings = evaluatePolicies(
    run.resources
      .filter((r) => r.custom)
      .map((r) => ({ type: r.type, name: r.name, props: r.props, protect: r.protect })),
    stage,
  );
  return { run, findings, exitCode: 0 as const };
}

describe("npm run plan", () => {
  let prodJson: { code: number; out: string; err: string };
  beforeAll(async () => {
    prodJson = await plan("--stack", "prod", "--json");
  });

  test("prints the JSON document of the contract for a stage", () => {
    expect(prodJson.code).toBe(0);
    const doc = JSON.parse(prodJson.out);
    expect(Object.keys(doc)).toEqual(["stack", "resources", "outputs", "findings"]);
    expect(doc.stack).toBe("prod");
    expect(doc.resources[0]).toEqual({
      type: "pulumi:providers:gcp",
      name: "guincho-prod-gcp",
      parent: null,
      props: expect.objectContaining({ project: "guincho-lacerda-prod" }),
      protect: false,
    });
    const vm = doc.resources.find((r: any) => r.type === "gcp:compute/instance:Instance");
    expect([vm.name, vm.parent, vm.protect]).toEqual([
      "guincho-prod-vm",
      "guincho:server:Server::guincho-prod",
      true,
    ]);
    expect(doc.outputs.stage).toBe("prod");
    expect(doc.findings).toEqual([]);
  });

  test("plans prod's encrypted secret with a placeholder, and prints secrets masked", () => {
    expect(prodJson.out).not.toContain("v1:Zq0yN2xhY2VyZGEtY2hhdC13ZWJob29r");
    expect(prodJson.out).not.toContain("not decrypted by the offline plan");
    const chat = JSON.parse(prodJson.out).resources.find(
      (r: any) => r.name === "guincho-prod-chat",
    );
    expect(chat.props.type).toBe("webhook_tokenauth");
    expect(chat.props.labels).toBe("[secret]");
  });

  test("prints a readable tree: components, children indented, protection, outputs", async () => {
    const out = toText(await cachedPlan("prod"));
    const lines = out.split("\n");
    expect(lines[0]).toMatch(/^Stack prod: \d+ resources$/);
    expect(lines).toContain("  guincho-prod-gcp  (pulumi:providers:gcp)");
    expect(lines).toContain("  + guincho-prod  (guincho:server:Server)");
    expect(lines).toContain("    guincho-prod-vm  (gcp:compute/instance:Instance)  [protected]");
    expect(lines).toContain("  stage: prod");
    expect(lines[lines.length - 1]).toBe("Policy findings: none");
  });

  test("lists policy findings with their level, policy, resource and message", async () => {
    const planned = await cachedPlan("dev");
    planned.findings = [
      {
        policy: "compute-no-public-ip",
        enforcementLevel: "mandatory",
        resource: { type: "gcp:compute/instance:Instance", name: "guincho-dev-vm" },
        message: "has a public IP",
      },
    ];
    expect(toText(planned).split("\n").slice(-2)).toEqual([
      "Policy findings:",
      "  [mandatory] compute-no-public-ip on guincho-dev-vm: has a public IP",
    ]);
  });

  test("draws the stage as a Mermaid flowchart, components as subgraphs", async () => {
    const out = toMermaid(await cachedPlan("staging"));
    const lines = out.split("\n");
    expect(lines[0]).toBe("flowchart TB");
    expect(out).not.toContain("providers:gcp");
    expect(lines).toContain('  subgraph r0["Identity<br/>guincho-staging"]');
    expect(lines.filter((l) => l.trim() === "end").length).toBe(
      lines.filter((l) => l.trim().startsWith("subgraph")).length,
    );
  });

  test("plans a config file that is not committed yet", async () => {
    const file = writeStackFile((c) => {
      c["guincho:gcpProject"] = "guincho-lacerda-sandbox";
    });
    const { code, out } = await plan("--stack", "dev", "--config-file", file, "--json");
    expect(code).toBe(0);
    expect(JSON.parse(out).outputs.gcpProject).toBe("guincho-lacerda-sandbox");
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

  test("exits 2 without a stack trace when a component refuses its settings", async () => {
    const file = writeStackFile((c) => {
      c["guincho:release"] = { archive: "examples" };
    });
    const { code, out, err } = await plan("--stack", "dev", "--config-file", file);
    expect(code).toBe(2);
    expect(out).toBe("");
    expect(err.split("\n")).toEqual([
      "The program refused this stack's settings; nothing was planned:",
      `guincho:release.archive: ${path.join(repoRoot, "examples")}: no release.json at the top; ` +
        "an app directory needs one (see docs/releases.md). Point it at an app directory with a " +
        "release.json, or at a .tar.gz built from one.",
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
