/**
 * Who may do what in the stage's project: the APIs it uses, the app's service account and
 * its secret key, the administrators' access, the Sheets quotas, and the CI identity
 * (Workload Identity Federation for GitHub Actions). No basic roles, no service account keys.
 */
import * as gcp from "./gcp";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

/**
 * The APIs the stage uses. NOTE: they are never disabled on destroy: disabling an API
 * deletes or breaks what other stacks or people built on it in the same project.
 */
export const REQUIRED_SERVICES: readonly string[] = [
  "cloudresourcemanager.googleapis.com",
  "serviceusage.googleapis.com",
  "iam.googleapis.com",
  "iamcredentials.googleapis.com",
  "sts.googleapis.com",
  "compute.googleapis.com",
  "oslogin.googleapis.com",
  "iap.googleapis.com",
  "dns.googleapis.com",
  "certificatemanager.googleapis.com",
  "storage.googleapis.com",
  "secretmanager.googleapis.com",
  "logging.googleapis.com",
  "monitoring.googleapis.com",
  "osconfig.googleapis.com",
  "sheets.googleapis.com",
  "drive.googleapis.com",
];

/** Project roles of the app's account: write its logs and metrics, nothing else. */
export const APP_PROJECT_ROLES: readonly string[] = [
  "roles/logging.logWriter",
  "roles/monitoring.metricWriter",
];

/** Project roles of an administrator: open IAP tunnels, log in to the VM with sudo. */
export const ADMIN_PROJECT_ROLES: readonly string[] = [
  "roles/iap.tunnelResourceAccessor",
  "roles/compute.osAdminLogin",
];

/**
 * The deployer's project roles (the account CI impersonates to run `pulumi up`), each with
 * why it is needed. Narrower alternatives were preferred wherever one covers the resources
 * of this stack; `roles/resourcemanager.projectIamAdmin` is further limited by a condition
 * (see {@link grantableRolesCondition}).
 */
export const DEPLOYER_PROJECT_ROLES: Readonly<Record<string, string>> = {
  "roles/serviceusage.serviceUsageAdmin":
    "enable the stage's APIs and set the Sheets consumer quota overrides",
  "roles/iam.serviceAccountAdmin":
    "create the app and deployer service accounts and set IAM on them (admins' actAs, WIF)",
  "roles/iam.workloadIdentityPoolAdmin": "manage the GitHub Workload Identity pool and provider",
  "roles/resourcemanager.projectIamAdmin":
    "grant the project roles this stack declares, and only those (conditional binding)",
  "roles/secretmanager.admin":
    "create the app's secret, add its versions, read them back on refresh, set its IAM",
  "roles/compute.instanceAdmin.v1": "the VM, its disks, snapshot schedules and the instance group",
  "roles/compute.networkAdmin":
    "VPC, subnet, router, NAT, addresses and the load balancer's backend, URL map, proxies",
  "roles/compute.securityAdmin":
    "firewall rules, SSL policy and Cloud Armor policy (networkAdmin excludes them)",
  "roles/storage.admin":
    "the backup and artifacts buckets, their IAM and the host tools bundle objects",
  "roles/dns.admin": "the stage's DNS zone, DNSSEC and records",
  "roles/certificatemanager.owner":
    "the Google-managed certificate, its DNS authorization and certificate map",
  "roles/monitoring.editor": "uptime checks, alert policies, notification channels, dashboard",
  "roles/logging.configWriter": "log-based metrics",
  "roles/osconfig.patchDeploymentAdmin": "OS patch deployments in the maintenance window",
  "roles/iap.tunnelResourceAccessor":
    "open the IAP tunnel the release step and the pre-deploy backup use to reach the VM",
  "roles/compute.osAdminLogin":
    "log in to the VM through OS Login with sudo, to run the host deploy and backup tools",
};

/**
 * The previewer's project roles: what `pulumi preview` needs beyond the state and its key
 * (granted outside the stack, docs/getting-started.md). A preview compares the program with
 * the state and reads only what the program's data sources look up: the DNS zone's keys.
 */
export const PREVIEWER_PROJECT_ROLES: Readonly<Record<string, string>> = {
  "roles/dns.reader": "the zone's DNSSEC keys and an existing zone, which the program looks up",
};

/** The basic roles: far too broad, never granted by this project. */
export const BASIC_ROLES: readonly string[] = ["roles/owner", "roles/editor", "roles/viewer"];

/** GitHub's OIDC token issuer. */
export const GITHUB_ISSUER = "https://token.actions.githubusercontent.com";

