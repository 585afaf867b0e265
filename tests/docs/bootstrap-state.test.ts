/**
 * tools/bootstrap-state.sh, run for real with a fake `gcloud` first on the PATH that records
 * every call: what a new organisation gets, what a second run skips, and its mistakes.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { repoRoot, tempDir } from "../helpers/host";
import { fencedSnippets, handbookPages, read } from "./handbook";

const script = path.join(repoRoot, "tools", "bootstrap-state.sh");
const ARGS = ["guincho-lacerda-pulumi-state", "southamerica-east1", "guincho-lacerda-ops"];

// Describes succeed for names listed in FAKE_GCLOUD_EXISTING; every call is logged.
const FAKE_GCLOUD = `#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$FAKE_GCLOUD_LOG"
if [[ "$3" == describe ]]; then
  for name in $FAKE_GCLOUD_EXISTING; do
    if [[ "$4" == "$name" ]]; then
      [[ "$*" == *"value(versioning_enabled)"* ]] && echo True
      exit 0
    fi
  done
  echo "ERROR: (gcloud) NOT_FOUND: $4" >&2
  exit 1
fi
`;

function bootstrap(args: string[], existing: string[] = []) {
  const { dir, cleanup } = tempDir("bootstrap");
  try {
    fs.writeFileSync(path.join(dir, "gcloud"), FAKE_GCLOUD, { mode: 0o755 });
    const log = path.join(dir, "calls.log");
    const result = spawnSync("bash", [script, ...args], {
      encoding: "utf8",
      env: {
        ...process.env,
        PATH: `${dir}:${process.env.PATH ?? ""}`,
        FAKE_GCLOUD_LOG: log,
        FAKE_GCLOUD_EXISTING: existing.join(" "),
      },
    });
    const calls = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trimEnd().split("\n") : [];
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls };
  } finally {
    cleanup();
  }
}

/** The first key rotation the script schedules: 90 days from today, midnight UTC. */
function nextRotation(): string {
  const day = new Date(Date.now() + 90 * 86400_000).toISOString().slice(0, 10);
  return `${day}T00:00:00Z`;
}

const P = "--project=guincho-lacerda-ops";
const L = "--location=southamerica-east1";
const BUCKET = "gs://guincho-lacerda-pulumi-state";
const creates = () => [
  `services enable storage.googleapis.com cloudkms.googleapis.com ${P}`,
  `storage buckets create ${BUCKET} ${P} ${L} --uniform-bucket-level-access --public-access-prevention`,
  `storage buckets update ${BUCKET} ${P} --versioning`,
  `kms keyrings create pulumi ${L} ${P}`,
  ...["dev", "staging", "prod"].map(
    (stage) =>
      `kms keys create ${stage} --keyring=pulumi ${L} ${P} --purpose=encryption ` +
      `--rotation-period=90d --next-rotation-time=${nextRotation()}`,
  ),
];

describe("tools/bootstrap-state.sh", () => {
  test("passes shellcheck", () => {
    const result = spawnSync("shellcheck", [script], { encoding: "utf8" });
    expect(result.stdout).toBe("");
    expect(result.status).toBe(0);
  });

  test("--dry-run prints every command for a new organisation and calls nothing", () => {
    const { status, stdout, calls } = bootstrap(["--dry-run", ...ARGS]);
    expect(status).toBe(0);
    expect(stdout.trimEnd().split("\n")).toEqual(creates().map((c) => `gcloud ${c}`));
    expect(calls).toEqual([]);
  });

  test("creates the bucket, the key ring and one key per stage when none exists", () => {
    const { status, calls, stderr } = bootstrap(ARGS);
    expect(status).toBe(0);
    expect(calls.filter((c) => !c.includes(" describe "))).toEqual(creates());
    expect(stderr).toContain(
      "pulumi stack init dev --secrets-provider gcpkms://projects/guincho-lacerda-ops/" +
        "locations/southamerica-east1/keyRings/pulumi/cryptoKeys/dev",
    );
  });

  test("runs the same commands as its dry run", () => {
    const dry = bootstrap(["--dry-run", ...ARGS])
      .stdout.trimEnd()
      .split("\n");
    const real = bootstrap(ARGS).calls.filter((c) => !c.includes(" describe "));
    expect(real.map((c) => `gcloud ${c}`)).toEqual(dry);
  });

  test("a second run looks everything up and creates nothing", () => {
    const { status, calls } = bootstrap(ARGS, [BUCKET, "pulumi", "dev", "staging", "prod"]);
    expect(status).toBe(0);
    expect(calls).toEqual([
      `services enable storage.googleapis.com cloudkms.googleapis.com ${P}`,
      `storage buckets describe ${BUCKET} ${P}`,
      `storage buckets describe ${BUCKET} ${P} --format=value(versioning_enabled)`,
      `kms keyrings describe pulumi ${L} ${P}`,
      ...["dev", "staging", "prod"].map((s) => `kms keys describe ${s} --keyring=pulumi ${L} ${P}`),
    ]);
  });

  test("creates only the key that is missing", () => {
    const { calls } = bootstrap(ARGS, [BUCKET, "pulumi", "dev", "staging"]);
    expect(calls.filter((c) => !c.includes(" describe ") && !c.startsWith("services"))).toEqual([
      creates()[6],
    ]);
  });

  test.each([
    [
      ["gs://state", "southamerica-east1", "guincho-lacerda-ops"],
      'bootstrap-state: state bucket: received "gs://state"; expected 3-63 lower-case ' +
        "letters, digits, - or _ (no gs://)",
    ],
    [
      ["state-bucket", "Sao Paulo", "guincho-lacerda-ops"],
      'bootstrap-state: region: received "Sao Paulo"; expected a Google Cloud region such ' +
        "as southamerica-east1",
    ],
    [
      ["state-bucket", "southamerica-east1", "Ops"],
      'bootstrap-state: project: received "Ops"; expected a project id: 6-30 lower-case ' +
        "letters, digits or -",
    ],
    [
      ["--force", ...ARGS],
      'bootstrap-state: unknown option "--force"; expected --dry-run or --help',
    ],
  ])("refuses %j with one line and exit 2, calling nothing", (args, message) => {
    const { status, stderr, calls } = bootstrap(args);
    expect(status).toBe(2);
    expect(stderr.trimEnd().split("\n").pop()).toBe(message);
    expect(calls).toEqual([]);
  });

  test("refuses a wrong number of arguments", () => {
    const { status, stderr } = bootstrap(["state-bucket"]);
    expect(status).toBe(2);
    expect(stderr).toContain(
      "bootstrap-state: expected 3 arguments (state bucket, region, project), received 1",
    );
  });

  test("every invocation the handbook quotes is accepted as written", () => {
    const quoted = handbookPages()
      .flatMap((page) => fencedSnippets(read(page)))
      .filter((snippet) => snippet.startsWith("tools/bootstrap-state.sh "));
    expect(quoted.length).toBeGreaterThanOrEqual(2);
    for (const snippet of quoted) {
      const args = snippet.split(/\s+/).slice(1);
      const dry = args.includes("--dry-run") ? args : ["--dry-run", ...args];
      const { status, stderr } = bootstrap(dry);
      expect({ snippet, status, stderr: status === 0 ? "" : stderr }).toEqual({
        snippet,
        status: 0,
        stderr: "",
      });
    }
  });
});
