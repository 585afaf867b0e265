/**
 * Evaluates the pack's policy objects outside the Pulumi engine: the offline plan, the offline
 * scan and the tests call this, so the three share the exact rules the CrossGuard pack runs.
 *
 * It builds the same arguments CrossGuard builds (type, props, urn, name, opts, getConfig,
 * isType, asType, notApplicable) and collects what the rules report.
 */
import type {
  EnforcementLevel,
  Policy,
  PolicyResource,
  PolicyResourceOptions,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationPolicy,
} from "@pulumi/policy";
import type { Resource } from "@pulumi/pulumi";
import { policies, PACK_ENFORCEMENT_LEVEL } from "./rules";
import { ENCRYPTED_SECRET_TEXT } from "./util";
import { policyConfigFor, type PolicyStage } from "./stages";

export type { PolicyStage } from "./stages";

/** One resource as the program declares it: Pulumi type token and camelCase input props. */
export interface PlannedResource {
  type: string;
  name: string;
  urn?: string;
  props: Record<string, unknown>;
  protect?: boolean;
  parent?: string;
}

/** One violation reported by a policy, with the enforcement level in force for the stage. */
export interface Finding {
  policy: string;
  enforcementLevel: "advisory" | "mandatory" | "remediate" | "disabled";
  resource: { type: string; name: string };
  message: string;
}

/** The key and value with which the Pulumi SDK marks a secret value. */
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270";

/** What an encrypted secret of a `pulumi stack export` (no plaintext) evaluates as. */
export const ENCRYPTED_SECRET = ENCRYPTED_SECRET_TEXT;

/** The stack's own resource, named in findings a stack policy reports without a URN. */
const STACK_TYPE = "pulumi:pulumi:Stack";

/**
 * Removes Pulumi's secret wrappers, recursively. Under mocks a secret arrives as
 * `{ <sig>: <secret sig>, value }`; in a real CrossGuard run it arrives plain. A stack export
 * holds `ciphertext`, which becomes {@link ENCRYPTED_SECRET}, or with `--show-secrets` the
 * value as JSON text in `plaintext`.
 */
export function unwrapSecrets(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(unwrapSecrets);
  }
  if (value === null || typeof value !== "object") {
    return value;
  }
  const record = value as Record<string, unknown>;
  if (record[SECRET_SIG_KEY] === SECRET_SIG_VALUE) {
    if ("value" in record) {
      return unwrapSecrets(record.value);
    }
    return typeof record.plaintext === "string"
      ? parsePlaintext(record.plaintext)
      : ENCRYPTED_SECRET;
  }
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, unwrapSecrets(v)]));
}

/** `pulumi stack export --show-secrets` holds a secret's value as JSON text. */
function parsePlaintext(text: string): unknown {
  try {
    return unwrapSecrets(JSON.parse(text));
  } catch {
    return text;
  }
}

/** Thrown by `args.notApplicable`, as CrossGuard's server does, and swallowed here. */
class NotApplicable extends Error {}

function notApplicable(reason?: string): never {
  throw new NotApplicable(reason ?? "not applicable");
}

/** Same test as CrossGuard's: the class's `__pulumiType`, else its `isInstance`. */
function isTypeOf(type: string, resourceClass: unknown): boolean {
  const token = (resourceClass as { __pulumiType?: unknown }).__pulumiType;
  if (typeof token === "string" && token.length > 0) {
    return token === type;
  }
  const isInstance = (resourceClass as { isInstance?: (o: unknown) => boolean }).isInstance;
  return typeof isInstance === "function" && isInstance({ __pulumiType: type }) === true;
}

function urnOf(resource: PlannedResource, stage: PolicyStage): string {
  return resource.urn ?? `urn:pulumi:${stage}::guincho-lacerda::${resource.type}::${resource.name}`;
}

function optionsOf(resource: PlannedResource): PolicyResourceOptions {
  return {
    protect: resource.protect === true,
    ignoreChanges: [],
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: [],
    ...(resource.parent === undefined ? {} : { parent: resource.parent }),
  };
}

function levelOf(policy: Policy, config: Record<string, unknown>): EnforcementLevel {
  const level =
    (config.enforcementLevel as EnforcementLevel | undefined) ??
    policy.enforcementLevel ??
    PACK_ENFORCEMENT_LEVEL;
  // CrossGuard reports a violation of a remediating policy as mandatory.
  return level === "remediate" ? "mandatory" : level;
}

/** The policy's config for the stage: schema defaults, then the stage file's values. */
function configFor(policy: Policy, stage: PolicyStage): Record<string, unknown> {
  const defaults: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(policy.configSchema?.properties ?? {})) {
    if (schema.default !== undefined) {
      defaults[key] = schema.default;
    }
  }
  return { ...defaults, ...policyConfigFor(stage, policy.name) };
}