/** The Sheets API's quota metrics and the per-project, per-minute limit (URL-encoded). */
export const SHEETS_SERVICE = "sheets.googleapis.com";
export const SHEETS_READ_METRIC = "sheets.googleapis.com/read_requests";
export const SHEETS_WRITE_METRIC = "sheets.googleapis.com/write_requests";
/** The unit `1/min/{project}`, as the quota API names the limit. */
export const SHEETS_PER_PROJECT_LIMIT = "/min/project";

/** Shortest app secret key accepted (characters of [A-Za-z0-9]: about 286 bits). */
export const MIN_SECRET_KEY_LENGTH = 48;

export interface GithubIdentity {
  /** "owner/name" of the repository whose workflows may deploy. */
  repository: string;
  /** The GitHub environment the deploy job must run in, when set. */
  environment?: string;
}

export interface SheetsQuotas {
  readRequestsPerMinute: number;
  writeRequestsPerMinute: number;
}

export interface IdentityArgs {
  /** Google Cloud project id of the stage. */
  project: string;
  /** Region the app's secret is replicated in. */
  region: string;
  /** Members who administer the VM: "user:a@b", "group:a@b", or a bare e-mail (a user). */
  admins: string[];
  /** The repository (and environment) whose workflows may deploy the stage. */
  github: GithubIdentity;
  /** Caps on Sheets API requests per minute for the whole project. */
  sheets: SheetsQuotas;
  /** Labels of labelable children (the app secret). */
  labels: Record<string, string>;
  /** Pulumi `protect` and deletion protection on the app's secret key (prod). */
  protect: boolean;
  /**
   * Account id of the app's service account (6-30 characters).
   * @default "guincho-app"
   */
  appAccountId?: string;
  /**
   * Account id of the CI deployer's service account (6-30 characters).
   * @default "guincho-deployer"
   */
  deployerAccountId?: string;
  /**
   * APIs to enable.
   * @default REQUIRED_SERVICES
   */
  services?: readonly string[];
  /**
   * Length of the generated app secret key, at least 48.
   * @default 64
   */
  secretKeyLength?: number;
  /**
   * Project roles other parts of the stack grant, which the deployer must be able to grant
   * too (added to the app's and administrators' roles).
   * @default []
   */
  extraGrantableRoles?: string[];
}

/** An administrator entry as an IAM member: a bare e-mail is a user. */
export function adminMember(entry: string): string {
  return /^(user|group):/.test(entry) ? entry : `user:${entry}`;
}

/** The short name of an API, for resource names: "compute" of "compute.googleapis.com". */
export function serviceShortName(service: string): string {
  return service.split(".")[0];
}

/**
 * The provider's CEL condition: only tokens of this repository (and of its environment, when
 * one is set) are exchanged. Without a condition any GitHub repository could authenticate.
 */
export function githubAttributeCondition(github: GithubIdentity): string {
  const clauses = [`assertion.repository == "${github.repository}"`];
  if (github.environment) {
    clauses.push(`assertion.environment == "${github.environment}"`);
  }
  return clauses.join(" && ");
}

/** Claims of GitHub's token kept as attributes: for bindings, conditions and audit logs. */
export function githubAttributeMapping(github: GithubIdentity): Record<string, string> {
  const mapping: Record<string, string> = {
    "google.subject": "assertion.sub",
    "attribute.repository": "assertion.repository",
    "attribute.repository_owner": "assertion.repository_owner",
    "attribute.ref": "assertion.ref",
    "attribute.actor": "assertion.actor",
  };
  if (github.environment) {
    // NOTE: mapped only when required: jobs without an environment carry no such claim.
    mapping["attribute.environment"] = "assertion.environment";
  }
  return mapping;
}

/** Every identity of the pool that comes from `repository`, as an IAM member. */
export function githubPrincipalSet(poolName: string, repository: string): string {
  return `principalSet://iam.googleapis.com/${poolName}/attribute.repository/${repository}`;
}

/**
 * The condition on the deployer's Project IAM Admin role: it may grant and revoke only the
 * listed roles, so a compromised pipeline cannot make itself (or anyone) owner.
 */
export function grantableRolesCondition(roles: readonly string[]): string {
  const list = [...new Set(roles)]
    .sort()
    .map((role) => `'${role}'`)
    .join(", ");
  return `api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly([${list}])`;
}

/** One Sheets consumer quota override. */
export interface QuotaOverrideSpec {
  key: "read" | "write";
  /** URL-encoded, as the provider sends it in the request path. */
  metric: string;
  /** URL-encoded, as the provider sends it in the request path. */
  limit: string;
  overrideValue: string;
}

