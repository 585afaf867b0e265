/**
 * The per-stage policy configuration. Each `config/<stage>.json` has the shape of the Pulumi
 * CLI's `--policy-pack-config` file (policy name to `{ enforcementLevel?, ...properties }`), so
 * the same file serves `pulumi preview --policy-pack-config` and the offline evaluation.
 */
import dev from "./config/dev.json";
import prod from "./config/prod.json";
import staging from "./config/staging.json";

/** The stages the pack knows; prod is the strictest. */
export type PolicyStage = "dev" | "staging" | "prod";

export const POLICY_STAGES: readonly PolicyStage[] = ["dev", "staging", "prod"];

type PackConfig = Record<string, string | Record<string, unknown>>;

const CONFIGS: Record<PolicyStage, PackConfig> = { dev, staging, prod };

/** True when `value` names one of the stages. */
export function isPolicyStage(value: string): value is PolicyStage {
  return (POLICY_STAGES as readonly string[]).includes(value);
}

/**
 * The stage file's entry for one policy, as an object; the CLI also accepts a bare
 * enforcement level string, which becomes `{ enforcementLevel }`.
 */
export function policyConfigFor(stage: PolicyStage, policy: string): Record<string, unknown> {
  const entry = CONFIGS[stage][policy];
  if (entry === undefined) {
    return {};
  }
  return typeof entry === "string" ? { enforcementLevel: entry } : { ...entry };
}

/** The whole stage file, for tests that check it against the pack's schemas. */
export function packConfigFor(stage: PolicyStage): PackConfig {
  return CONFIGS[stage];
}
