/**
 * Runs the whole Pulumi program for a stage under mocks and returns every resource it
 * declared, for tests of any area to assert exact inputs on.
 *
 *   const run = await runStage("prod");
 *   const vm = only(run, "gcp:compute/instance:Instance");
 *   expect(vm.props.deletionProtection).toBe(true);
 */
import * as fs from "fs";
import * as path from "path";
import { ConfigError, rawFromPulumiConfig, validateStageConfig } from "../../config";
import { unwrapSecrets } from "../../policies/evaluate";
import type { DeclaredResource, ProgramRun, RawConfig } from "../../tools/program";

export const repoRoot = path.resolve(__dirname, "..", "..");
export type Stage = "dev" | "staging" | "prod";

type ProgramModule = typeof import("../../tools/program");

function freshProgram(): ProgramModule {
  // The SDK's runtime state lives in module globals: every run needs a fresh registry.
  jest.resetModules();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("../../tools/program") as ProgramModule;
}

/** The committed stack file's config for `stage`, as Pulumi would pass it. */
export function stackConfig(stage: Stage): RawConfig {
  return freshProgram().readStackConfig(path.join(repoRoot, `Pulumi.${stage}.yaml`));
}

/**
 * Runs the program for `stack` with its committed stack file, after applying `changes`
 * (full keys to values; objects are JSON-encoded, `undefined` removes the key).
 */
export async function runStage(
  stack: string,
  changes: Record<string, unknown> = {},
  base?: RawConfig,
): Promise<ProgramRun> {
  const cache = process.env.GUINCHO_TEST_STAGE_CACHE;
  const cached = cache ? path.join(cache, `${stack}.json`) : undefined;
  if (cached && !base && Object.keys(changes).length === 0 && fs.existsSync(cached)) {
    // The committed stack, run once by the global setup (tests/helpers/global-setup.ts).
    return JSON.parse(fs.readFileSync(cached, "utf8")) as ProgramRun;
  }
  const program = freshProgram();
  const stage = stack.split("-")[0];
  const config: RawConfig = {
    ...(base ?? program.readStackConfig(path.join(repoRoot, `Pulumi.${stage}.yaml`))),
  };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) {
      delete config[key];
    } else {
      config[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
  }
  return program.runProgram(stack, config);
}

const rawByStage = new Map<Stage, Record<string, unknown>>();

/**
 * The problems config validation reports for a committed stack with `changes` applied to
 * its top-level keys (written with or without the `guincho:` prefix), or [] when the
 * changed config is accepted. Pure validation: no program runs.
 */
export function configProblems(stage: Stage, changes: Record<string, unknown>): string[] {
  if (!rawByStage.has(stage)) {
    rawByStage.set(stage, rawFromPulumiConfig(stackConfig(stage)));
  }
  const raw = { ...rawByStage.get(stage) };
  for (const [key, value] of Object.entries(changes)) {
    raw[key.replace(/^guincho:/, "")] = value;
  }
  try {
    validateStageConfig(stage, raw);
  } catch (e) {
    if (e instanceof ConfigError) {
      return e.problems;
    }
    throw e;
  }
  return [];
}

/** Every declared resource of a type. */
export function ofType(run: ProgramRun, type: string): DeclaredResource[] {
  return run.resources.filter((r) => r.type === type);
}

/** The one resource of a type (fails the test when there are none or several). */
export function only(run: ProgramRun, type: string): DeclaredResource {
  const found = ofType(run, type);
  if (found.length !== 1) {
    throw new Error(
      `expected exactly one ${type}, found ${found.length}: ${found.map((r) => r.name).join(", ")}`,
    );
  }
  return found[0];
}

/** The resource of a type with a name (fails the test when absent). */
export function named(run: ProgramRun, type: string, name: string): DeclaredResource {
  const found = run.resources.find((r) => r.type === type && r.name === name);
  if (!found) {
    const names = ofType(run, type).map((r) => r.name);
    throw new Error(`no ${type} named ${name}; declared: ${names.join(", ") || "none"}`);
  }
  return found;
}

/** Unwraps Pulumi's secret marker objects, as a real CrossGuard run would see the values. */
export function plain(value: unknown): unknown {
  return unwrapSecrets(value);
}
