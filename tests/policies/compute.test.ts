import { evaluatePolicies } from "../../policies/evaluate";
import {
  BUCKET,
  compliantBackupBucket,
  compliantVm,
  INSTANCE,
  messages,
  REGION_TEMPLATE,
  TEMPLATE,
} from "./helpers";

const DEFAULT_SA = "123456789-compute@developer.gserviceaccount.com";

describe("a compliant VM", () => {
  test.each([INSTANCE, TEMPLATE, REGION_TEMPLATE])(
    "has no finding at all in prod as %s",
    (type) => {
      const props = compliantVm();
      if (type !== INSTANCE) {
        delete props.deletionProtection;
      }
      const backups = {
        type: BUCKET,
        name: "backups",
        props: compliantBackupBucket(),
        protect: true,
      };
      const vm = { type, name: "app", props, protect: true };
      expect(evaluatePolicies([vm, backups], "prod")).toEqual([]);
    },
  );
});

describe("compute-no-default-service-account", () => {
  const policy = "compute-no-default-service-account";
  const fix =
    "Set serviceAccount.email to a dedicated service account that holds only the roles the app needs.";
  test.each([
    ["the default account's email", { email: DEFAULT_SA, scopes: [] }, `"${DEFAULT_SA}"`],
    ['the word "default"', { email: "default", scopes: [] }, '"default"'],
    [
      "a serviceAccount block without email (the provider attaches the default)",
      { scopes: ["cloud-platform"] },
      "no email (the provider attaches the default account)",
    ],
  ])("blocks %s", (_case, serviceAccount, shown) => {
    expect(messages(policy, INSTANCE, { ...compliantVm(), serviceAccount })).toEqual([
      `Instance "app" uses the default Compute Engine service account: serviceAccount.email is ${shown}. ${fix}`,
    ]);
  });

  test("accepts a VM with no service account at all", () => {
    const props = compliantVm();
    delete props.serviceAccount;
    expect(messages(policy, INSTANCE, props)).toEqual([]);
  });

  test("checks instance templates too", () => {
    const props = { ...compliantVm(), serviceAccount: { email: DEFAULT_SA, scopes: [] } };
    expect(messages(policy, TEMPLATE, props, { name: "tpl" })).toEqual([
      `InstanceTemplate "tpl" uses the default Compute Engine service account: serviceAccount.email is "${DEFAULT_SA}". ${fix}`,
    ]);
  });
});

describe("compute-no-full-api-access", () => {
  const policy = "compute-no-full-api-access";
  test.each([["cloud-platform"], ["https://www.googleapis.com/auth/cloud-platform"]])(
    "blocks the default account with scope %s",
    (scope) => {
      const props = { ...compliantVm(), serviceAccount: { email: DEFAULT_SA, scopes: [scope] } };
      expect(messages(policy, INSTANCE, props)).toEqual([
        `Instance "app" gives the default service account full access to all Cloud APIs (scope "${scope}"). Use a dedicated service account, or list only the scopes the VM needs.`,
      ]);
    },
  );

  test("accepts cloud-platform on a dedicated account (Google's recommended setup)", () => {
    expect(messages(policy, INSTANCE, compliantVm())).toEqual([]);
  });
});

describe("compute-os-login", () => {
  const policy = "compute-os-login";
  test.each([["TRUE"], ["True"], ["true"], ["1"], ["t"]])(
    'accepts enable-oslogin written as "%s"',
    (value) => {
      const props = { ...compliantVm(), metadata: { "enable-oslogin": value } };
      expect(messages(policy, INSTANCE, props)).toEqual([]);
    },
  );

  test.each([
    ["not set", {}, "not set"],
    ["FALSE", { "enable-oslogin": "FALSE" }, '"FALSE"'],
    ["a word the guest agent does not read as true", { "enable-oslogin": "yes" }, '"yes"'],
  ])("blocks enable-oslogin %s", (_case, metadata, shown) => {
    const props = { ...compliantVm(), metadata: { ...metadata, "block-project-ssh-keys": "TRUE" } };
    expect(messages(policy, INSTANCE, props)).toEqual([
      `Instance "app" does not enable OS Login: metadata "enable-oslogin" is ${shown}. Set metadata "enable-oslogin" to "TRUE".`,
    ]);
  });
});

