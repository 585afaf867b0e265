/**
 * Summarises offline plans as Markdown for a pull-request comment: per stage, the resources
 * the change adds, removes and changes (against the base branch's plan) and the policy
 * findings of the head.
 *
 *   npm run plan:summary -- --head DIR [--base DIR]
 *
 * Each DIR holds `<stage>.json` files written by `npm run plan -- --stack <stage> --json`.
 * Without --base (or a stage missing there) every resource counts as added.
 */
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";

interface PlanResource {
  type: string;
  name: string;
  props: unknown;
  protect: boolean;
}

interface PlanFinding {
  policy: string;
  enforcementLevel: string;
  resource: { type: string; name: string };
  message: string;
}

export interface PlanDocument {
  stack: string;
  resources: PlanResource[];
  findings: PlanFinding[];
}

export interface StageDiff {
  stack: string;
  added: string[];
  removed: string[];
  changed: string[];
  mandatory: PlanFinding[];
  advisory: PlanFinding[];
}

const keyOf = (r: PlanResource) => `${r.type}::${r.name}`;

/** Compares two plans of one stage, resource by resource (type and name). */
export function diffPlans(head: PlanDocument, base?: PlanDocument): StageDiff {
  const before = new Map((base?.resources ?? []).map((r) => [keyOf(r), r]));
  const after = new Map(head.resources.map((r) => [keyOf(r), r]));
  const same = (a: PlanResource, b: PlanResource) =>
    a.protect === b.protect && JSON.stringify(a.props) === JSON.stringify(b.props);
  return {
    stack: head.stack,
    added: [...after.keys()].filter((k) => !before.has(k)),
    removed: [...before.keys()].filter((k) => !after.has(k)),
    changed: [...after.entries()]
      .filter(([k, r]) => before.has(k) && !same(r, before.get(k) as PlanResource))
      .map(([k]) => k),
    mandatory: head.findings.filter((f) => f.enforcementLevel === "mandatory"),
    advisory: head.findings.filter((f) => f.enforcementLevel === "advisory"),
  };
}

function list(title: string, items: string[]): string[] {
  if (items.length === 0) {
    return [];
  }
  const shown = items.slice(0, 50).map((k) => {
    const [type, name] = k.split("::");
    return `- \`${name}\` (${type})`;
  });
  if (items.length > 50) {
    shown.push(`- ... and ${items.length - 50} more`);
  }
  return [`<details><summary>${title} (${items.length})</summary>`, "", ...shown, "", "</details>"];
}

/** The Markdown comment for all stages. */
export function renderSummary(diffs: StageDiff[], compared: boolean): string {
  const lines = [
    "<!-- guincho-plan-summary -->",
    "### Offline plan",
    "",
    compared
      ? "Compared with the base branch's plan, per stage (`npm run plan`, no cloud access)."
      : "No base plan to compare with: every resource is listed as added.",
    "",
    "| stage | added | removed | changed | mandatory findings | advisory findings |",
    "|---|---|---|---|---|---|",
    ...diffs.map(
      (d) =>
        `| ${d.stack} | ${d.added.length} | ${d.removed.length} | ${d.changed.length} | ` +
        `${d.mandatory.length === 0 ? "0" : `**${d.mandatory.length}**`} | ${d.advisory.length} |`,
    ),
  ];
  for (const d of diffs) {
    const details = [
      ...list("added", d.added),
      ...list("removed", d.removed),
      ...list("changed", d.changed),
    ];
    const findings = [...d.mandatory, ...d.advisory].map(
      (f) => `- **${f.enforcementLevel}** \`${f.policy}\` on \`${f.resource.name}\`: ${f.message}`,
    );
    if (details.length > 0 || findings.length > 0) {
      lines.push(
        "",
        `#### ${d.stack}`,
        "",
        ...details,
        ...(findings.length ? ["", ...findings] : []),
      );
    }
  }
  if (diffs.some((d) => d.mandatory.length > 0)) {
    lines.push("", "Mandatory findings block this change: fix them, or see docs/policies.md.");
  }
  return lines.join("\n") + "\n";
}

function readPlans(dir: string): Map<string, PlanDocument> {
  const plans = new Map<string, PlanDocument>();
  for (const file of fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()) {
    const doc = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as PlanDocument;
    plans.set(doc.stack, doc);
  }
  return plans;
}

function main(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: { head: { type: "string" }, base: { type: "string" } },
  });
  if (!values.head) {
    console.error("--head DIR is required: the directory of the head's <stage>.json plans");
    return 2;
  }
  const head = readPlans(values.head);
  const base = values.base && fs.existsSync(values.base) ? readPlans(values.base) : new Map();
  const diffs = [...head.values()].map((doc) => diffPlans(doc, base.get(doc.stack)));
  process.stdout.write(renderSummary(diffs, base.size > 0));
  return 0;
}

if (require.main === module) {
  process.exit(main(process.argv.slice(2)));
}
