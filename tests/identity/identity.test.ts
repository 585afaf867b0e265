import {
  ADMIN_PROJECT_ROLES,
  APP_PROJECT_ROLES,
  BASIC_ROLES,
  DEPLOYER_PROJECT_ROLES,
  REQUIRED_SERVICES,
} from "../../components/identity";
import { evaluatePolicies } from "../../policies/evaluate";
import type { DeclaredResource, ProgramRun } from "../../tools/program";
import { named, ofType, only, plain, runStage } from "../helpers/program";

const SERVICE = "gcp:projects/service:Service";
const ACCOUNT = "gcp:serviceaccount/account:Account";
const PROJECT_IAM = "gcp:projects/iAMMember:IAMMember";
const ACCOUNT_IAM = "gcp:serviceaccount/iAMMember:IAMMember";
const SECRET = "gcp:secretmanager/secret:Secret";
const SECRET_VERSION = "gcp:secretmanager/secretVersion:SecretVersion";
const SECRET_IAM = "gcp:secretmanager/secretIamMember:SecretIamMember";
const PASSWORD = "random:index/randomPassword:RandomPassword";
const QUOTA = "gcp:serviceusage/consumerQuotaOverride:ConsumerQuotaOverride";
const POOL = "gcp:iam/workloadIdentityPool:WorkloadIdentityPool";
const PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider";
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

const STAGES = ["dev", "staging", "prod"] as const;
type Stage = (typeof STAGES)[number];

const project = (stage: Stage) => `guincho-lacerda-${stage}`;
const app = (stage: Stage) => `guincho-app@${project(stage)}.iam.gserviceaccount.com`;
const deployer = (stage: Stage) => `guincho-deployer@${project(stage)}.iam.gserviceaccount.com`;
const previewer = (stage: Stage) => `guincho-previewer@${project(stage)}.iam.gserviceaccount.com`;
const accountName = (stage: Stage, email: string) =>
  `projects/${project(stage)}/serviceAccounts/${email}`;
const pool = (stage: Stage) =>
  `projects/123456789012/locations/global/workloadIdentityPools/guincho-${stage}-github`;

const ADMINS: Record<Stage, string[]> = {
  dev: ["user:rafael.lacerda@guincholacerda.com.br", "user:marina.souza@guincholacerda.com.br"],
  staging: ["user:rafael.lacerda@guincholacerda.com.br", "user:marina.souza@guincholacerda.com.br"],
  prod: ["user:rafael.lacerda@guincholacerda.com.br", "group:infra@guincholacerda.com.br"],
};

const runs = {} as Record<Stage, ProgramRun>;

beforeAll(async () => {
  for (const stage of STAGES) {
    runs[stage] = await runStage(stage);
  }
});

/** IAM grants as "role member @ where"; by default those on the project, accounts, secrets. */
function grants(run: ProgramRun, types = [PROJECT_IAM, ACCOUNT_IAM, SECRET_IAM]): string[] {
  const where = (r: DeclaredResource) =>
    r.type === PROJECT_IAM ? "project" : String(r.props.serviceAccountId ?? r.props.secretId);
  return run.resources
    .filter((r) => r.custom && types.some((t) => t.toLowerCase() === r.type.toLowerCase()))
    .map((r) => `${String(r.props.role)} ${String(r.props.member)} @ ${where(r)}`)
    .sort();
}

describe("APIs", () => {
  test.each(STAGES)("%s enables every API the stage needs and never disables one", (stage) => {
    const services = ofType(runs[stage], SERVICE);
    expect(services.map((s) => s.props.service)).toEqual([...REQUIRED_SERVICES]);
    for (const service of services) {
      expect(service.props).toEqual({
        project: project(stage),
        service: service.props.service,
        disableOnDestroy: false,
        disableDependentServices: false,
      });
    }
  });

  test("include Sheets, Drive, IAP, OS Login and the keyless-CI token services", () => {
    expect(REQUIRED_SERVICES).toEqual(
      expect.arrayContaining([
        "sheets.googleapis.com",
        "drive.googleapis.com",
        "iap.googleapis.com",
        "oslogin.googleapis.com",
        "sts.googleapis.com",
        "iamcredentials.googleapis.com",
      ]),
    );
  });
});

