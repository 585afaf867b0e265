/**
 * The offline policy scan: evaluates the policy pack on a JSON file, without the Pulumi CLI.
 *
 *   npm run scan -- <file> [--stage dev|staging|prod] [--json]
 *
 * The file is a list of `{ type, name, props, opts?: { protect? } }`, a `pulumi stack export`
 * document, or a `pulumi preview --json` document. Exit 0: no mandatory finding. Exit 1:
 * mandatory findings. Exit 2: unreadable input or bad usage, one line on stderr.
 */
import * as fs from "fs";
import { parseArgs } from "util";
import { evaluatePolicies, type Finding, type PlannedResource } from "../policies/evaluate";
import { isPolicyStage, POLICY_STAGES, type PolicyStage } from "../policies/stages";

const USAGE = `Usage: npm run scan -- <file> [--stage ${POLICY_STAGES.join("|")}] [--json]

  <file>    a JSON list of { type, name, props, opts?: { protect? } }, a \`pulumi stack export\`
            document, or a \`pulumi preview --json\` document
  --stage   whose policy config to apply (policies/config/<stage>.json); default: the stack
            named in the document's URNs when it is a stage, otherwise prod (the strictest)
  --json    print { "findings": [...] } instead of text`;

/** A mistake of the user's: printed as one line on stderr, exit 2. */
export class ScanInputError extends Error {}

export interface ScanOptions {
  file: string;
  stage?: PolicyStage;
  json: boolean;
}

/** Node's parseArgs errors, reworded as flag, value and what is allowed. */
function usageProblem(error: Error): string {
  const unknown = /Unknown option '([^']+)'/.exec(error.message);
  if (unknown) {
    return `unknown flag "${unknown[1]}"; allowed: --stage, --json, --help`;
  }
  if (/--stage/.test(error.message)) {
    return `--stage needs a value: one of ${POLICY_STAGES.join(", ")}`;
  }
  return `${error.message}; see --help`;
}

/** Reads the command line; throws ScanInputError naming the flag, the value and what is allowed. */
export function parseScanArgs(argv: string[]): ScanOptions | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        stage: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    throw new ScanInputError(usageProblem(e as Error));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    return "help";
  }
  if (positionals.length !== 1) {
    const got = positionals.length === 0 ? "none" : positionals.map((p) => `"${p}"`).join(", ");
    throw new ScanInputError(`expected exactly one input file, received ${got}; see --help`);
  }
  const stage = values.stage;
  if (stage !== undefined && !isPolicyStage(stage)) {
    throw new ScanInputError(
      `--stage: received "${stage}"; expected one of ${POLICY_STAGES.join(", ")}`,
    );
  }
  return { file: positionals[0], stage, json: values.json };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The resource name in a URN: the part after the last "::". */
export function nameFromUrn(urn: string): string {
  return urn.split("::").pop() ?? urn;
}

/** The stack named in a URN (`urn:pulumi:<stack>::<project>::...`). */
export function stackFromUrn(urn: string): string | undefined {
  return /^urn:pulumi:([^:]+)::/.exec(urn)?.[1];
}

/** Whether a state entry is a cloud resource (not the stack, a component or a provider). */
function isCloudResource(type: string, custom: unknown): boolean {
  return custom !== false && !type.startsWith("pulumi:");
}

function fromList(items: unknown[], file: string): PlannedResource[] {
  return items.map((item, i) => {
    if (!isObject(item) || typeof item.type !== "string" || typeof item.name !== "string") {
      throw new ScanInputError(
        `${file}: item ${i} needs a string "type" and "name" (e.g. { "type": ` +
          '"gcp:storage/bucket:Bucket", "name": "backups", "props": {} })',
      );
    }
    const opts = isObject(item.opts) ? item.opts : {};
    return {
      type: item.type,
      name: item.name,
      props: isObject(item.props) ? item.props : {},
      protect: opts.protect === true || item.protect === true,
    };
  });
}

function fromState(state: Record<string, unknown>): PlannedResource | undefined {
  const type = typeof state.type === "string" ? state.type : "";
  const urn = typeof state.urn === "string" ? state.urn : "";
  if (type === "" || urn === "" || !isCloudResource(type, state.custom)) {
    return undefined;
  }
  return {
    type,
    name: nameFromUrn(urn),
    urn,
    props: isObject(state.inputs) ? state.inputs : {},
    protect: state.protect === true,
    ...(typeof state.parent === "string" ? { parent: state.parent } : {}),
  };
}

/**
 * The resources of a scan input, whichever of the three shapes it has; throws
 * ScanInputError when it has none of them.
 */
export function resourcesFromDocument(doc: unknown, file: string): PlannedResource[] {
  if (Array.isArray(doc)) {
    return fromList(doc, file);
  }
  if (isObject(doc) && isObject(doc.deployment)) {
    const resources = doc.deployment.resources ?? [];
    if (!Array.isArray(resources)) {
      throw new ScanInputError(`${file}: deployment.resources is not a list`);
    }
    return resources.filter(isObject).flatMap((r) => fromState(r) ?? []);
  }
  if (isObject(doc) && Array.isArray(doc.steps)) {
    return doc.steps
      .filter(isObject)
      .flatMap((step) => (isObject(step.newState) ? (fromState(step.newState) ?? []) : []));
  }
  throw new ScanInputError(
    `${file}: not a resource list, a \`pulumi stack export\` document (with "deployment") or ` +
      'a `pulumi preview --json` document (with "steps")',
  );
}

/** The stage to apply: the flag, else the stage the URNs name, else prod. */
export function stageFor(resources: PlannedResource[], flag?: PolicyStage): PolicyStage {
  if (flag) {
    return flag;
  }
  for (const r of resources) {
    const stack = r.urn ? stackFromUrn(r.urn) : undefined;
    const stage = stack?.split("-")[0];
    if (stage !== undefined && isPolicyStage(stage)) {
      return stage;
    }
  }
  return "prod";
}

/** Reads and parses the input file; throws ScanInputError with the reason. */
export function readDocument(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "error";
    throw new ScanInputError(`${file}: cannot read the file (${code})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ScanInputError(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** Findings as text for a person: mandatory first, each with its resource and message. */
export function formatText(findings: Finding[], resources: number, stage: PolicyStage): string {
  const order = ["mandatory", "advisory"];
  const sorted = [...findings].sort(
    (a, b) => order.indexOf(a.enforcementLevel) - order.indexOf(b.enforcementLevel),
  );
  const lines = sorted.map(
    (f) =>
      `${f.enforcementLevel.toUpperCase()}  ${f.policy}  ${f.resource.type} "${f.resource.name}"\n` +
      `  ${f.message}`,
  );
  const mandatory = findings.filter((f) => f.enforcementLevel === "mandatory").length;
  lines.push(
    `${findings.length} finding(s), ${mandatory} mandatory, on ${resources} resource(s) ` +
      `with the ${stage} policy config.`,
  );
  return lines.join("\n");
}

/** Runs the scan; returns the exit code. */
export function main(argv: string[]): number {
  try {
    const options = parseScanArgs(argv);
    if (options === "help") {
      console.log(USAGE);
      return 0;
    }
    const resources = resourcesFromDocument(readDocument(options.file), options.file);
    const stage = stageFor(resources, options.stage);
    const findings = evaluatePolicies(resources, stage);
    console.log(
      options.json
        ? JSON.stringify({ findings }, null, 2)
        : formatText(findings, resources.length, stage),
    );
    return findings.some((f) => f.enforcementLevel === "mandatory") ? 1 : 0;
  } catch (e) {
    if (e instanceof ScanInputError) {
      console.error(`scan: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2));
}
