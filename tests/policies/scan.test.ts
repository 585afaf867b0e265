import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  main,
  parseScanArgs,
  readDocument,
  resourcesFromDocument,
  ScanInputError,
  stageFor,
} from "../../tools/scan";

const ROOT = path.resolve(__dirname, "../..");
const FIXTURES = path.join(__dirname, "fixtures");

/** Runs `npm run scan` the way a person does (without npm's banner). */
function scan(...args: string[]) {
  const result = spawnSync(
    process.execPath,
    ["-r", "@swc-node/register", "tools/scan.ts", ...args],
    { cwd: ROOT, encoding: "utf8", env: { ...process.env, SWC_NODE_SOURCE_MAP_MODE: "inline" } },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("npm run scan, as a process", () => {
  test("exits 1 on a resource list with an SSH rule open to the world, in JSON", () => {
    const run = scan(path.join(FIXTURES, "resources.json"), "--stage", "staging", "--json");
    expect(run.stderr).toBe("");
    expect(run.status).toBe(1);
    expect(JSON.parse(run.stdout)).toEqual({
      findings: [
        {
          policy: "firewall-no-internet-ssh",
          enforcementLevel: "mandatory",
          resource: { type: "gcp:compute/firewall:Firewall", name: "allow-ssh" },
          message:
            'Firewall "allow-ssh" allows SSH (port 22) from the whole internet: sourceRanges ["0.0.0.0/0","::/0"], allow {"protocol":"tcp","ports":["22"]}. Allow SSH only from IAP\'s range 35.235.240.0/20 and connect with `gcloud compute ssh --tunnel-through-iap`.',
        },
      ],
    });
  });

  test("exits 0 on a clean stack export, taking the stage from its URNs", () => {
    const run = scan(path.join(FIXTURES, "stack-export.json"));
    expect(run).toEqual({
      status: 0,
      stdout: "0 finding(s), 0 mandatory, on 2 resource(s) with the staging policy config.\n",
      stderr: "",
    });
  });

  test.each([
    [
      ["tests/policies/fixtures/preview.json", "--stage", "qa"],
      'scan: --stage: received "qa"; expected one of dev, staging, prod\n',
    ],
  ])("exits 2 with one line and no stack trace for %j", (args, stderr) => {
    expect(scan(...args)).toEqual({ status: 2, stdout: "", stderr });
  });
});

describe("scan input handling", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "scan-"));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("refuses a file that is not JSON, naming the file", () => {
    const file = path.join(dir, "bad.json");
    fs.writeFileSync(file, "{ not json");
    expect(() => readDocument(file)).toThrow(ScanInputError);
    expect(() => readDocument(file)).toThrow(/^.*bad\.json: not valid JSON \(/);
  });

  test.each([
    [
      { resources: [] },
      'f.json: not a resource list, a `pulumi stack export` document (with "deployment") or a `pulumi preview --json` document (with "steps")',
    ],
    [
      [{ name: "x" }],
      'f.json: item 0 needs a string "type" and "name" (e.g. { "type": "gcp:storage/bucket:Bucket", "name": "backups", "props": {} })',
    ],
    [{ deployment: { resources: {} } }, "f.json: deployment.resources is not a list"],
  ])("refuses the document %j", (doc, message) => {
    expect(() => resourcesFromDocument(doc, "f.json")).toThrow(new ScanInputError(message));
  });

  test("reads protect from opts, and ignores the stack, components and providers of an export", () => {
    const list = resourcesFromDocument(
      [{ type: "gcp:compute/disk:Disk", name: "data", opts: { protect: true } }],
      "f.json",
    );
    expect(list).toEqual([
      { type: "gcp:compute/disk:Disk", name: "data", props: {}, protect: true },
    ]);
    const exported = resourcesFromDocument(
      readDocument(path.join(FIXTURES, "stack-export.json")),
      "f",
    );
    expect(exported.map((r) => [r.type, r.name, r.protect])).toEqual([
      ["gcp:compute/instance:Instance", "guincho-staging-vm", true],
      ["gcp:storage/bucket:Bucket", "guincho-staging-backups", true],
    ]);
  });

  test.each([
    [undefined, "urn:pulumi:dev-ana::guincho-lacerda::gcp:compute/disk:Disk::d", "dev"],
    ["staging", "urn:pulumi:prod::guincho-lacerda::gcp:compute/disk:Disk::d", "staging"],
    [undefined, "urn:pulumi:sandbox::p::gcp:compute/disk:Disk::d", "prod"],
  ] as const)("with --stage %s and URN %s applies %s", (flag, urn, stage) => {
    const resources = [{ type: "gcp:compute/disk:Disk", name: "d", urn, props: {} }];
    expect(stageFor(resources, flag)).toBe(stage);
  });

  test.each([
    [[], "expected exactly one input file, received none; see --help"],
    [
      ["a.json", "b.json"],
      'expected exactly one input file, received "a.json", "b.json"; see --help',
    ],
    [["a.json", "--verbose"], 'unknown flag "--verbose"; allowed: --stage, --json, --help'],
    [["a.json", "--stage"], "--stage needs a value: one of dev, staging, prod"],
  ])("refuses the arguments %j", (argv, message) => {
    expect(() => parseScanArgs(argv)).toThrow(new ScanInputError(message));
  });

  test("exits 1 on a preview that creates a bucket left at the provider's defaults", () => {
    const log = jest.spyOn(console, "log").mockImplementation(() => undefined);
    expect(main([path.join(FIXTURES, "preview.json")])).toBe(1);
    const text = String(log.mock.calls[0][0]);
    log.mockRestore();
    expect(text.split("\n").filter((l) => !l.startsWith("  "))).toEqual([
      'MANDATORY  storage-uniform-access  gcp:storage/bucket:Bucket "guincho-prod-exports"',
      'MANDATORY  storage-public-access-prevention  gcp:storage/bucket:Bucket "guincho-prod-exports"',
      'MANDATORY  stateful-protected  gcp:storage/bucket:Bucket "guincho-prod-exports"',
      "3 finding(s), 3 mandatory, on 1 resource(s) with the prod policy config.",
    ]);
  });

  test("exits 2 with one line on stderr for a file that does not exist", () => {
    const error = jest.spyOn(console, "error").mockImplementation(() => undefined);
    expect(main(["missing.json"])).toBe(2);
    expect(error.mock.calls).toEqual([["scan: missing.json: cannot read the file (ENOENT)"]]);
    error.mockRestore();
  });

  test("prints the usage for --help and exits 0", () => {
    const log = jest.spyOn(console, "log").mockImplementation(() => undefined);
    expect(main(["--help"])).toBe(0);
    expect(log.mock.calls[0][0]).toMatch(
      /^Usage: npm run scan -- <file> \[--stage dev\|staging\|prod\] \[--json\]/,
    );
    log.mockRestore();
  });
});
