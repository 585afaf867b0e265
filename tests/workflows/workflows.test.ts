import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { tempDir } from "../helpers/host";
import { repoRoot } from "../helpers/program";

const WORKFLOWS = path.join(repoRoot, ".github", "workflows");
const ACTIONLINT = path.join(
  repoRoot,
  "node_modules",
  "@tktco",
  "node-actionlint",
  "bin",
  "node-actionlint.js",
);

type Step = { uses?: string; run?: string; with?: Record<string, unknown>; name?: string };
type Job = {
  steps: Step[];
  environment?: string;
  permissions?: Record<string, string>;
  strategy?: unknown;
};
type Workflow = { jobs: Record<string, Job>; permissions?: Record<string, string> };

const files = fs.readdirSync(WORKFLOWS).filter((f) => f.endsWith(".yml"));
const workflows: Record<string, Workflow> = Object.fromEntries(
  files.map((f) => [f, YAML.parse(fs.readFileSync(path.join(WORKFLOWS, f), "utf8")) as Workflow]),
);

function actionlint(cwd: string) {
  return spawnSync(process.execPath, [ACTIONLINT], { cwd, encoding: "utf8", timeout: 60_000 });
}

describe("workflows", () => {
  test("pass actionlint", () => {
    const result = actionlint(repoRoot);
    expect(result.stdout).toContain(`Checking ${files.length} workflow file(s)...`);
    expect(result.stdout).toContain("All workflow files passed lint checks");
    expect(result.status).toBe(0);
  });

  test("actionlint does catch a broken workflow (the check above can fail)", () => {
    const { dir, cleanup } = tempDir("actionlint");
    try {
      fs.mkdirSync(path.join(dir, ".github", "workflows"), { recursive: true });
      fs.writeFileSync(
        path.join(dir, ".github", "workflows", "bad.yml"),
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n" +
          "      - run: echo ${{ github.nonexistent }}\n",
      );
      const result = actionlint(dir);
      expect(result.status).toBe(1);
      expect(result.stdout).toContain('property "nonexistent" is not defined');
    } finally {
      cleanup();
    }
  });

  test("every run script passes shellcheck", () => {
    const { dir, cleanup } = tempDir("shellcheck");
    try {
      const scripts: string[] = [];
      for (const [file, workflow] of Object.entries(workflows)) {
        for (const [name, job] of Object.entries(workflow.jobs)) {
          job.steps.forEach((step, i) => {
            if (step.run) {
              const script = path.join(dir, `${file}-${name}-${i}.sh`);
              // Expressions are filled in by Actions before bash runs: stand in a word.
              const body = step.run.replace(/\$\{\{[^}]*\}\}/g, "EXPR");
              fs.writeFileSync(script, `#!/usr/bin/env bash\nset -e\n${body}\n`);
              scripts.push(script);
            }
          });
        }
      }
      expect(scripts.length).toBeGreaterThan(10);
      const result = spawnSync("shellcheck", ["-S", "warning", ...scripts], { encoding: "utf8" });
      expect(result.stdout).toBe("");
      expect(result.status).toBe(0);
    } finally {
      cleanup();
    }
  });

  test("Google Cloud is reached only through Workload Identity Federation, never a key", () => {
    for (const [file, workflow] of Object.entries(workflows)) {
      const text = fs.readFileSync(path.join(WORKFLOWS, file), "utf8");
      expect([file, /credentials_json|GOOGLE_CREDENTIALS|service_account_key/.test(text)]).toEqual([
        file,
        false,
      ]);
      for (const [name, job] of Object.entries(workflow.jobs)) {
        const auth = job.steps.filter((s) => s.uses?.startsWith("google-github-actions/auth"));
        for (const step of auth) {
          expect(Object.keys(step.with ?? {}).sort()).toEqual([
            "service_account",
            "workload_identity_provider",
          ]);
          const idToken = job.permissions?.["id-token"] ?? workflow.permissions?.["id-token"];
          expect([file, name, idToken]).toEqual([file, name, "write"]);
        }
      }
    }
  });

  test("pull requests preview every stage as the read-only previewer, with the policy pack", () => {
    const preview = workflows["pull-request.yml"].jobs.preview;
    expect(preview.strategy).toEqual({
      "fail-fast": false,
      matrix: { stage: ["dev", "staging", "prod"] },
    });
    // No environment: the previewer's provider needs none, and a PR never holds the deployer.
    expect(preview.environment).toBeUndefined();
    const auth = preview.steps.find((s) => s.uses?.startsWith("google-github-actions/auth"));
    expect(auth?.with).toEqual({
      workload_identity_provider: "${{ vars[format('PREVIEW_WIF_PROVIDER_{0}', matrix.stage)] }}",
      service_account: "${{ vars[format('PREVIEWER_SA_{0}', matrix.stage)] }}",
    });
    const pulumi = preview.steps.find((s) => s.uses?.startsWith("pulumi/actions"));
    expect(pulumi?.with).toMatchObject({
      command: "preview",
      policyPacks: "policies",
      // Without the stage's config, dev and staging would be judged by prod's rules.
      policyPackConfigs: "policies/config/${{ matrix.stage }}.json",
    });
  });

  test("jobs holding a stage's credentials run in the environment its identity accepts", () => {
    const deploy = workflows["deploy.yml"].jobs;
    expect([deploy.dev.environment, deploy.staging.environment, deploy.prod.environment]).toEqual([
      "dev",
      "staging",
      "production",
    ]);
    expect(workflows["scheduled.yml"].jobs.drift.environment).toBe(
      "${{ matrix.stage == 'prod' && 'production' || matrix.stage }}",
    );
  });

  test("staging still deploys when run by hand, with dev skipped", () => {
    const staging = workflows["deploy.yml"].jobs.staging as Job & { if: string };
    expect(staging.if).toContain("!failure() && !cancelled()");
  });

  test("prod deploys behind the production environment, after a pre-deploy backup", () => {
    const prod = workflows["deploy.yml"].jobs.prod;
    expect(prod.environment).toBe("production");
    const names = prod.steps.map((s) => s.name ?? s.uses ?? s.run);
    const backup = names.indexOf("Pre-deploy backup (stops the deploy if it fails)");
    const up = prod.steps.findIndex((s) => s.uses?.startsWith("pulumi/actions"));
    expect(backup).toBeGreaterThan(-1);
    expect(backup).toBeLessThan(up);
    expect(prod.steps[backup].run).toContain("--tunnel-through-iap");
    // Through the unit, as the app user: a root backup would leave root-owned files behind.
    expect(prod.steps[backup].run).toContain("systemctl start guincho-backup@pre-deploy.service");
  });

  test("the weekly run detects drift per stage and scans dependencies", () => {
    const { drift, security } = workflows["scheduled.yml"].jobs;
    const preview = drift.steps.find((s) => s.uses?.startsWith("pulumi/actions"));
    expect(preview?.with).toMatchObject({ command: "preview", "expect-no-changes": true });
    expect(security.steps.map((s) => s.run)).toContain("npm audit --omit=dev --audit-level=high");
  });
});
