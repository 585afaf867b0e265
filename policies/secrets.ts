/**
 * Secrets in VM metadata: anyone who can read the instance (compute.instances.get) reads
 * its metadata and startup script, so neither may carry a private key or a password. A value
 * that only refers to a secret ($VAR, ${VAR}, $(command), a Secret Manager path) is fine.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { onVms } from "./compute";
import { describe, ENCRYPTED_SECRET_TEXT, objectOf } from "./util";

/** What a leaked secret looks like in a script or a metadata value. */
const SECRET_PATTERNS: { what: string; pattern: RegExp }[] = [
  { what: "a private key", pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/ },
  { what: "a service account key file", pattern: /"private_key"\s*:\s*"/ },
  { what: "an AWS access key", pattern: /\bAKIA[0-9A-Z]{16}\b/ },
  {
    what: "a password or API key assignment",
    pattern:
      /(?<![A-Za-z0-9])(?:password|passwd|passphrase|api[_-]?key|client[_-]?secret|secret[_-]?key|access[_-]?token|auth[_-]?token)["']?\s*[:=]\s*["']?(?![$`{(<])[^\s"'`;&|]{6,}/i,
  },
];

/** Metadata keys whose value is a secret by its very name. */
const SECRET_KEY_NAME =
  /(password|passwd|passphrase|private[-_]?key|api[-_]?key|client[-_]?secret|access[-_]?token|auth[-_]?token)/i;

/** A value that points at a secret instead of holding it. */
function isReference(value: string): boolean {
  return /^\s*(\$|projects\/[^/]+\/secrets\/|sm:\/\/|gs:\/\/)/.test(value);
}

/** What secret the text holds, if any. */
export function secretIn(text: string): string | undefined {
  return SECRET_PATTERNS.find(({ pattern }) => pattern.test(text))?.what;
}

export const noSecretsInMetadata: ResourceValidationPolicy = {
  name: "metadata-no-secrets",
  description:
    "VM metadata and startup scripts must not hold private keys or passwords; read them from Secret Manager.",
  enforcementLevel: "mandatory",
  validateResource: onVms((props, args, report) => {
    const texts: [string, unknown][] = Object.entries(objectOf(props.metadata)).map(([k, v]) => [
      `metadata "${k}"`,
      v,
    ]);
    texts.push(["metadataStartupScript", props.metadataStartupScript]);
    for (const [where, value] of texts) {
      if (typeof value !== "string" || value === "") {
        continue;
      }
      const key = where.startsWith("metadata ") ? where.slice(10, -1) : "";
      const what =
        secretIn(value) ??
        (SECRET_KEY_NAME.test(key) && (value === ENCRYPTED_SECRET_TEXT || !isReference(value))
          ? "a secret (by its key name)"
          : undefined);
      if (what !== undefined) {
        report(
          `${describe(args)} puts ${what} in ${where}, readable by anyone who can view the ` +
            "VM. Store it in Secret Manager and read it at boot with the VM's service account.",
        );
      }
    }
  }),
};

/** The secrets rules, in the order the docs list them. */
export const secretsPolicies: ResourceValidationPolicy[] = [noSecretsInMetadata];
