import type { ProgramRun } from "../../tools/program";
import { named, ofType, runStage } from "../helpers/program";

const PROJECT_IAM = "gcp:projects/iAMMember:IAMMember";
const ACCOUNT_IAM = "gcp:serviceaccount/iAMMember:IAMMember";
const POOL = "gcp:iam/workloadIdentityPool:WorkloadIdentityPool";
const PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider";
const poolName = (id: string) =>
  `projects/123456789012/locations/global/workloadIdentityPools/${id}`;

describe("the pull-request previewer", () => {
  const runs: Record<string, ProgramRun> = {};
  beforeAll(async () => {
    for (const stage of ["staging", "prod"]) {
      runs[stage] = await runStage(stage);
    }
  });

  test.each(["staging", "prod"])("%s: reads DNS and nothing else in the project", (stage) => {
    const previewer = `serviceAccount:guincho-previewer@guincho-lacerda-${stage}.iam.gserviceaccount.com`;
    const roles = ofType(runs[stage], PROJECT_IAM)
      .filter((r) => r.props.member === previewer)
      .map((r) => r.props.role);
    expect(roles).toEqual(["roles/dns.reader"]);
  });

  test("has a pool of its own, with no environment required, pinned to the repository", () => {
    const pool = named(runs.prod, POOL, "guincho-prod-github-preview-pool");
    expect(pool.props.workloadIdentityPoolId).toBe("guincho-prod-preview");
    const provider = named(runs.prod, PROVIDER, "guincho-prod-github-preview-provider");
    expect(provider.props.attributeCondition).toBe(
      'assertion.repository == "guincho-lacerda/infra"',
    );
    expect(provider.props.oidc).toEqual({
      issuerUri: "https://token.actions.githubusercontent.com",
    });
    expect(runs.prod.outputs.previewWorkloadIdentityProvider).toBe(
      `${poolName("guincho-prod-preview")}/providers/github`,
    );
  });

  test("preview tokens can impersonate the previewer only, never the deployer", () => {
    const bindings = ofType(runs.prod, ACCOUNT_IAM).filter(
      (r) => r.props.role === "roles/iam.workloadIdentityUser",
    );
    const bySubject = Object.fromEntries(
      bindings.map((b) => [String(b.props.serviceAccountId).split("/").pop(), b.props.member]),
    );
    expect(bySubject).toEqual({
      "guincho-previewer@guincho-lacerda-prod.iam.gserviceaccount.com":
        `principalSet://iam.googleapis.com/${poolName("guincho-prod-preview")}` +
        "/attribute.repository/guincho-lacerda/infra",
      "guincho-deployer@guincho-lacerda-prod.iam.gserviceaccount.com":
        `principalSet://iam.googleapis.com/${poolName("guincho-prod-github")}` +
        "/attribute.repository/guincho-lacerda/infra",
    });
  });

  test("the deployer may grant the previewer's role and no other beyond the stack's", () => {
    const admin = named(
      runs.prod,
      PROJECT_IAM,
      "guincho-prod-deployer-resourcemanager.projectIamAdmin",
    );
    expect((admin.props.condition as { expression: string }).expression).toContain(
      "'roles/dns.reader'",
    );
  });
});
