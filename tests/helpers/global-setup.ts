/**
 * Runs the program once for each committed stack, in parallel child processes, before the
 * test files start; `runStage(stage)` without changes then reads these runs instead of
 * running the program again in every file. Runs with changed config always run fresh.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const root = path.resolve(__dirname, "..", "..");

function dump(stage: string, out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["-r", "@swc-node/register", "tests/helpers/dump-stage.ts", stage, out],
      {
        cwd: root,
        env: { ...process.env, SWC_NODE_SOURCE_MAP_MODE: "inline" },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`running stage ${stage} failed:\n${stderr}`)),
    );
  });
}

export default async function globalSetup(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "guincho-stages-"));
  await Promise.all(["dev", "staging", "prod"].map((s) => dump(s, path.join(dir, `${s}.json`))));
  process.env.GUINCHO_TEST_STAGE_CACHE = dir;
}
