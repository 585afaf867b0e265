/**
 * `npm run bench`: the offline plan of each stage next to a baseline that loads the SDK and
 * declares the same number of bare resources, in the same run, each in a fresh process (as
 * a user runs them). Prints a Markdown table: median wall time of N runs, the ratio (target
 * at most 1.5) and peak memory (max RSS) of each.
 *
 *   npm run bench -- [--runs 5]
 */
import { spawnSync } from "child_process";
import * as path from "path";

const root = path.resolve(__dirname, "..", "..");
const LIMIT = 1.5;

interface Sample {
  seconds: number;
  maxRssMb: number;
  stdout: string;
}

/** Runs a TypeScript entry in a fresh node process; measures wall time and peak RSS. */
function measure(script: string, args: string[]): Sample {
  const started = process.hrtime.bigint();
  const result = spawnSync(
    process.execPath,
    ["-r", "@swc-node/register", "-r", "./tools/bench/report-usage.ts", script, ...args],
    { cwd: root, encoding: "utf8", maxBuffer: 1 << 28 },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0 && result.status !== 1) {
    throw new Error(`${script} ${args.join(" ")} failed (${result.status}): ${result.stderr}`);
  }
  const rss = /BENCH_MAX_RSS_KB=(\d+)/.exec(result.stderr);
  return { seconds, maxRssMb: rss ? Number(rss[1]) / 1024 : NaN, stdout: result.stdout };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function main(argv: string[]): void {
  const runsIndex = argv.indexOf("--runs");
  const runs = runsIndex >= 0 ? Number(argv[runsIndex + 1]) : 5;
  const rows: string[] = [];
  let worst = 0;
  for (const stage of ["dev", "staging", "prod"]) {
    const planDoc = JSON.parse(measure("tools/plan.ts", ["--stack", stage, "--json"]).stdout) as {
      resources: unknown[];
    };
    const count = planDoc.resources.length;
    const plan: Sample[] = [];
    const base: Sample[] = [];
    for (let i = 0; i < runs; i++) {
      // Interleaved, so a busy moment of the machine hurts both sides alike.
      plan.push(measure("tools/plan.ts", ["--stack", stage, "--json"]));
      base.push(measure("tools/bench/bare-program.ts", [String(count)]));
    }
    const planSeconds = median(plan.map((s) => s.seconds));
    const baseSeconds = median(base.map((s) => s.seconds));
    const ratio = planSeconds / baseSeconds;
    worst = Math.max(worst, ratio);
    const peak = (samples: Sample[]) => Math.max(...samples.map((s) => s.maxRssMb)).toFixed(0);
    rows.push(
      `| ${stage} | ${count} | ${planSeconds.toFixed(2)} | ${baseSeconds.toFixed(2)} | ` +
        `${ratio.toFixed(2)} | ${peak(plan)} | ${peak(base)} |`,
    );
  }
  console.log(
    `Offline plan vs bare-resource baseline, median of ${runs} runs (fresh process each)\n`,
  );
  console.log(
    "| stage | resources | plan (s) | baseline (s) | ratio | plan peak RSS (MB) | baseline peak RSS (MB) |",
  );
  console.log("|---|---|---|---|---|---|---|");
  rows.forEach((r) => console.log(r));
  console.log(`\nworst ratio ${worst.toFixed(2)} (limit ${LIMIT})`);
  process.exitCode = worst <= LIMIT ? 0 : 1;
}

main(process.argv.slice(2));
