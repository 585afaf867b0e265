import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import {
  loadRelease,
  packDirectory,
  readArchive,
  ReleaseArchiveError,
} from "../../components/releaseArchive";
import { deployCommand, remoteDeployCommand } from "../../components/release";
import { tempDir } from "../helpers/host";
import { named, repoRoot, runStage } from "../helpers/program";
import type { ProgramRun } from "../../tools/program";

const SAMPLE = path.join(repoRoot, "examples", "sample-app");

describe("release archives", () => {
  test("packing a directory is reproducible: same sources, same bytes, same sha256", () => {
    const first = packDirectory(SAMPLE);
    const second = packDirectory(SAMPLE);
    expect(second.sha256).toBe(first.sha256);
    expect(first.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(first.manifest.version).toBe("1.0.0");
  });

  test("a version override changes the manifest and so the hash", () => {
    const packed = packDirectory(SAMPLE, "1.0.1");
    expect(packed.manifest.version).toBe("1.0.1");
    expect(packed.sha256).not.toBe(packDirectory(SAMPLE).sha256);
  });

  test("the host's deploy tool reads a packed archive's manifest (Python tarfile)", () => {
    const { dir, cleanup } = tempDir("release");
    try {
      const file = path.join(dir, "r.tar.gz");
      fs.writeFileSync(file, packDirectory(SAMPLE, "3.1.4").bytes);
      const script =
        "import sys; sys.path.insert(0, sys.argv[1]);" +
        "from pathlib import Path;" +
        "from guincho_host.releases import read_manifest_from_archive;" +
        "print(read_manifest_from_archive(Path(sys.argv[2])).version)";
      const result = spawnSync(
        "python3",
        ["-c", script, path.join(repoRoot, "host", "lib"), file],
        { encoding: "utf8" },
      );
      expect(result.stderr).toBe("");
      expect(result.stdout.trim()).toBe("3.1.4");
    } finally {
      cleanup();
    }
  });

  test("reads the manifest of an archive built by examples/build_release.py (pax headers)", () => {
    const { dir, cleanup } = tempDir("release");
    try {
      const file = path.join(dir, "py.tar.gz");
      const built = spawnSync(
        "python3",
        [path.join(repoRoot, "examples", "build_release.py"), "--out", file, "--version", "2.5.0"],
        { encoding: "utf8" },
      );
      expect(built.status).toBe(0);
      expect(readArchive(file).manifest.version).toBe("2.5.0");
      expect(loadRelease(file, "2.5.0").sha256).toBe(JSON.parse(built.stdout).sha256);
    } finally {
      cleanup();
    }
  });

  test.each([
    ["a directory without release.json", (dir: string) => dir, /no release\.json at the top/],
    [
      "a file that is not gzip",
      (dir: string) => {
        fs.writeFileSync(path.join(dir, "x.tar.gz"), "plain text");
        return path.join(dir, "x.tar.gz");
      },
      /x\.tar\.gz: not a gzip file; expected a release \.tar\.gz$/,
    ],
    [
      "a path that does not exist",
      (dir: string) => path.join(dir, "missing"),
      /missing: no such file or directory$/,
    ],
  ])("refuses %s", (_what, make, message) => {
    const { dir, cleanup } = tempDir("release");
    try {
      expect(() => loadRelease(make(dir))).toThrow(ReleaseArchiveError);
      expect(() => loadRelease(make(dir))).toThrow(message);
    } finally {
      cleanup();
    }
  });

  test("refuses an archive whose version differs from config's", () => {
    const { dir, cleanup } = tempDir("release");
    try {
      const file = path.join(dir, "r.tar.gz");
      fs.writeFileSync(file, packDirectory(SAMPLE).bytes);
      expect(() => loadRelease(file, "9.9.9")).toThrow(
        `${file}: its release.json says version "1.0.0", config says "9.9.9"; rebuild the ` +
          "archive or fix guincho:release.version",
      );
    } finally {
      cleanup();
    }
  });
});

describe("release component", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runStage("dev");
  });

  test("uploads the archive under its sha256 to the artifacts bucket", () => {
    const sha = packDirectory(SAMPLE).sha256;
    const object = named(run, "gcp:storage/bucketObject:BucketObject", "guincho-dev-archive");
    expect(object.props).toMatchObject({
      bucket: "guincho-lacerda-dev-artifacts",
      name: `releases/${sha}.tar.gz`,
      contentType: "application/gzip",
      metadata: { version: "1.0.0", sha256: sha },
    });
    expect(run.outputs.releaseSha256).toBe(sha);
    expect(run.outputs.releaseVersion).toBe("1.0.0");
  });

  test("deploys through IAP only when the archive changes, and waits for the tool", () => {
    const sha = packDirectory(SAMPLE).sha256;
    const deploy = named(run, "command:local:Command", "guincho-dev-deploy");
    // The archive's hash, and the VM's id: a replaced VM gets the release again.
    expect(deploy.props.triggers).toEqual([sha, "4200000000000000001"]);
    expect(deploy.props.create).toBe(
      "gcloud compute ssh guincho-dev-vm --project=guincho-lacerda-dev " +
        "--zone=southamerica-east1-b --tunnel-through-iap --quiet --command='" +
        "for i in $(seq 1 60); do test -x /opt/guincho/host/bin/deploy && break; sleep 10; " +
        "done; sudo /opt/guincho/host/bin/deploy --archive " +
        `gs://guincho-lacerda-dev-artifacts/releases/${sha}.tar.gz --sha256 ${sha} --keep 5 ` +
        "| tee >(systemd-cat -t guincho-deploy); exit ${PIPESTATUS[0]}'",
    );
    expect(deploy.props.delete).toBeUndefined();
  });

  test("the remote command passes the deploy tool's exit status through the pipe", () => {
    const remote = remoteDeployCommand("b", "abc", 3)
      .replace(/^for .*?done; /, "")
      .replace(/sudo \S+\/deploy .*?--keep 3/, '(echo \'{"event":"deploy_failed"}\'; exit 1)')
      .replace("systemd-cat -t guincho-deploy", "cat >/dev/null");
    const result = spawnSync("bash", ["-c", remote], { encoding: "utf8" });
    expect(result.stdout).toBe('{"event":"deploy_failed"}\n');
    expect(result.status).toBe(1);
  });

  test("the commands are pure functions of their inputs", () => {
    expect(remoteDeployCommand("b", "abc", 3)).toContain("--archive gs://b/releases/abc.tar.gz");
    expect(deployCommand("vm", "z", "p", "true")).toBe(
      "gcloud compute ssh vm --project=p --zone=z --tunnel-through-iap --quiet --command='true'",
    );
  });

  test("a release archive that breaks the contract fails the plan with the key to fix", async () => {
    const broken = await runStage("dev", {
      "guincho:release": { archive: "examples" },
    });
    expect(broken.error?.message).toContain(
      "guincho:release.archive: " +
        path.join(repoRoot, "examples") +
        ": no release.json at the top",
    );
  });
});
