import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import {
  adminMember,
  ADMIN_PROJECT_ROLES,
  APP_PROJECT_ROLES,
  BASIC_ROLES,
  DEPLOYER_PROJECT_ROLES,
  githubAttributeCondition,
  githubAttributeMapping,
  githubPrincipalSet,
  grantableRolesCondition,
  Identity,
  type IdentityArgs,
  serviceShortName,
  sheetsQuotaOverrides,
} from "../../components/identity";
import { Network } from "../../components/network";

const repoRoot = path.resolve(__dirname, "..", "..");

describe("derivations", () => {
  test.each([
    ["ana@guincholacerda.com.br", "user:ana@guincholacerda.com.br"],
    ["user:ana@guincholacerda.com.br", "user:ana@guincholacerda.com.br"],
    ["group:infra@guincholacerda.com.br", "group:infra@guincholacerda.com.br"],
  ])("admin %s is the IAM member %s", (entry, member) => {
    expect(adminMember(entry)).toBe(member);
  });

  test("names an API resource by the API's first label", () => {
    expect(serviceShortName("certificatemanager.googleapis.com")).toBe("certificatemanager");
  });

  test("pins the GitHub provider to the repository, and to the environment when set", () => {
    expect(githubAttributeCondition({ repository: "guincho-lacerda/infra" })).toBe(
      'assertion.repository == "guincho-lacerda/infra"',
    );
    expect(
      githubAttributeCondition({ repository: "guincho-lacerda/infra", environment: "production" }),
    ).toBe(
      'assertion.repository == "guincho-lacerda/infra" && assertion.environment == "production"',
    );
  });

  test("maps the environment claim only when the condition needs it", () => {
    expect(githubAttributeMapping({ repository: "o/n" })).toEqual({
      "google.subject": "assertion.sub",
      "attribute.repository": "assertion.repository",
      "attribute.repository_owner": "assertion.repository_owner",
      "attribute.ref": "assertion.ref",
      "attribute.actor": "assertion.actor",
    });
    expect(githubAttributeMapping({ repository: "o/n", environment: "e" })).toMatchObject({
      "attribute.environment": "assertion.environment",
    });
  });

  test("binds every identity of the repository, through the pool's full name", () => {
    expect(githubPrincipalSet("projects/1/locations/global/workloadIdentityPools/p", "o/n")).toBe(
      "principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p" +
        "/attribute.repository/o/n",
    );
  });

  test("lists each grantable role once, sorted, in the IAM condition", () => {
    expect(grantableRolesCondition(["roles/b", "roles/a", "roles/b"])).toBe(
      "api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly(['roles/a', 'roles/b'])",
    );
  });

  test("URL-encodes the Sheets metrics and the per-project, per-minute limit", () => {
    expect(sheetsQuotaOverrides({ readRequestsPerMinute: 90, writeRequestsPerMinute: 45 })).toEqual(
      [
        {
          key: "read",
          metric: "sheets.googleapis.com%2Fread_requests",
          limit: "%2Fmin%2Fproject",
          overrideValue: "90",
        },
        {
          key: "write",
          metric: "sheets.googleapis.com%2Fwrite_requests",
          limit: "%2Fmin%2Fproject",
          overrideValue: "45",
        },
      ],
    );
  });

  test("no role list of this project holds a basic role", () => {
    const every = [
      ...APP_PROJECT_ROLES,
      ...ADMIN_PROJECT_ROLES,
      ...Object.keys(DEPLOYER_PROJECT_ROLES),
    ];
    expect(every.filter((role) => BASIC_ROLES.includes(role))).toEqual([]);
  });

  test("the handbook explains every role the deployer holds", () => {
    const page = fs.readFileSync(path.join(repoRoot, "docs", "identity-and-network.md"), "utf8");
    const missing = Object.keys(DEPLOYER_PROJECT_ROLES).filter((r) => !page.includes(`\`${r}\``));
    expect(missing).toEqual([]);
  });
});

describe("components built alone", () => {
  const declared: pulumi.runtime.MockResourceArgs[] = [];

  beforeAll(() => {
    pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          declared.push(args);
          return { id: `${args.name}-id`, state: { ...args.inputs, name: args.inputs.name } };
        },
        call: () => ({}),
      },
      "guincho",
      "dev",
      false,
    );
  });

  const args: IdentityArgs = {
    project: "guincho-lacerda-dev",
    region: "southamerica-east1",
    admins: ["user:ana@guincholacerda.com.br"],
    github: { repository: "guincho-lacerda/infra" },
    sheets: { readRequestsPerMinute: 60, writeRequestsPerMinute: 60 },
    labels: {},
    protect: false,
  };

  test.each([
    [
      { appAccountId: "app" },
      'appAccountId: received "app"; expected a service account id of 6-30 lower-case letters, digits or hyphens, starting with a letter and not ending with a hyphen',
    ],
    [
      { deployerAccountId: "Deployer_CI" },
      'deployerAccountId: received "Deployer_CI"; expected a service account id of 6-30 lower-case letters, digits or hyphens, starting with a letter and not ending with a hyphen',
    ],
    [
      { deployerAccountId: "guincho-app" },
      'deployerAccountId: received "guincho-app", the same as appAccountId; the app and the deployer need separate accounts',
    ],
    [
      { secretKeyLength: 32 },
      "secretKeyLength: received 32; expected a whole number of at least 48",
    ],
    [
      { admins: ["ana@guincholacerda.com.br", "user:ana@guincholacerda.com.br"] },
      'admins: "user:ana@guincholacerda.com.br" is listed twice; list each administrator once',
    ],
  ])("Identity fails on %p", (change, message) => {
    expect(() => new Identity("guards", { ...args, ...change })).toThrow(message);
  });

  test("Network targets the network tag when it is given no service account", async () => {
    const network = new Network("tagged", {
      project: "guincho-lacerda-dev",
      region: "southamerica-east1",
      subnetCidr: "10.10.0.0/24",
      flowLogSampling: 0.2,
    });
    await new Promise((done) => pulumi.all(network.firewallNames).apply(done));
    const ssh = declared.find((r) => r.name === "tagged-allow-iap-ssh");
    expect(ssh?.inputs.targetTags).toEqual(["guincho-app"]);
    expect(ssh?.inputs.targetServiceAccounts).toBeUndefined();
    expect(declared.filter((r) => r.name.startsWith("tagged-allow-")).map((r) => r.name)).toEqual([
      "tagged-allow-iap-ssh",
    ]);
  });

  test("Network fails on a flow sampling of 0, which would record nothing", () => {
    expect(
      () =>
        new Network("guards", {
          project: "guincho-lacerda-dev",
          region: "southamerica-east1",
          subnetCidr: "10.10.0.0/24",
          flowLogSampling: 0,
        }),
    ).toThrow(
      "flowLogSampling: received 0; expected a share above 0 and at most 1 (0 would record no " +
        "flow logs; 0.5 keeps half the flows)",
    );
  });
});