describe("who may do what", () => {
  test.each(STAGES)(
    "%s grants exactly these roles on the project, service accounts and secrets",
    (stage) => {
      const secret = "projects/123456789012/secrets/guincho-app-secret-key-id";
      const appAccount = accountName(stage, app(stage));
      const expected = [
        ...APP_PROJECT_ROLES.map((role) => `${role} serviceAccount:${app(stage)} @ project`),
        `roles/secretmanager.secretAccessor serviceAccount:${app(stage)} @ ${secret}`,
        ...ADMINS[stage].flatMap((admin) => [
          ...ADMIN_PROJECT_ROLES.map((role) => `${role} ${admin} @ project`),
          `roles/iam.serviceAccountUser ${admin} @ ${appAccount}`,
        ]),
        ...Object.keys(DEPLOYER_PROJECT_ROLES).map(
          (role) => `${role} serviceAccount:${deployer(stage)} @ project`,
        ),
        `roles/iam.serviceAccountUser serviceAccount:${deployer(stage)} @ ${appAccount}`,
        `roles/iam.workloadIdentityUser principalSet://iam.googleapis.com/${pool(stage)}` +
          `/attribute.repository/guincho-lacerda/infra @ ${accountName(stage, deployer(stage))}`,
        // The read-only previewer of pull requests (tests/identity/previewer.test.ts).
        `roles/dns.reader serviceAccount:${previewer(stage)} @ project`,
        `roles/iam.workloadIdentityUser principalSet://iam.googleapis.com/` +
          `${pool(stage).replace(/-github$/, "-preview")}` +
          `/attribute.repository/guincho-lacerda/infra @ ${accountName(stage, previewer(stage))}`,
      ];
      expect(grants(runs[stage])).toEqual([...expected].sort());
    },
  );

  test.each(STAGES)("%s grants no basic role, anywhere, and creates no key", (stage) => {
    const everyIamType = (r: DeclaredResource) => /iam(member|binding|policy)$/i.test(r.type);
    const everywhere = grants(runs[stage], [
      ...new Set(runs[stage].resources.filter(everyIamType).map((r) => r.type)),
    ]);
    expect(everywhere.length).toBeGreaterThan(20);
    for (const grant of everywhere) {
      expect(BASIC_ROLES).not.toContain(grant.split(" ")[0]);
    }
    expect(ofType(runs[stage], "gcp:serviceaccount/key:Key")).toEqual([]);
  });

  test("prod lets the infra group in; dev and staging name only people", () => {
    const admins = (stage: Stage) =>
      ofType(runs[stage], PROJECT_IAM)
        .filter((r) => r.props.role === "roles/compute.osAdminLogin")
        .map((r) => r.props.member)
        // The deployer logs in too, to run the host deploy tool (its own test below).
        .filter((member) => !String(member).includes("guincho-deployer@"));
    expect(admins("prod")).toEqual(ADMINS.prod);
    expect(admins("dev")).toEqual(ADMINS.dev);
    expect(admins("staging")).toEqual(ADMINS.staging);
  });

  test.each(STAGES)("%s: the deployer may tunnel to the VM and log in with sudo", (stage) => {
    const deployer = `serviceAccount:guincho-deployer@guincho-lacerda-${stage}.iam.gserviceaccount.com`;
    const roles = ofType(runs[stage], PROJECT_IAM)
      .filter((r) => r.props.member === deployer)
      .map((r) => r.props.role);
    expect(roles).toEqual(
      expect.arrayContaining(["roles/iap.tunnelResourceAccessor", "roles/compute.osAdminLogin"]),
    );
  });

  test.each(STAGES)("%s: the app's account holds only log and metric writing", (stage) => {
    expect(named(runs[stage], ACCOUNT, `guincho-${stage}-app-sa`).props).toEqual({
      project: project(stage),
      accountId: "guincho-app",
      displayName: "Guincho Lacerda app",
      description: "The app VM runs as this account. Share the spreadsheet with its e-mail.",
    });
    const roles = ofType(runs[stage], PROJECT_IAM)
      .filter((r) => r.props.member === `serviceAccount:${app(stage)}`)
      .map((r) => r.props.role);
    expect(roles).toEqual(["roles/logging.logWriter", "roles/monitoring.metricWriter"]);
  });

  test.each(STAGES)("%s: the deployer may grant only the stack's own project roles", (stage) => {
    const iamAdmin = named(
      runs[stage],
      PROJECT_IAM,
      `guincho-${stage}-deployer-resourcemanager.projectIamAdmin`,
    );
    expect(iamAdmin.props).toEqual({
      project: project(stage),
      role: "roles/resourcemanager.projectIamAdmin",
      member: `serviceAccount:${deployer(stage)}`,
      condition: {
        title: "Only the roles this stack grants",
        description: "The deployer may grant and revoke only the stack's own roles.",
        expression:
          "api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly([" +
          "'roles/compute.osAdminLogin', 'roles/dns.reader', 'roles/iap.tunnelResourceAccessor', " +
          "'roles/logging.logWriter', 'roles/monitoring.metricWriter'])",
      },
    });
    const conditioned = ofType(runs[stage], PROJECT_IAM).filter((r) => r.props.condition);
    expect(conditioned.map((r) => r.name)).toEqual([iamAdmin.name]);
  });
});