describe("compute-block-project-ssh-keys", () => {
  const policy = "compute-block-project-ssh-keys";
  test.each([
    ["blocked", { "block-project-ssh-keys": "True" }],
    ["not blocked but OS Login on (OS Login ignores metadata keys)", { "enable-oslogin": "1" }],
  ])("accepts a VM with project keys %s", (_case, metadata) => {
    expect(messages(policy, INSTANCE, { ...compliantVm(), metadata })).toEqual([]);
  });

  test.each([
    ["not set", {}, "not set"],
    ['"false"', { "block-project-ssh-keys": "false" }, '"false"'],
  ])("blocks a VM with project keys %s and OS Login off", (_case, metadata, shown) => {
    expect(messages(policy, INSTANCE, { ...compliantVm(), metadata })).toEqual([
      `Instance "app" accepts project-wide SSH keys: metadata "block-project-ssh-keys" is ${shown} and OS Login is off. Set metadata "block-project-ssh-keys" to "TRUE" (or "enable-oslogin" to "TRUE").`,
    ]);
  });
});

describe("compute-no-serial-port", () => {
  const policy = "compute-no-serial-port";
  test.each([["TRUE"], ["True"], ["true"], ["1"]])('blocks serial-port-enable "%s"', (value) => {
    const metadata = { ...(compliantVm().metadata as object), "serial-port-enable": value };
    expect(messages(policy, INSTANCE, { ...compliantVm(), metadata })).toEqual([
      `Instance "app" enables the interactive serial console: metadata "serial-port-enable" is "${value}". Remove it or set it to "FALSE"; use IAP SSH.`,
    ]);
  });

  test.each([["FALSE"], ["0"], [undefined]])("accepts serial-port-enable %s", (value) => {
    const metadata = { ...(compliantVm().metadata as object), "serial-port-enable": value };
    expect(messages(policy, INSTANCE, { ...compliantVm(), metadata })).toEqual([]);
  });
});

describe("compute-no-ip-forwarding", () => {
  test("blocks canIpForward true and accepts it unset", () => {
    const policy = "compute-no-ip-forwarding";
    expect(messages(policy, INSTANCE, { ...compliantVm(), canIpForward: true })).toEqual([
      'Instance "app" has canIpForward true. Set canIpForward to false; egress goes through Cloud NAT.',
    ]);
    const props = compliantVm();
    delete props.canIpForward;
    expect(messages(policy, INSTANCE, props)).toEqual([]);
  });
});

describe("compute-shielded-vm", () => {
  const policy = "compute-shielded-vm";
  const fix =
    "Set shieldedInstanceConfig { enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true }.";
  test.each([
    [
      "not set (secure boot is off by default)",
      undefined,
      "enableSecureBoot is not set (default off)",
    ],
    ["secure boot off", { enableSecureBoot: false }, "enableSecureBoot is false (default off)"],
    [
      "vTPM and integrity monitoring off",
      { enableSecureBoot: true, enableVtpm: false, enableIntegrityMonitoring: false },
      "enableVtpm is false, enableIntegrityMonitoring is false",
    ],
  ])("blocks a config with %s", (_case, shieldedInstanceConfig, gaps) => {
    const props = { ...compliantVm(), shieldedInstanceConfig };
    expect(messages(policy, INSTANCE, props)).toEqual([
      `Instance "app" is not a fully Shielded VM: shieldedInstanceConfig.${gaps}. ${fix}`,
    ]);
  });

  test("accepts secure boot on with vTPM and integrity monitoring left at their defaults", () => {
    const props = { ...compliantVm(), shieldedInstanceConfig: { enableSecureBoot: true } };
    expect(messages(policy, INSTANCE, props)).toEqual([]);
  });
});

describe("compute-no-public-ip", () => {
  const policy = "compute-no-public-ip";
  const fix =
    "reach the VM through the load balancer and SSH through IAP, with Cloud NAT for egress.";
  test.each([
    ["an ephemeral IPv4 address", "accessConfigs", [{}], "[{}]"],
    [
      "an external IPv6 address",
      "ipv6AccessConfigs",
      [{ networkTier: "PREMIUM" }],
      '[{"networkTier":"PREMIUM"}]',
    ],
  ])("blocks %s", (_case, key, value, shown) => {
    const props = { ...compliantVm(), networkInterfaces: [{ subnetwork: "s", [key]: value }] };
    expect(messages(policy, INSTANCE, props)).toEqual([
      `Instance "app" has an external IP: networkInterfaces[0].${key} is ${shown}. Remove ${key}; ${fix}`,
    ]);
  });

  test("accepts an empty accessConfigs list", () => {
    const props = { ...compliantVm(), networkInterfaces: [{ accessConfigs: [] }] };
    expect(messages(policy, INSTANCE, props)).toEqual([]);
  });
});

