/**
 * The offline plan: runs the real program for a stack under Pulumi's mocks (no Pulumi CLI,
 * no credentials), prints the resource tree, the stack outputs and the policy findings.
 *
 *   npm run plan -- --stack prod [--config-file F] [--json] [--format mermaid]
 *
 * Exit 0: fine. Exit 1: mandatory policy findings. Exit 2: invalid configuration or usage,
 * each problem on its own line on stderr, with no stack trace and nothing declared.
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { parseArgs } from "util";
import { ConfigError, STAGES, stageOfStack } from "../config";
import { evaluatePolicies, type Finding } from "../policies/evaluate";
import {
  DeclaredResource,
  ProgramRun,
  readStackConfig,
  repoRoot,
  runProgram,
  StackFileError,
} from "./program";

const USAGE = `Usage: npm run plan -- --stack <stage> [--config-file FILE] [--json] [--format text|json|mermaid]

  --stack        the stack to plan: ${STAGES.join(", ")} (or a personal "<stage>-<name>")
  --config-file  plan this stack file instead of Pulumi.<stack>.yaml (e.g. before committing)
  --json         print one JSON document (same as --format json)
  --format       text (default), json, or mermaid (an architecture diagram of the stage)`;

export type PlanFormat = "text" | "json" | "mermaid";

export interface PlanOptions {
  stack: string;
  configFile: string;
  format: PlanFormat;
}

/** The plan's result: the run, its findings and the exit code it implies. */
export interface Plan {
  run: ProgramRun;
  findings: Finding[];
  exitCode: 0 | 1;
}

/** Raised for a usage mistake; printed on stderr with the usage, exit 2. */
export class UsageError extends Error {}

export function parsePlanArgs(argv: string[]): PlanOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        stack: { type: "string" },
        "config-file": { type: "string" },
        json: { type: "boolean", default: false },
        format: { type: "string" },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values } = parsed;
  if (values.help) {
    throw new UsageError("");
  }
  if (!values.stack) {
    throw new UsageError("--stack is required: which stage to plan (dev, staging or prod)");
  }
  const format = values.json ? "json" : (values.format ?? "text");
  if (!["text", "json", "mermaid"].includes(format)) {
    throw new UsageError(`--format: received "${format}"; expected text, json or mermaid`);
  }
  return {
    stack: values.stack,
    configFile: path.resolve(
      values["config-file"] ?? path.join(repoRoot, `Pulumi.${values.stack}.yaml`),
    ),
    format: format as PlanFormat,
  };
}

/** Runs the program and the policies for a stack; throws ConfigError or StackFileError. */
export async function plan(options: PlanOptions): Promise<Plan> {
  const stage = stageOfStack(options.stack);
  const config = readStackConfig(options.configFile);
  const run = await runProgram(options.stack, config);
  if (run.error) {
    throw run.error;
  }
  const findings = evaluatePolicies(
    run.resources
      .filter((r) => r.custom)
      .map((r) => ({ type: r.type, name: r.name, props: r.props, protect: r.protect })),
    stage,
  );
  const exitCode = findings.some((f) => f.enforcementLevel === "mandatory") ? 1 : 0;
  return { run, findings, exitCode };
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Secrets are shown as "[secret]", never in plain text, in every format. */
export function maskSecrets(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(maskSecrets);
  }
  if (value !== null && typeof value === "object") {
    if (SECRET_SIG in (value as object)) {
      return "[secret]";
    }
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, maskSecrets(v)]),
    );
  }
  return value;
}

const keyOf = (r: DeclaredResource) => `${r.type}::${r.name}`;

/** The JSON document of the plan contract (DESIGN.md). */
export function toJson(result: Plan): string {
  return JSON.stringify(
    {
      stack: result.run.stack,
      resources: result.run.resources.map((r) => ({
        type: r.type,
        name: r.name,
        parent: r.parent ?? null,
        props: maskSecrets(r.props),
        protect: r.protect,
      })),
      outputs: maskSecrets(result.run.outputs),
      findings: result.findings,
    },
    null,
    2,
  );
}

