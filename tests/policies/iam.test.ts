import { findingsFor, messages } from "./helpers";

const PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember";
const PROJECT_BINDING = "gcp:projects/iAMBinding:IAMBinding";
const PROJECT_POLICY = "gcp:projects/iAMPolicy:IAMPolicy";
const BUCKET_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember";
const SA_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember";
const SECRET_MEMBER = "gcp:secretmanager/secretIamMember:SecretIamMember";
const APP_SA = "serviceAccount:app@guincho-lacerda-prod.iam.gserviceaccount.com";

describe("grants the system makes", () => {
  test.each([
    [PROJECT_MEMBER, { role: "roles/logging.logWriter", member: APP_SA }],
    [
      PROJECT_MEMBER,
      { role: "roles/iap.tunnelResourceAccessor", member: "group:infra@guincholacerda.com.br" },
    ],
    [BUCKET_MEMBER, { bucket: "b", role: "roles/storage.objectCreator", member: APP_SA }],
    [
      SA_MEMBER,
      {
        serviceAccountId: "app",
        role: "roles/iam.serviceAccountUser",
        member: "user:rafael.lacerda@guincholacerda.com.br",
      },
    ],
    [SECRET_MEMBER, { secretId: "s", role: "roles/secretmanager.secretAccessor", member: APP_SA }],
  ])("raise no finding: %s %j", (type, props) => {
    expect(findingsFor(type, props)).toEqual([]);
  });
});

describe("iam-no-basic-roles", () => {
  const fix =
    "Grant the predefined roles the work needs instead (for example roles/compute.viewer).";
  test.each([
    [PROJECT_MEMBER, { role: "roles/editor", member: APP_SA }, "roles/editor", [APP_SA]],
    [
      PROJECT_BINDING,
      { role: "roles/owner", members: ["group:a@x.com"] },
      "roles/owner",
      ["group:a@x.com"],
    ],
    [
      PROJECT_POLICY,
      {
        policyData: JSON.stringify({
          bindings: [{ role: "roles/viewer", members: ["group:a@x.com"] }],
        }),
      },
      "roles/viewer",
      ["group:a@x.com"],
    ],
  ])("blocks %s granting a basic role", (type, props, role, members) => {
    expect(messages("iam-no-basic-roles", type, props, { name: "grant" })).toEqual([
      `${type.split(":").pop()} "grant" grants the basic role "${role}" to ${JSON.stringify(members)}. ${fix}`,
    ]);
  });
});

describe("iam-no-project-service-account-user", () => {
  const policy = "iam-no-project-service-account-user";
  test.each([["roles/iam.serviceAccountUser"], ["roles/iam.serviceAccountTokenCreator"]])(
    "blocks %s on the whole project and accepts it on one service account",
    (role) => {
      const member = "group:infra@guincholacerda.com.br";
      expect(messages(policy, PROJECT_MEMBER, { role, member }, { name: "grant" })).toEqual([
        `IAMMember "grant" grants "${role}" on the whole project to ["${member}"], which lets them act as every service account. Grant it on the one service account instead (gcp.serviceaccount.IAMMember).`,
      ]);
      expect(messages(policy, SA_MEMBER, { role, member, serviceAccountId: "app" })).toEqual([]);
    },
  );
});

describe("iam-no-public-members", () => {
  test.each([
    [
      BUCKET_MEMBER,
      { bucket: "b", role: "roles/storage.objectViewer", member: "allUsers" },
      "allUsers",
    ],
    [
      SECRET_MEMBER,
      {
        secretId: "s",
        role: "roles/secretmanager.secretAccessor",
        member: "allAuthenticatedUsers",
      },
      "allAuthenticatedUsers",
    ],
    [
      "gcp:storage/bucketIAMBinding:BucketIAMBinding",
      { bucket: "b", role: "roles/storage.objectViewer", members: [APP_SA, "allUsers"] },
      "allUsers",
    ],
  ])("blocks %s granting to anyone", (type, props, who) => {
    const kind = type.split(":").pop();
    expect(messages("iam-no-public-members", type, props, { name: "grant" })).toEqual([
      `${kind} "grant" grants "${props.role}" to ["${who}"], that is to anyone. Grant it to named users, groups or service accounts.`,
    ]);
  });
});

describe("iam-no-personal-accounts", () => {
  const props = { role: "roles/compute.viewer", member: "user:fulano@gmail.com" };
  const message =
    'IAMMember "grant" grants "roles/compute.viewer" to personal account(s) ["user:fulano@gmail.com"]. Use accounts of the company\'s Google Workspace or Cloud Identity domain, or a group.';
  test.each([
    ["dev", "advisory"],
    ["staging", "advisory"],
    ["prod", "mandatory"],
  ] as const)("in %s reports a gmail.com account as %s", (stage, level) => {
    expect(findingsFor(PROJECT_MEMBER, props, { stage, name: "grant" })).toEqual([
      {
        policy: "iam-no-personal-accounts",
        enforcementLevel: level,
        resource: { type: PROJECT_MEMBER, name: "grant" },
        message,
      },
    ]);
  });
});

describe("iam-no-service-account-keys", () => {
  test.each([
    ["gcp:serviceaccount/key:Key", 'Key "key"'],
    ["gcp:storage/hmacKey:HmacKey", 'HmacKey "key"'],
  ])("blocks %s", (type, shown) => {
    expect(
      messages("iam-no-service-account-keys", type, { serviceAccountId: "app" }, { name: "key" }),
    ).toEqual([
      `${shown} creates a long-lived key that can leak and never expires by itself. Remove it: attach the service account to the VM, and use Workload Identity Federation for CI.`,
    ]);
  });
});

describe("iam-wif-provider-condition", () => {
  const type = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider";
  const github = { oidc: { issuerUri: "https://token.actions.githubusercontent.com" } };
  test.each([
    ["not set", undefined, "not set"],
    ["empty", " ", '" "'],
  ])("blocks a provider whose attributeCondition is %s", (_case, attributeCondition, shown) => {
    const props = { ...github, attributeCondition };
    expect(messages("iam-wif-provider-condition", type, props, { name: "github" })).toEqual([
      `WorkloadIdentityPoolProvider "github" lets any token of its issuer in: attributeCondition is ${shown}. Set attributeCondition, for GitHub for example 'assertion.repository == "<owner>/<repo>"'.`,
    ]);
  });

  test("accepts a provider limited to one repository", () => {
    const attributeCondition = 'assertion.repository == "guincho-lacerda/infra"';
    expect(findingsFor(type, { ...github, attributeCondition })).toEqual([]);
  });
});
