/**
 * Shared fixtures of the server tests: one host's settings as index.ts builds them for the
 * committed dev stack, and small helpers to run the host's own tools on rendered files.
 */
import { spawnSync } from "child_process";
import * as path from "path";
import type { HostSettings } from "../../components/hostFiles";
import { REPORT_TIMES } from "../../components/hostFiles";

export const repoRoot = path.resolve(__dirname, "..", "..");
export const hostRoot = path.join(repoRoot, "host");

/** The dev stage's host settings, with a fixed digest so the expected texts stay readable. */
export const DEV_HOST: HostSettings = {
  stage: "dev",
  gcpProject: "guincho-lacerda-dev",
  timeZone: "America/Sao_Paulo",
  backupBucketName: "guincho-lacerda-dev-backups",
  artifactsBucketName: "guincho-lacerda-dev-artifacts",
  secretId: "guincho-app-secret-key",
  bundle: {
    objectName: `host-bundles/guincho-host-${"ab".repeat(32)}.zip`,
    digest: "ab".repeat(32),
  },
  routines: {
    backupDailyAt: "02:30",
    backupWeeklyAt: "Sun 03:30",
    drillAt: "05:30",
    ...REPORT_TIMES,
  },
  backupLocalCopies: 2,
  keepReleases: 5,
  bootDiskGb: 20,
  accessLogFormat: "guincho_json",
};

export interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command and returns its status and output (never throws on a non-zero exit). */
export function run(
  command: string,
  args: string[],
  options: { cwd?: string; input?: string } = {},
): Ran {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 60_000, ...options });
  return { status: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? "" };
}