/** The readable tree: one line per resource, indented under its parent. */
export function toText(result: Plan): string {
  const { run, findings } = result;
  const children = new Map<string | undefined, DeclaredResource[]>();
  for (const r of run.resources) {
    children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
  }
  const lines = [`Stack ${run.stack}: ${run.resources.length} resources`, ""];
  const walk = (parent: string | undefined, depth: number) => {
    for (const r of children.get(parent) ?? []) {
      const flags = r.protect ? "  [protected]" : "";
      lines.push(`${"  ".repeat(depth)}${r.custom ? "" : "+ "}${r.name}  (${r.type})${flags}`);
      walk(keyOf(r), depth + 1);
    }
  };
  walk(undefined, 1);
  lines.push("", "Outputs:");
  for (const [name, value] of Object.entries(maskSecrets(run.outputs) as object)) {
    lines.push(`  ${name}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
  }
  lines.push("", findings.length === 0 ? "Policy findings: none" : "Policy findings:");
  for (const f of findings) {
    lines.push(`  [${f.enforcementLevel}] ${f.policy} on ${f.resource.name}: ${f.message}`);
  }
  return lines.join("\n");
}

/** A Mermaid flowchart: components as subgraphs, custom resources as nodes. */
export function toMermaid(result: Plan): string {
  const ids = new Map<string, string>();
  const idOf = (key: string) => {
    if (!ids.has(key)) {
      ids.set(key, `r${ids.size}`);
    }
    return ids.get(key) as string;
  };
  const shortType = (type: string) => type.split(":").pop() ?? type;
  const children = new Map<string | undefined, DeclaredResource[]>();
  for (const r of result.run.resources) {
    children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
  }
  const lines = ["flowchart TB"];
  const walk = (parent: string | undefined, depth: number) => {
    const pad = "  ".repeat(depth);
    for (const r of children.get(parent) ?? []) {
      if (r.type.startsWith("pulumi:providers:")) {
        continue;
      }
      const label = `${shortType(r.type)}<br/>${r.name}${r.protect ? " 🔒" : ""}`;
      if (r.custom) {
        lines.push(`${pad}${idOf(keyOf(r))}["${label}"]`);
      } else {
        lines.push(`${pad}subgraph ${idOf(keyOf(r))}["${label}"]`);
        walk(keyOf(r), depth + 1);
        lines.push(`${pad}end`);
      }
    }
  };
  walk(undefined, 1);
  return lines.join("\n");
}

/** The command itself: returns the exit code, printing to the given streams. */
export async function main(
  argv: string[],
  out: (text: string) => void = (t) => process.stdout.write(t + "\n"),
  err: (text: string) => void = (t) => process.stderr.write(t + "\n"),
): Promise<number> {
  try {
    const options = parsePlanArgs(argv);
    const result = await plan(options);
    const render = { text: toText, json: toJson, mermaid: toMermaid }[options.format];
    out(render(result));
    return result.exitCode;
  } catch (e) {
    if (e instanceof UsageError) {
      err(e.message ? `${e.message}\n\n${USAGE}` : USAGE);
      return e.message ? 2 : 0;
    }
    if (e instanceof ConfigError) {
      err(`Invalid configuration for this stack; nothing was planned:`);
      e.problems.forEach((p) => err(p));
      return 2;
    }
    if (e instanceof StackFileError) {
      err(e.message);
      return 2;
    }
    if (pulumi.ResourceError.isInstance(e) || pulumi.RunError.isInstance(e)) {
      // A component refused its arguments: a mistake in config, explained by the message.
      err(`The program refused this stack's settings; nothing was planned:`);
      err((e as Error).message);
      return 2;
    }
    throw e;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    // No process.exit: Node ends once stdout has drained (a pipe such as `| jq` would
    // otherwise lose all past 64 KiB) and the compiler's cache writes have finished.
    (code) => {
      process.exitCode = code;
    },
    (e: Error) => {
      console.error(
        `The plan failed unexpectedly (a bug, not your config): ${e.stack ?? e.message}\n` +
          "Run it again with GUINCHO_STACK_TRACES=1 for the full stack trace, and report it.",
      );
      process.exit(3);
    },
  );
}
