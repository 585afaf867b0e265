/** Small helpers shared by the rule files: reading props the way Google Cloud reads them. */
import type { PolicyConfigSchema, ResourceValidationArgs } from "@pulumi/policy";

/** `Instance "app"`: the resource's kind (last part of its type token) and its name. */
export function describe(args: { type: string; name: string }): string {
  const kind = args.type.split(":").pop() ?? args.type;
  return `${kind} "${args.name}"`;
}

/** Quotes a value for a message: strings in double quotes, the rest as JSON. */
export function quote(value: unknown): string {
  if (value === undefined) {
    return "not set";
  }
  return JSON.stringify(value);
}

const TRUE_WORDS = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const FALSE_WORDS = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/**
 * A metadata flag as the guest environment reads it (Go's `strconv.ParseBool`): "TRUE",
 * "True", "true", "1" (and "t") are true; their opposites are false; anything else, or no
 * value, is `undefined`, which leaves Google's default in force.
 */
export function metadataFlag(metadata: unknown, key: string): boolean | undefined {
  if (metadata === null || typeof metadata !== "object") {
    return undefined;
  }
  const value = (metadata as Record<string, unknown>)[key];
  if (typeof value === "boolean") {
    return value;
  }
  if (typeof value === "number") {
    return value === 1 ? true : value === 0 ? false : undefined;
  }
  if (typeof value !== "string") {
    return undefined;
  }
  const word = value.trim();
  return TRUE_WORDS.has(word) ? true : FALSE_WORDS.has(word) ? false : undefined;
}

/** The props' array at `key`, or an empty array when it is missing or not an array. */
export function arrayOf<T = unknown>(value: unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

/** The value as a plain object, or an empty one. */
export function objectOf(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** The last path segment: a machine type or policy given as a URL or a `zones/x/...` path. */
export function lastSegment(value: string): string {
  return value.split("/").pop() ?? value;
}

/** The resource's labels, wherever the provider carries them (user, effective, pulumi). */
export function labelsOf(props: Record<string, unknown>): Record<string, unknown> {
  return {
    ...objectOf(props.effectiveLabels),
    ...objectOf(props.pulumiLabels),
    ...objectOf(props.userLabels),
    ...objectOf(props.labels),
  };
}

/** A number given as a number or as a numeric string (the provider types some as strings). */
export function numberOf(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) {
    return value;
  }
  if (typeof value === "string" && /^\s*\d+(\.\d+)?\s*$/.test(value)) {
    return Number(value);
  }
  return undefined;
}

/**
 * A policy's config: the schema's defaults, overlaid with what the run configured. The
 * CrossGuard SDK's getConfig returns only the configured values, so a rule never relies on
 * the engine having filled in the defaults.
 */
export function configOf<T extends object>(
  schema: PolicyConfigSchema,
  args: Pick<ResourceValidationArgs, "getConfig">,
): T {
  const defaults = Object.fromEntries(
    Object.entries(schema.properties)
      .filter(([, property]) => property.default !== undefined)
      .map(([key, property]) => [key, property.default]),
  );
  return { ...defaults, ...args.getConfig<Record<string, unknown>>() } as T;
}
/** What an encrypted secret of a `pulumi stack export` (no plaintext) evaluates as. */
export const ENCRYPTED_SECRET_TEXT = "[secret]";
