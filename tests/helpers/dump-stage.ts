/**
 * Runs the program for one committed stack under mocks and writes the run as JSON, for the
 * test suite's global setup: the three committed stacks run once per `npm test`, in
 * parallel processes, instead of once per test file.
 *
 *   node -r @swc-node/register tests/helpers/dump-stage.ts <stage> <out.json>
 */
import * as fs from "fs";
import * as path from "path";
import { ConfigError } from "../../config";
import { readStackConfig, repoRoot, runProgram } from "../../tools/program";

async function main(stage: string, out: string): Promise<void> {
  const run = await runProgram(stage, readStackConfig(path.join(repoRoot, `Pulumi.${stage}.yaml`)));
  const error = run.error
    ? {
        name: run.error.name,
        message: run.error.message,
        problems: run.error instanceof ConfigError ? run.error.problems : undefined,
      }
    : undefined;
  fs.writeFileSync(out, JSON.stringify({ ...run, error }));
}

main(process.argv[2], process.argv[3]).catch((e: Error) => {
  process.stderr.write(`${e.stack ?? e.message}\n`);
  process.exit(1);
});
