/**
 * Every command the handbook quotes exists in this repository: npm scripts, host tools and
 * their flags, files under tools/, and stack outputs.
 */
import * as fs from "fs";
import * as path from "path";
import { timerSpecs } from "../../components/hostFiles";
import {
  codeSnippets,
  handbookPages,
  helpFlags,
  read,
  repoRoot,
  toolUses,
  unitExists,
  unitNames,
} from "./handbook";

const scripts = Object.keys(
  (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts,
);
const outputs = [...read("index.ts").matchAll(/^export const (\w+)/gm)].map((m) => m[1]);
const timers = timerSpecs(
  {
    backupDailyAt: "02:30",
    backupWeeklyAt: "Sun 03:30",
    drillAt: "05:30",
    errorReviewAt: "07:00",
    perfAuditAt: "Mon 06:00",
    securityCheckAt: "Mon 06:30",
    capacityReportAt: "01 07:00",
  },
  "UTC",
).map((t) => t.timer);
const pages = handbookPages().map((page) => ({ page, snippets: codeSnippets(read(page)) }));

describe("commands quoted in the handbook", () => {
  test.each(pages.map((p) => [p.page, p.snippets]))(
    "%s: npm scripts, tools, systemd units and stack outputs exist",
    (_page, snippets) => {
      const unknown: string[] = [];
      for (const snippet of snippets as string[]) {
        for (const m of snippet.matchAll(/npm run (?:-s )?([a-z][\w:-]*)/g)) {
          if (!scripts.includes(m[1])) {
            unknown.push(`npm script "${m[1]}" in: ${snippet}`);
          }
        }
        for (const m of snippet.matchAll(/(?<![\w/.-])tools\/[\w./-]*[\w]/g)) {
          if (!fs.existsSync(path.join(repoRoot, m[0]))) {
            unknown.push(`file ${m[0]} in: ${snippet}`);
          }
        }
        for (const unit of unitNames(snippet).filter((u) => !unitExists(u, timers))) {
          unknown.push(`systemd unit ${unit} in: ${snippet}`);
        }
        for (const m of snippet.matchAll(/pulumi stack output (?:--[\w-]+ \S+ )*([a-zA-Z]\w*)/g)) {
          if (!outputs.includes(m[1])) {
            unknown.push(`stack output "${m[1]}" in: ${snippet}`);
          }
        }
      }
      expect(unknown).toEqual([]);
    },
  );

  test.each(pages.map((p) => [p.page, p.snippets]))(
    "%s: host tools exist and take the flags written after them",
    (_page, snippets) => {
      const unknown: string[] = [];
      for (const snippet of snippets as string[]) {
        for (const use of toolUses(snippet)) {
          if (!fs.existsSync(path.join(repoRoot, "host", "bin", use.tool))) {
            unknown.push(`host/bin/${use.tool} in: ${snippet}`);
            continue;
          }
          const known = helpFlags(use.tool);
          for (const flag of use.flags.filter((f) => !known.has(f))) {
            unknown.push(`host/bin/${use.tool} has no ${flag}, in: ${snippet}`);
          }
        }
      }
      expect(unknown).toEqual([]);
    },
  );
});

describe("the handbook reader", () => {
  test("joins continued lines and stops a tool's flags at a pipe", async () => {
    const { codeSnippets: snip, toolUses: uses } = await import("./handbook");
    const text = "```\nsudo host/bin/restore --backup x \\\n  --drill | tail\n```\n";
    expect(snip(text)).toEqual(["sudo host/bin/restore --backup x --drill | tail"]);
    expect(uses(snip(text)[0])).toEqual([{ tool: "restore", flags: ["--backup", "--drill"] }]);
  });

  test("reads the guincho units of systemctl and journalctl commands, not wildcards", async () => {
    const { unitNames: units } = await import("./handbook");
    expect(
      units("sudo systemctl start guincho-backup@daily && journalctl -u 'guincho-app@*'"),
    ).toEqual(["guincho-backup@daily"]);
    expect(units("gcloud compute ssh guincho-prod-vm")).toEqual([]);
  });

  test("reads flags after the installed path too", async () => {
    const { toolUses: uses } = await import("./handbook");
    expect(uses("sudo /opt/guincho/host/bin/rollback --restore-data --yes")).toEqual([
      { tool: "rollback", flags: ["--restore-data", "--yes"] },
    ]);
  });
});
