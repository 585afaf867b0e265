/**
 * `npm run bench:deploy`: zero-downtime releases measured for real on loopback.
 *
 * A private nginx, the sample app's processes and the real host tools (deploy, rollback,
 * backup, restore). A load generator sends requests through nginx the whole time (default
 * 100 per second, 3 reads for 1 insert) while the bench runs 5 consecutive deploys and 1
 * rollback, then four faults: a release whose health check fails, a failing migration, a
 * deploy killed with SIGKILL half-way (finished by the next deploy), two deploys at once.
 * It prints a Markdown table: failed requests and latency per phase, against the steady
 * state measured in the same run (the baseline). Exit status 1 if any request failed or a
 * fault left the host serving something else than expected.
 *
 *     npm run bench:deploy [-- --rate 100 --gap 2]
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  buildRelease,
  BuiltRelease,
  createStage,
  getJson,
  LoadGenerator,
  percentile,
  runTool,
  Sample,
  Stage,
  startTool,
  stopStage,
  ToolEvent,
  ToolRun,
} from "./deployHarness";

interface Options {
  rate: number;
  gap: number;
}

interface Operation {
  name: string;
  events: ToolEvent[];
  kind: "deploy" | "rollback" | "fault";
  start: number;
  end: number;
  switches: [number, number][];
  outcome: string;
  ok: boolean;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { rate: 100, gap: 2 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], Number(argv[i + 1])];
    if ((flag !== "--rate" && flag !== "--gap") || !Number.isFinite(value) || value <= 0) {
      console.error(`bench:deploy: unknown flag or bad value: ${flag} ${argv[i + 1]}`);
      console.error("usage: npm run bench:deploy -- [--rate <req/s, >= 50>] [--gap <seconds>]");
      process.exit(2);
    }
    options[flag === "--rate" ? "rate" : "gap"] = value;
  }
  if (options.rate < 50) {
    console.error(`bench:deploy: --rate ${options.rate} is below the 50 req/s the goal needs`);
    process.exit(2);
  }
  return options;
}

const sleep = (seconds: number) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

function releaseId(release: BuiltRelease): string {
  return `${release.version}-${release.sha256.slice(0, 12)}`;
}

function eventTime(events: ToolEvent[], name: string): number | undefined {
  const found = events.filter((event) => event.event.endsWith(name)).at(-1);
  return found?.time ? Date.parse(found.time) : undefined;
}

/** From the healthy check to the old colour stopped: the reload and the drain. */
function switchWindow(run: ToolRun): [number, number][] {
  const from = eventTime(run.events, "_healthy");
  const to = eventTime(run.events, "_old_stopped");
  return from !== undefined && to !== undefined ? [[from - 100, to + 100]] : [];
}

async function serving(stage: Stage): Promise<string> {
  const { body } = await getJson(stage.frontPort, "/healthz");
  return String((body as { release?: string }).release);
}

async function timed(
  name: string,
  kind: Operation["kind"],
  action: () => Promise<{ ok: boolean; outcome: string; runs: ToolRun[] }>,
): Promise<Operation> {
  const start = Date.now();
  const { ok, outcome, runs } = await action();
  const end = Date.now();
  const switches = runs.flatMap(switchWindow);
  console.error(`  ${name}: ${outcome} (${((end - start) / 1000).toFixed(1)} s)`);
  const events = runs.flatMap((run) => run.events);
  return { name, kind, start, end, switches, outcome, ok, events };
}

function stats(label: string, samples: Sample[], extra = ""): string {
  const ms = samples.map((sample) => sample.ms);
  const failed = samples.filter((sample) => sample.status < 200 || sample.status >= 300).length;
  const cell = (value: number) => (Number.isNaN(value) ? "-" : value.toFixed(1));
  const max = ms.length ? Math.max(...ms) : NaN;
  const retried = samples.filter((sample) => sample.retried).length;
  return (
    `| ${label} | ${samples.length} | ${failed} | ${retried} | ${cell(percentile(ms, 0.5))} | ` +
    `${cell(percentile(ms, 0.99))} | ${cell(max)} | ${extra} |`
  );
}