/** The Sheets read and write caps, per minute for the whole project. */
export function sheetsQuotaOverrides(sheets: SheetsQuotas): QuotaOverrideSpec[] {
  const spec = (key: "read" | "write", metric: string, value: number): QuotaOverrideSpec => ({
    key,
    metric: encodeURIComponent(metric),
    limit: encodeURIComponent(SHEETS_PER_PROJECT_LIMIT),
    overrideValue: String(value),
  });
  return [
    spec("read", SHEETS_READ_METRIC, sheets.readRequestsPerMinute),
    spec("write", SHEETS_WRITE_METRIC, sheets.writeRequestsPerMinute),
  ];
}

const ACCOUNT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;

/** APIs, service accounts, IAM, the app's secret key, Sheets quotas, the CI identity. */
export class Identity extends pulumi.ComponentResource {
  /** The app's service account: the VM runs as it; share the spreadsheet with it. */
  readonly appServiceAccountEmail: pulumi.Output<string>;
  /** `projects/<project>/serviceAccounts/<email>` of the app's account. */
  readonly appServiceAccountName: pulumi.Output<string>;
  readonly deployerServiceAccountEmail: pulumi.Output<string>;
  /** Secret Manager id of the app's secret key (`gcloud secrets versions access`). */
  readonly appSecretId: pulumi.Output<string>;
  /** The enabled APIs: other components depend on them. */
  readonly services: gcp.projects.Service[];
  /** Full name of the GitHub provider: the `workload_identity_provider` of CI's auth step. */
  readonly workloadIdentityProvider: pulumi.Output<string>;
  /** The read-only account pull requests preview this stage with. */
  readonly previewerServiceAccountEmail: pulumi.Output<string>;
  /** Full name of the previewer's GitHub provider, in a pool of its own. */
  readonly previewWorkloadIdentityProvider: pulumi.Output<string>;

  constructor(name: string, args: IdentityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("guincho:identity:Identity", name, {}, opts);
    const appAccountId = args.appAccountId ?? "guincho-app";
    const deployerAccountId = args.deployerAccountId ?? "guincho-deployer";
    const secretKeyLength = args.secretKeyLength ?? 64;
    this.check(appAccountId, deployerAccountId, secretKeyLength, args.admins);
    const project = args.project;

    this.services = (args.services ?? REQUIRED_SERVICES).map(
      (service) =>
        new gcp.projects.Service(
          `${name}-api-${serviceShortName(service)}`,
          { project, service, disableOnDestroy: false, disableDependentServices: false },
          { parent: this },
        ),
    );
    const after = { parent: this, dependsOn: this.services };

    const app = new gcp.serviceaccount.Account(
      `${name}-app-sa`,
      {
        project,
        accountId: appAccountId,
        displayName: "Guincho Lacerda app",
        description: "The app VM runs as this account. Share the spreadsheet with its e-mail.",
      },
      after,
    );
    const appMember = pulumi.interpolate`serviceAccount:${app.email}`;
    for (const role of APP_PROJECT_ROLES) {
      new gcp.projects.IAMMember(
        `${name}-app-${role.split("/")[1]}`,
        { project, role, member: appMember },
        after,
      );
    }

    this.appSecretId = this.appSecret(name, args, appMember, secretKeyLength, after);

    args.admins.map(adminMember).forEach((member, i) => {
      for (const role of ADMIN_PROJECT_ROLES) {
        new gcp.projects.IAMMember(
          `${name}-admin-${i}-${role.split("/")[1]}`,
          { project, role, member },
          after,
        );
      }
      // OS Login to a VM that runs as a service account needs actAs on that account only.
      new gcp.serviceaccount.IAMMember(
        `${name}-admin-${i}-act-as-app`,
        { serviceAccountId: app.name, role: "roles/iam.serviceAccountUser", member },
        after,
      );
    });

    sheetsQuotaOverrides(args.sheets).forEach((quota) => {
      new gcp.serviceusage.ConsumerQuotaOverride(
        `${name}-sheets-${quota.key}-quota`,
        {
          project,
          service: SHEETS_SERVICE,
          metric: quota.metric,
          limit: quota.limit,
          overrideValue: quota.overrideValue,
          // NOTE: lowering a limit by more than 10% fails Google's safety check unless forced;
          // a cap below Google's default is the point of this override.
          force: true,
        },
        after,
      );
    });

    const deployer = this.deployer(name, args, app, after);
    this.deployerServiceAccountEmail = deployer.email;
    this.workloadIdentityProvider = deployer.provider;
    const previewer = this.previewer(name, args, after);
    this.previewerServiceAccountEmail = previewer.email;
    this.previewWorkloadIdentityProvider = previewer.provider;
    this.appServiceAccountEmail = app.email;
    this.appServiceAccountName = app.name;
    this.registerOutputs({
      appServiceAccountEmail: this.appServiceAccountEmail,
      appServiceAccountName: this.appServiceAccountName,
      deployerServiceAccountEmail: this.deployerServiceAccountEmail,
      appSecretId: this.appSecretId,
      workloadIdentityProvider: this.workloadIdentityProvider,
      previewerServiceAccountEmail: this.previewerServiceAccountEmail,
      previewWorkloadIdentityProvider: this.previewWorkloadIdentityProvider,
    });
  }