describe("compute-allowed-machine-types", () => {
  const policy = "compute-allowed-machine-types";
  test.each([
    ["dev", "e2-micro"],
    ["dev", "e2-medium"],
    ["staging", "e2-standard-4"],
    ["prod", "zones/southamerica-east1-a/machineTypes/e2-standard-2"],
  ] as const)("accepts in %s the machine type %s", (stage, machineType) => {
    expect(messages(policy, INSTANCE, { ...compliantVm(), machineType }, { stage })).toEqual([]);
  });

  test.each([
    ["dev", "e2-standard-2", "e2-micro, e2-small, e2-medium"],
    ["staging", "e2-micro", "e2-small, e2-medium, e2-standard-2, e2-standard-4"],
    ["prod", "n2-highmem-8", "e2-small, e2-medium, e2-standard-2, e2-standard-4"],
  ] as const)("blocks in %s the machine type %s", (stage, machineType, allowed) => {
    expect(messages(policy, INSTANCE, { ...compliantVm(), machineType }, { stage })).toEqual([
      `Instance "app" uses machine type "${machineType}", which this stage does not allow. Use one of: ${allowed}.`,
    ]);
  });
});

const SECRETS_POLICY = "metadata-no-secrets";
const FIX =
  "readable by anyone who can view the VM. Store it in Secret Manager and read it at boot with the VM's service account.";

function withMetadata(extra: Record<string, unknown>): Record<string, unknown> {
  const vm = compliantVm();
  return { ...vm, metadata: { ...(vm.metadata as object), ...extra } };
}

describe("metadata-no-secrets", () => {
  test.each([
    [
      "a PEM private key in a metadata value",
      withMetadata({
        "tls-key": "-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----",
      }),
      'a private key in metadata "tls-key"',
    ],
    [
      "a service account key file in the startup script",
      {
        ...compliantVm(),
        metadataStartupScript:
          'cat > /etc/key.json <<EOF\n{"type": "service_account", "private_key": "-----BEGIN"}\nEOF',
      },
      "a service account key file in metadataStartupScript",
    ],
    [
      "a literal database password in the startup-script metadata key",
      withMetadata({ "startup-script": "#!/bin/bash\nexport DB_PASSWORD=s3nh4-forte\n" }),
      'a password or API key assignment in metadata "startup-script"',
    ],
    [
      "an API key in YAML form",
      {
        ...compliantVm(),
        metadataStartupScript: "sheets:\n  api_key: 'AIzaSyA-1234567890abcdef'\n",
      },
      "a password or API key assignment in metadataStartupScript",
    ],
    [
      "an AWS access key",
      withMetadata({
        "startup-script": "aws configure set aws_access_key_id AKIAABCDEFGHIJKLMNOP",
      }),
      'an AWS access key in metadata "startup-script"',
    ],
    [
      "a value under a key named like a password",
      withMetadata({ "db-password": "hunter2" }),
      'a secret (by its key name) in metadata "db-password"',
    ],
    [
      "an encrypted Pulumi secret under a key named like a password",
      withMetadata({ "db-password": "[secret]" }),
      'a secret (by its key name) in metadata "db-password"',
    ],
  ])("blocks %s", (_case, props, what) => {
    expect(messages(SECRETS_POLICY, INSTANCE, props, { name: "vm" })).toEqual([
      `Instance "vm" puts ${what}, ${FIX}`,
    ]);
  });

  test.each([
    ["a password read from the environment", "export DB_PASSWORD=$DB_PASSWORD_FROM_ENV\n"],
    ["a password read with ${}", 'password="${PASSWORD}"\n'],
    [
      "a secret fetched from Secret Manager",
      "TOKEN=$(gcloud secrets versions access latest --secret=sheets-token)\napi_key=$(cat /run/key)\n",
    ],
    ["a password file path", "PASSWORD_FILE=/run/secrets/db\n"],
    [
      "a public SSH key",
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops",
    ],
  ])("accepts %s", (_case, script) => {
    expect(
      messages(SECRETS_POLICY, INSTANCE, { ...compliantVm(), metadataStartupScript: script }),
    ).toEqual([]);
  });

  test("accepts a key named like a secret that only points to Secret Manager", () => {
    const props = withMetadata({ "sheets-api-key": "projects/guincho/secrets/sheets-api-key" });
    expect(messages(SECRETS_POLICY, INSTANCE, props)).toEqual([]);
  });
});
