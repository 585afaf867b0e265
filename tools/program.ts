/**
 * Runs the real Pulumi program (`index.ts`) under Pulumi's mocks and collects every resource
 * it declares: type, name, parent, protect and the resolved input properties. The offline
 * plan and the tests both use this, so what the tests check is what the plan shows.
 *
 * NOTE: the Pulumi SDK keeps its runtime state in module globals. Each run must start from
 * a fresh module registry (a new process, or `jest.resetModules()` before requiring this
 * file); a second `require` of a cached `index.ts` would declare nothing.
 */
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, OFFLINE_SECRET_PLACEHOLDER, PROJECT } from "../config";
import { createMocks } from "./mocks";

export const repoRoot = path.resolve(__dirname, "..");

/** A resource as the program declared it. */
export interface DeclaredResource {
  type: string;
  name: string;
  /** `type::name` of the parent resource, absent for children of the stack. */
  parent?: string;
  protect: boolean;
  /** Custom resources reach the provider; components only group their children. */
  custom: boolean;
  /** Resolved input properties (custom resources only). Secrets stay wrapped. */
  props: Record<string, unknown>;
}

export interface ProgramRun {
  stack: string;
  resources: DeclaredResource[];
  outputs: Record<string, unknown>;
  /** Set when the program failed; a `ConfigError` when the config was invalid. */
  error?: Error;
}

/** Config as Pulumi hands it to a program: full keys, string values (JSON for structures). */
export type RawConfig = Record<string, string>;

/** Thrown for a stack file that cannot be read; the plan prints it and exits 2. */
export class StackFileError extends Error {}

/** Replaces `secure:` values, which cannot be decrypted offline, with a marked placeholder. */
function replaceSecure(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(replaceSecure);
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1 && entries[0][0] === "secure") {
      return OFFLINE_SECRET_PLACEHOLDER;
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, replaceSecure(v)]));
  }
  return value;
}

/** Reads a stack file (`Pulumi.<stack>.yaml`) into the strings Pulumi would pass. */
export function readStackConfig(file: string): RawConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    throw new StackFileError(`config file ${file}: cannot be read (does it exist?)`);
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    throw new StackFileError(`config file ${file}: not valid YAML: ${(e as Error).message}`);
  }
  const config = (doc as { config?: unknown } | null)?.config;
  if (config === undefined || config === null) {
    return {};
  }
  if (typeof config !== "object" || Array.isArray(config)) {
    throw new StackFileError(`config file ${file}: "config" must be a map of keys to values`);
  }
  const raw: RawConfig = {};
  for (const [key, value] of Object.entries(config as Record<string, unknown>)) {
    const plain = replaceSecure(value);
    const fullKey = key.includes(":") ? key : `${PROJECT}:${key}`;
    raw[fullKey] = typeof plain === "string" ? plain : JSON.stringify(plain);
  }
  return raw;
}

function resolve<T>(value: pulumi.Input<T>): Promise<pulumi.Unwrap<T>> {
  return new Promise((done) => {
    pulumi.output(value).apply((v) => {
      done(v);
      return v;
    });
  });
}

/**
 * Runs `index.ts` for `stack` with `config` under mocks and returns what it declared.
 * Never throws for a failing program: the error is returned in `error`.
 */
export async function runProgram(stack: string, config: RawConfig): Promise<ProgramRun> {
  const inputs = new Map<string, Record<string, unknown>>();
  const records: DeclaredResource[] = [];
  const byResource = new WeakMap<pulumi.Resource, DeclaredResource>();
  let error: Error | undefined;
  let exported: Record<string, unknown> = {};

  pulumi.runtime.setAllConfig(config);
  pulumi.runtime.setMocks(
    createMocks((args) => inputs.set(`${args.type}::${args.name}`, args.inputs)),
    PROJECT,
    stack,
    false,
  );

  // NOTE: the SDK formats a stack trace for every promise it creates (kept for leak reports
  // that a mocked run never prints): a fifth of the plan's time. Traces are off while the
  // program runs; the SDK still takes each resource's source position (it lifts the limit
  // itself for that). GUINCHO_STACK_TRACES=1 keeps them, to debug a crashing program.
  const stackTraceLimit = Error.stackTraceLimit;
  if (process.env.GUINCHO_STACK_TRACES !== "1") {
    Error.stackTraceLimit = 0;
  }
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation((args) => {
      const parent = args.opts.parent ? byResource.get(args.opts.parent) : undefined;
      const record: DeclaredResource = {
        type: args.type,
        name: args.name,
        parent: parent ? `${parent.type}::${parent.name}` : undefined,
        protect: args.opts.protect ?? parent?.protect ?? false,
        custom: args.resource instanceof pulumi.CustomResource,
        props: {},
      };
      byResource.set(args.resource, record);
      records.push(record);
      return undefined;
    });
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      exported = require(path.join(repoRoot, "index.ts")) as Record<string, unknown>;
    } catch (e) {
      error =
        (e as Error & { cause?: unknown }).cause instanceof ConfigError
          ? ((e as Error & { cause?: unknown }).cause as ConfigError)
          : (e as Error);
    }
    return undefined;
  });
  const outputs = error ? {} : ((await resolve(exported)) as Record<string, unknown>);
  await pulumi.runtime.disconnect();
  Error.stackTraceLimit = stackTraceLimit;

  for (const record of records) {
    record.props = inputs.get(`${record.type}::${record.name}`) ?? {};
  }
  return { stack, resources: records, outputs, error };
}