  private check(appId: string, deployerId: string, keyLength: number, admins: string[]): void {
    for (const [arg, id] of [
      ["appAccountId", appId],
      ["deployerAccountId", deployerId],
    ]) {
      if (!ACCOUNT_ID.test(id)) {
        throw new pulumi.ResourceError(
          `${arg}: received "${id}"; expected a service account id of 6-30 lower-case ` +
            "letters, digits or hyphens, starting with a letter and not ending with a hyphen",
          this,
        );
      }
    }
    if (appId === deployerId) {
      throw new pulumi.ResourceError(
        `deployerAccountId: received "${deployerId}", the same as appAccountId; the app and ` +
          "the deployer need separate accounts",
        this,
      );
    }
    if (!Number.isInteger(keyLength) || keyLength < MIN_SECRET_KEY_LENGTH) {
      throw new pulumi.ResourceError(
        `secretKeyLength: received ${keyLength}; expected a whole number of at least ` +
          `${MIN_SECRET_KEY_LENGTH}`,
        this,
      );
    }
    const members = admins.map(adminMember);
    const twice = members.find((member, i) => members.indexOf(member) !== i);
    if (twice) {
      throw new pulumi.ResourceError(
        `admins: "${twice}" is listed twice; list each administrator once`,
        this,
      );
    }
  }

  /** The app's secret key: random, in Secret Manager, readable by the app's account only. */
  private appSecret(
    name: string,
    args: IdentityArgs,
    appMember: pulumi.Output<string>,
    length: number,
    after: pulumi.CustomResourceOptions,
  ): pulumi.Output<string> {
    const stateful = { ...after, protect: args.protect };
    // NOTE: letters and digits only: nothing to quote in an environment file or a shell.
    const key = new random.RandomPassword(
      `${name}-app-secret-key`,
      { length, special: false },
      { parent: this, protect: args.protect },
    );
    const secret = new gcp.secretmanager.Secret(
      `${name}-app-secret-key`,
      {
        project: args.project,
        secretId: "guincho-app-secret-key",
        labels: { ...args.labels, purpose: "app-secret-key" },
        replication: { userManaged: { replicas: [{ location: args.region }] } },
        deletionProtection: args.protect,
      },
      stateful,
    );
    new gcp.secretmanager.SecretVersion(
      `${name}-app-secret-key`,
      { secret: secret.id, secretData: key.result },
      stateful,
    );
    new gcp.secretmanager.SecretIamMember(
      `${name}-app-reads-secret-key`,
      {
        project: args.project,
        secretId: secret.id,
        role: "roles/secretmanager.secretAccessor",
        member: appMember,
      },
      after,
    );
    return secret.secretId;
  }

  /** The CI deployer's account, its roles, and the GitHub federation that impersonates it. */
  private deployer(
    name: string,
    args: IdentityArgs,
    app: gcp.serviceaccount.Account,
    after: pulumi.CustomResourceOptions,
  ): { email: pulumi.Output<string>; provider: pulumi.Output<string> } {
    const project = args.project;
    const deployer = new gcp.serviceaccount.Account(
      `${name}-deployer-sa`,
      {
        project,
        accountId: args.deployerAccountId ?? "guincho-deployer",
        displayName: "Guincho Lacerda deployer (CI)",
        description: `GitHub Actions of ${args.github.repository} run pulumi up as this account.`,
      },
      after,
    );
    const member = pulumi.interpolate`serviceAccount:${deployer.email}`;
    const grantable = [
      ...APP_PROJECT_ROLES,
      ...ADMIN_PROJECT_ROLES,
      ...Object.keys(PREVIEWER_PROJECT_ROLES),
      ...(args.extraGrantableRoles ?? []),
    ];
    for (const role of Object.keys(DEPLOYER_PROJECT_ROLES)) {
      const limited = role === "roles/resourcemanager.projectIamAdmin";
      new gcp.projects.IAMMember(
        `${name}-deployer-${role.split("/")[1]}`,
        {
          project,
          role,
          member,
          condition: limited
            ? {
                title: "Only the roles this stack grants",
                description: "The deployer may grant and revoke only the stack's own roles.",
                expression: grantableRolesCondition(grantable),
              }
            : undefined,
        },
        after,
      );
    }
    // Creating the VM with the app's account attached needs actAs on that account only.
    new gcp.serviceaccount.IAMMember(
      `${name}-deployer-act-as-app`,
      { serviceAccountId: app.name, role: "roles/iam.serviceAccountUser", member },
      after,
    );

    const provider = this.githubFederation(
      {
        pool: `${name}-github-pool`,
        poolId: `${name}-github`,
        poolDisplayName: "GitHub Actions",
        poolDescription: `Workflows of ${args.github.repository} deploy without keys.`,
        provider: `${name}-github-provider`,
        providerDisplayName: "GitHub OIDC",
        providerDescription: `Tokens of ${args.github.repository} only.`,
        binding: `${name}-github-impersonates-deployer`,
      },
      args.project,
      args.github,
      deployer,
      after,
    );
    return { email: deployer.email, provider };
  }