function inside(sample: Sample, windows: [number, number][]): boolean {
  return windows.some(([from, to]) => sample.at >= from && sample.at <= to);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "guincho-bench-deploy-"));
  const stage = await createStage(dir, 15);
  const dist = path.join(dir, "dist");
  const versions = ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.0.5", "1.0.6", "1.0.7"];
  const releases = Object.fromEntries(versions.map((v) => [v, buildRelease(dist, v)]));
  const unhealthy = buildRelease(dist, "9.0.0", "unhealthy");
  const badMigration = buildRelease(dist, "9.1.0", "migration");
  const env = stage.env;
  const deployArgs = (release: BuiltRelease) => ["--archive", release.archive];
  const operations: Operation[] = [];
  let load: LoadGenerator | undefined;
  try {
    console.error(`bench:deploy: stage in ${dir}, nginx on 127.0.0.1:${stage.frontPort}`);
    const first = await runTool("deploy", deployArgs(releases["1.0.0"]), env);
    if (first.status !== 0) {
      throw new Error(`first deploy failed: ${first.stdout}\n${first.stderr}`);
    }
    load = new LoadGenerator(stage.frontPort, options.rate, 600);
    load.start();
    await sleep(options.gap * 1.5);
    for (const version of versions.slice(1, 6)) {
      operations.push(
        await timed(`deploy ${version}`, "deploy", async () => {
          const run = await runTool("deploy", deployArgs(releases[version]), env);
          const now = await serving(stage);
          const ok = run.status === 0 && now === releaseId(releases[version]);
          return { ok, outcome: `exit ${run.status}, serving ${now}`, runs: [run] };
        }),
      );
      await sleep(options.gap);
    }
    operations.push(
      await timed("rollback", "rollback", async () => {
        const run = await runTool("rollback", [], env);
        const now = await serving(stage);
        const ok = run.status === 0 && now === releaseId(releases["1.0.4"]);
        return { ok, outcome: `exit ${run.status}, serving ${now}`, runs: [run] };
      }),
    );
    await sleep(options.gap);
    const before = releaseId(releases["1.0.4"]);
    operations.push(
      await timed("fault: health check fails", "fault", async () => {
        const run = await runTool("deploy", deployArgs(unhealthy), {
          ...env,
          GUINCHO_HEALTH_TIMEOUT: "3",
        });
        const now = await serving(stage);
        const ok = run.status === 1 && now === before;
        return { ok, outcome: `exit ${run.status}, rolled back, serving ${now}`, runs: [run] };
      }),
    );
    await sleep(options.gap);
    operations.push(
      await timed("fault: migration fails", "fault", async () => {
        const run = await runTool("deploy", deployArgs(badMigration), env);
        const now = await serving(stage);
        const ok = run.status === 1 && now === before;
        return { ok, outcome: `exit ${run.status}, serving ${now}`, runs: [run] };
      }),
    );
    await sleep(options.gap);
    operations.push(
      await timed("fault: SIGKILL half-way, next deploy", "fault", async () => {
        const killed = startTool("deploy", deployArgs(releases["1.0.6"]), env);
        await killed.waitFor("deploy_switched");
        killed.child.kill("SIGKILL");
        await killed.done;
        const next = await runTool("deploy", deployArgs(releases["1.0.6"]), env);
        const recovered = next.events.find((event) => event.event === "deploy_recovered");
        const now = await serving(stage);
        const ok = next.status === 0 && now === releaseId(releases["1.0.6"]);
        const outcome = `killed, next deploy ${String(recovered?.action)} it, serving ${now}`;
        const windows = { ...next, events: [...killed.events, ...next.events] };
        return { ok, outcome, runs: [windows] };
      }),
    );
    await sleep(options.gap);
    operations.push(
      await timed("fault: two deploys at once", "fault", async () => {
        const one = startTool("deploy", deployArgs(releases["1.0.7"]), env);
        await one.waitFor("deploy_fetched");
        const two = await runTool("deploy", deployArgs(releases["1.0.0"]), env);
        const done = await one.done;
        const now = await serving(stage);
        const ok = done.status === 0 && two.status === 75 && now === releaseId(releases["1.0.7"]);
        const outcome = `first exit ${done.status}, second exit ${two.status} (lock), serving ${now}`;
        return { ok, outcome, runs: [done] };
      }),
    );
    await sleep(options.gap);
    const samples = await load.stop();
    load = undefined;
    report(options, samples, operations);
    const failed = samples.filter((sample) => sample.status < 200 || sample.status >= 300);
    if (failed.length > 0 || operations.some((operation) => !operation.ok)) {
      console.error(
        `bench:deploy: ${failed.length} failed requests; first: ${JSON.stringify(failed[0])}`,
      );
      process.exitCode = 1;
    }
  } finally {
    await load?.stop();
    stopStage(stage);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function report(options: Options, samples: Sample[], operations: Operation[]): void {
  const busy = operations.map((op): [number, number] => [op.start - 200, op.end + 200]);
  const steady = samples.filter((sample) => !inside(sample, busy));
  const planned = operations.filter((op) => op.kind !== "fault");
  const switches = planned.flatMap((op) => op.switches);
  const during = samples.filter((sample) => inside(sample, switches));
  const whole = samples.filter((sample) =>
    inside(
      sample,
      planned.map((op) => [op.start, op.end]),
    ),
  );
  const p99 = (list: Sample[]) =>
    percentile(
      list.map((sample) => sample.ms),
      0.99,
    );
  const ratio = p99(during) / p99(steady);
  const seconds = (samples.at(-1)!.at - samples[0].at) / 1000;
  console.log(
    `\n### Deploy benchmark: ${samples.length} requests through nginx over ${seconds.toFixed(0)} s ` +
      `(${options.rate} req/s, ${os.cpus().length} cores)\n`,
  );
  console.log("| phase | requests | failed | retried | p50 ms | p99 ms | max ms | notes |");
  console.log("|---|---:|---:|---:|---:|---:|---:|---|");
  console.log(stats("steady state (baseline)", steady, "between operations"));
  console.log(
    stats(
      "during switches (5 deploys + 1 rollback)",
      during,
      `reload + drain + old colour stopped; p99 ${ratio.toFixed(2)}x steady ` +
        `(goal <= 2x: ${ratio <= 2 ? "met" : "missed"})`,
    ),
  );
  console.log(stats("whole deploys and rollback", whole, "fetch to old colour stopped"));
  for (const op of operations) {
    const window: [number, number][] = [[op.start, op.end]];
    const secs = ((op.end - op.start) / 1000).toFixed(1);
    console.log(
      stats(
        op.name,
        samples.filter((sample) => inside(sample, window)),
        `${secs} s; ${op.outcome}`,
      ),
    );
  }
  console.log("\nSlowest requests and the step they started in:\n");
  for (const sample of [...samples].sort((a, b) => b.ms - a.ms).slice(0, 5)) {
    console.log(`- ${sample.ms.toFixed(0)} ms: ${stepAt(sample.at, operations)}`);
  }
  const failed = samples.filter((sample) => sample.status < 200 || sample.status >= 300).length;
  const retried = samples.filter((sample) => sample.retried).length;
  console.log(
    `\nFailed requests in total: ${failed} of ${samples.length}. Retried: ${retried} ` +
      "(sent on a pooled keep-alive connection that nginx's old worker closed, answered on a " +
      "fresh one).",
  );
}

/** "deploy 1.0.3 after deploy_backup_done" for a moment inside an operation, else "steady". */
function stepAt(at: number, operations: Operation[]): string {
  const op = operations.find((item) => at >= item.start && at <= item.end);
  if (!op) {
    return "steady state";
  }
  const before = op.events.filter((event) => event.time && Date.parse(event.time) <= at).at(-1);
  return `${op.name}, after ${before?.event ?? "its start"}`;
}

main().catch((error: unknown) => {
  console.error(`bench:deploy: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