function withoutLevel(config: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(config).filter(([key]) => key !== "enforcementLevel"));
}

function runSync(result: unknown, policy: string): void {
  if (result instanceof Promise) {
    throw new Error(
      `policy ${policy} is asynchronous; evaluatePolicies runs policies synchronously`,
    );
  }
}

function callSafely(run: () => unknown, policy: string): void {
  try {
    runSync(run(), policy);
  } catch (err) {
    if (!(err instanceof NotApplicable)) {
      throw err;
    }
  }
}

function isResourcePolicy(p: Policy): p is ResourceValidationPolicy {
  return (p as ResourceValidationPolicy).validateResource !== undefined;
}

function isStackPolicy(p: Policy): p is StackValidationPolicy {
  return typeof (p as StackValidationPolicy).validateStack === "function";
}

/**
 * Runs every policy of the pack over the resources, with the stage's policy config, and
 * returns the violations in resource order, then the stack policies' violations.
 */
export function evaluatePolicies(resources: PlannedResource[], stage: PolicyStage): Finding[] {
  return runPolicies(policies, resources, stage);
}

/**
 * {@link evaluatePolicies} over any list of policies (tests pass their own); a policy's
 * config comes from the stage file under its name.
 */
export function runPolicies(
  policyList: readonly Policy[],
  resources: PlannedResource[],
  stage: PolicyStage,
): Finding[] {
  const findings: Finding[] = [];
  const stackTags: ReadonlyMap<string, string> = new Map();
  const planned = resources.map((r) => ({
    ...r,
    props: unwrapSecrets(r.props ?? {}) as Record<string, unknown>,
    urn: urnOf(r, stage),
  }));
  const byUrn = new Map(planned.map((r) => [r.urn, r]));
  for (const policy of policyList) {
    const fullConfig = configFor(policy, stage);
    const level = levelOf(policy, fullConfig);
    if (level === "disabled") {
      continue;
    }
    const config = withoutLevel(fullConfig);
    const report = (fallback: { type: string; name: string }): ReportViolation => {
      return (message: string, urn?: string) => {
        const target = urn === undefined ? undefined : byUrn.get(urn);
        findings.push({
          policy: policy.name,
          enforcementLevel: level,
          resource: target ? { type: target.type, name: target.name } : fallback,
          message,
        });
      };
    };
    if (isResourcePolicy(policy)) {
      const validations = Array.isArray(policy.validateResource)
        ? policy.validateResource
        : [policy.validateResource!];
      for (const r of planned) {
        const args: ResourceValidationArgs = {
          type: r.type,
          props: r.props,
          urn: r.urn,
          name: r.name,
          opts: optionsOf(r),
          stackTags,
          isType: (cls) => isTypeOf(r.type, cls),
          asType: <T extends Resource>(cls: new (...rest: never[]) => T) =>
            (isTypeOf(r.type, cls) ? r.props : undefined) as never,
          getConfig: <T extends object>() => config as T,
          notApplicable,
        };
        const fallback = { type: r.type, name: r.name };
        for (const validate of validations) {
          // CrossGuard's fast path: a typed validation of another type does not apply.
          const token = (validate as { __pulumiType?: unknown }).__pulumiType;
          if (typeof token === "string" && token !== r.type) {
            continue;
          }
          // A resource validation always reports against the resource it validates.
          const onResource = report(fallback);
          callSafely(() => validate(args, (message) => onResource(message)), policy.name);
        }
      }
    }
    if (isStackPolicy(policy)) {
      const stackResources: PolicyResource[] = planned.map((r) => ({
        type: r.type,
        props: r.props,
        urn: r.urn,
        name: r.name,
        opts: optionsOf(r),
        dependencies: [],
        propertyDependencies: {},
        isType: (cls) => isTypeOf(r.type, cls),
        asType: (cls) => (isTypeOf(r.type, cls) ? r.props : undefined) as never,
      }));
      const stackName = { type: STACK_TYPE, name: `guincho-lacerda-${stage}` };
      callSafely(
        () =>
          policy.validateStack(
            {
              resources: stackResources,
              stackTags,
              getConfig: <T extends object>() => config as T,
              notApplicable,
            },
            report(stackName),
          ),
        policy.name,
      );
    }
  }
  return sortFindings(findings, planned);
}

/** Orders findings by the resource's position in the input, keeping policy order within. */
function sortFindings(findings: Finding[], resources: PlannedResource[]): Finding[] {
  const position = new Map(resources.map((r, i) => [`${r.type}\u0000${r.name}`, i]));
  const rank = (f: Finding) =>
    position.get(`${f.resource.type}\u0000${f.resource.name}`) ?? resources.length;
  return findings
    .map((f, i) => ({ f, i }))
    .sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i)
    .map(({ f }) => f);
}
