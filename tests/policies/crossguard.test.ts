/**
 * Loads the pack exactly as `pulumi preview --policy-pack policies` does (Pulumi's
 * run-policy-pack, ts-node, the pack directory as working directory, dependencies from the
 * root node_modules), then asks it over gRPC, as the engine would.
 *
 * Opt-in (CROSSGUARD_E2E=1, `npm run test:crossguard`): the first ts-node type check of the
 * pack takes 5 to 45 seconds, too slow for every `npm test`.
 */
import { spawn, type ChildProcess } from "child_process";
import * as path from "path";

const ROOT = path.resolve(__dirname, "../..");
const run = process.env.CROSSGUARD_E2E === "1" ? describe : describe.skip;

/** The generated gRPC modules, loaded only when the test runs (they have no types here). */
function grpcModules(): Record<"grpc" | "services" | "messages" | "structpb" | "emptypb", any> {
  return {
    grpc: jest.requireActual("@grpc/grpc-js"),
    services: jest.requireActual("@pulumi/pulumi/proto/analyzer_grpc_pb"),
    messages: jest.requireActual("@pulumi/pulumi/proto/analyzer_pb"),
    structpb: jest.requireActual("google-protobuf/google/protobuf/struct_pb"),
    emptypb: jest.requireActual("google-protobuf/google/protobuf/empty_pb"),
  };
}

function call(client: any, method: string, request: unknown): Promise<any> {
  return new Promise((resolve, reject) =>
    client[method](request, (err: Error | null, res: unknown) =>
      err ? reject(err) : resolve(res),
    ),
  );
}

run("the pack under CrossGuard's own runner", () => {
  let child: ChildProcess;
  let port: string;

  beforeAll(async () => {
    const runner = path.join(ROOT, "node_modules/@pulumi/pulumi/cmd/run-policy-pack");
    child = spawn(process.execPath, [runner, "127.0.0.1:9", "."], {
      cwd: path.join(ROOT, "policies"),
      stdio: ["ignore", "pipe", "inherit"],
    });
    port = await new Promise<string>((resolve) =>
      child.stdout!.once("data", (buf: Buffer) => resolve(buf.toString().trim())),
    );
  }, 120_000);

  afterAll(() => {
    child.kill();
  });

  test("serves the guincho-lacerda pack and reports SSH open to ::/0 through a port range", async () => {
    const { grpc, services, messages, structpb, emptypb } = grpcModules();
    const client = new services.AnalyzerClient(
      `127.0.0.1:${port}`,
      grpc.credentials.createInsecure(),
    );
    const info = await call(client, "getAnalyzerInfo", new emptypb.Empty());
    expect(info.getName()).toBe("guincho-lacerda");
    const request = new messages.AnalyzeRequest();
    request.setType("gcp:compute/firewall:Firewall");
    request.setName("allow-ssh");
    request.setUrn("urn:pulumi:prod::guincho-lacerda::gcp:compute/firewall:Firewall::allow-ssh");
    request.setProperties(
      structpb.Struct.fromJavaScript({
        allows: [{ protocol: "tcp", ports: ["20-30"] }],
        sourceRanges: ["::/0"],
        logConfig: { metadata: "INCLUDE_ALL_METADATA" },
      }),
    );
    request.setOptions(new messages.AnalyzerResourceOptions());
    const response = await call(client, "analyze", request);
    const found = response
      .getDiagnosticsList()
      .map((d: { getPolicyname(): string; getMessage(): string }) => [
        d.getPolicyname(),
        d.getMessage().split("\n").pop(),
      ]);
    expect(found).toEqual([
      [
        "firewall-no-internet-ssh",
        'Firewall "allow-ssh" allows SSH (port 22) from the whole internet: sourceRanges ["::/0"], allow {"ports":["20-30"],"protocol":"tcp"}. Allow SSH only from IAP\'s range 35.235.240.0/20 and connect with `gcloud compute ssh --tunnel-through-iap`.',
      ],
    ]);
    client.close();
  }, 60_000);
});