  /**
   * The read-only identity of pull-request previews. Its own pool, so its tokens can never
   * impersonate the deployer (the deployer's binding admits the deployer pool's principals
   * only); no environment condition, so a branch's workflow can preview even prod without
   * ever holding credentials that change it.
   */
  private previewer(
    name: string,
    args: IdentityArgs,
    after: pulumi.CustomResourceOptions,
  ): { email: pulumi.Output<string>; provider: pulumi.Output<string> } {
    const project = args.project;
    const previewer = new gcp.serviceaccount.Account(
      `${name}-previewer-sa`,
      {
        project,
        accountId: "guincho-previewer",
        displayName: "Guincho Lacerda previewer (pull requests)",
        description: `Pull requests of ${args.github.repository} run pulumi preview as this account.`,
      },
      after,
    );
    const member = pulumi.interpolate`serviceAccount:${previewer.email}`;
    for (const role of Object.keys(PREVIEWER_PROJECT_ROLES)) {
      new gcp.projects.IAMMember(
        `${name}-previewer-${role.split("/")[1]}`,
        { project, role, member },
        after,
      );
    }
    const provider = this.githubFederation(
      {
        pool: `${name}-github-preview-pool`,
        poolId: `${name}-preview`,
        poolDisplayName: "GitHub Actions previews",
        poolDescription: `Pull requests of ${args.github.repository} preview, read-only.`,
        provider: `${name}-github-preview-provider`,
        providerDisplayName: "GitHub OIDC (previews)",
        providerDescription: `Tokens of ${args.github.repository} only, any branch or environment.`,
        binding: `${name}-github-impersonates-previewer`,
      },
      project,
      // No environment: previews run from any branch.
      { repository: args.github.repository },
      previewer,
      after,
    );
    return { email: previewer.email, provider };
  }

  /**
   * A Workload Identity pool and GitHub provider whose principals from `github.repository`
   * may impersonate `account`, and nothing else. Returns the provider's full name.
   */
  private githubFederation(
    names: {
      pool: string;
      poolId: string;
      poolDisplayName: string;
      poolDescription: string;
      provider: string;
      providerDisplayName: string;
      providerDescription: string;
      binding: string;
    },
    project: string,
    github: GithubIdentity,
    account: gcp.serviceaccount.Account,
    after: pulumi.CustomResourceOptions,
  ): pulumi.Output<string> {
    const pool = new gcp.iam.WorkloadIdentityPool(
      names.pool,
      {
        project,
        workloadIdentityPoolId: names.poolId,
        displayName: names.poolDisplayName,
        description: names.poolDescription,
      },
      after,
    );
    const provider = new gcp.iam.WorkloadIdentityPoolProvider(
      names.provider,
      {
        project,
        workloadIdentityPoolId: pool.workloadIdentityPoolId,
        workloadIdentityPoolProviderId: "github",
        displayName: names.providerDisplayName,
        description: names.providerDescription,
        attributeMapping: githubAttributeMapping(github),
        attributeCondition: githubAttributeCondition(github),
        oidc: { issuerUri: GITHUB_ISSUER },
      },
      after,
    );
    new gcp.serviceaccount.IAMMember(
      names.binding,
      {
        serviceAccountId: account.name,
        role: "roles/iam.workloadIdentityUser",
        member: pool.name.apply((pool) => githubPrincipalSet(pool, github.repository)),
      },
      after,
    );
    return provider.name;
  }
}