describe("the app's secret key", () => {
  test.each([
    ["prod", true],
    ["staging", false],
    ["dev", false],
  ] as const)("%s: in Secret Manager, in the region, protected: %s", (stage, prod) => {
    const run = runs[stage];
    const secret = only(run, SECRET);
    expect(secret.props).toEqual({
      project: project(stage),
      secretId: "guincho-app-secret-key",
      labels: expect.objectContaining({
        app: "guincho-lacerda",
        stage,
        "managed-by": "pulumi",
        purpose: "app-secret-key",
      }),
      replication: { userManaged: { replicas: [{ location: "southamerica-east1" }] } },
      deletionProtection: prod,
    });
    expect(secret.protect).toBe(prod);
    expect(only(run, SECRET_VERSION).protect).toBe(prod);
    expect(only(run, PASSWORD).protect).toBe(prod);
    expect(only(run, PASSWORD).props).toEqual({ length: 64, special: false });
  });

  test.each(STAGES)("%s: the key travels only as a Pulumi secret", (stage) => {
    const version = only(runs[stage], SECRET_VERSION);
    const data = version.props.secretData as Record<string, unknown>;
    expect(data[SECRET_SIG]).toBe("1b47061264138c4ac30d75fd1eb44270");
    expect(plain(data)).toBe("x".repeat(64));
    expect(JSON.stringify(runs[stage].outputs)).not.toContain("x".repeat(48));
  });

  test.each(STAGES)("%s: only the app's account may read it, on that secret only", (stage) => {
    expect(only(runs[stage], SECRET_IAM).props).toEqual({
      project: project(stage),
      secretId: "projects/123456789012/secrets/guincho-app-secret-key-id",
      role: "roles/secretmanager.secretAccessor",
      member: `serviceAccount:${app(stage)}`,
    });
  });
});

describe("Sheets quotas", () => {
  test.each([
    ["dev", "30", "30"],
    ["staging", "60", "60"],
    ["prod", "120", "60"],
  ] as const)("%s caps reads at %s and writes at %s per minute", (stage, reads, writes) => {
    const quota = (metric: string, value: string) => ({
      project: project(stage),
      service: "sheets.googleapis.com",
      metric,
      limit: "%2Fmin%2Fproject",
      overrideValue: value,
      force: true,
    });
    expect(ofType(runs[stage], QUOTA).map((q) => q.props)).toEqual([
      quota("sheets.googleapis.com%2Fread_requests", reads),
      quota("sheets.googleapis.com%2Fwrite_requests", writes),
    ]);
  });
});

describe("the CI identity", () => {
  test.each(STAGES)("%s: a pool for GitHub Actions", (stage) => {
    expect(named(runs[stage], POOL, `guincho-${stage}-github-pool`).props).toEqual({
      project: project(stage),
      workloadIdentityPoolId: `guincho-${stage}-github`,
      displayName: "GitHub Actions",
      description: "Workflows of guincho-lacerda/infra deploy without keys.",
    });
  });

  test.each([
    ["prod", "production"],
    ["staging", "staging"],
  ] as const)("%s trusts only the repository's jobs in environment %s", (stage, env) => {
    expect(named(runs[stage], PROVIDER, `guincho-${stage}-github-provider`).props).toEqual({
      project: project(stage),
      workloadIdentityPoolId: `guincho-${stage}-github`,
      workloadIdentityPoolProviderId: "github",
      displayName: "GitHub OIDC",
      description: "Tokens of guincho-lacerda/infra only.",
      attributeMapping: {
        "google.subject": "assertion.sub",
        "attribute.repository": "assertion.repository",
        "attribute.repository_owner": "assertion.repository_owner",
        "attribute.ref": "assertion.ref",
        "attribute.actor": "assertion.actor",
        "attribute.environment": "assertion.environment",
      },
      attributeCondition: `assertion.repository == "guincho-lacerda/infra" && assertion.environment == "${env}"`,
      oidc: { issuerUri: "https://token.actions.githubusercontent.com" },
    });
  });

  test("dev, without an environment, trusts any job of the repository", () => {
    const provider = named(runs.dev, PROVIDER, "guincho-dev-github-provider");
    expect(provider.props.attributeCondition).toBe(
      'assertion.repository == "guincho-lacerda/infra"',
    );
    expect(Object.keys(provider.props.attributeMapping as object)).not.toContain(
      "attribute.environment",
    );
  });

  test.each(STAGES)("%s exports what CI's auth step and the operators need", (stage) => {
    expect(runs[stage].outputs).toMatchObject({
      appServiceAccountEmail: app(stage),
      deployerServiceAccountEmail: deployer(stage),
      workloadIdentityProvider: `${pool(stage)}/providers/github`,
      appSecretId: "guincho-app-secret-key",
    });
  });
});

describe("policies", () => {
  const TYPES = [
    SERVICE,
    ACCOUNT,
    PROJECT_IAM,
    ACCOUNT_IAM,
    SECRET,
    SECRET_VERSION,
    SECRET_IAM,
    QUOTA,
    POOL,
    PROVIDER,
  ];
  test.each(STAGES)("%s: the policy pack finds nothing to report", (stage) => {
    const mine = runs[stage].resources.filter((r) => r.custom && TYPES.includes(r.type));
    const findings = evaluatePolicies(
      mine.map((r) => ({
        type: r.type,
        name: r.name,
        props: plain(r.props) as Record<string, unknown>,
        protect: r.protect,
      })),
      stage,
    );
    expect(findings).toEqual([]);
  });
});
