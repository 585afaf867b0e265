import { compliantVm, INSTANCE, messages } from "./helpers";

const policy = "metadata-no-secrets";
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
    expect(messages(policy, INSTANCE, props, { name: "vm" })).toEqual([
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
    expect(messages(policy, INSTANCE, { ...compliantVm(), metadataStartupScript: script })).toEqual(
      [],
    );
  });

  test("accepts a key named like a secret that only points to Secret Manager", () => {
    const props = withMetadata({ "sheets-api-key": "projects/guincho/secrets/sheets-api-key" });
    expect(messages(policy, INSTANCE, props)).toEqual([]);
  });
});
