/**
 * The plan benchmark's baseline: loads the Pulumi SDK, installs mocks and declares N bare
 * custom resources in one stack, the least any mocked program of that size must do.
 *
 *   node -r @swc-node/register tools/bench/bare-program.ts <count>
 */
import * as pulumi from "@pulumi/pulumi";

/** The least a resource can be: one input, no provider behind it. */
class Bare extends pulumi.CustomResource {
  constructor(name: string, index: number) {
    super("bench:index:Bare", name, { index });
  }
}

async function main(count: number): Promise<void> {
  pulumi.runtime.setMocks(
    {
      newResource: (args) => ({ id: `${args.name}-id`, state: args.inputs }),
      call: () => ({}),
    },
    "bench",
    "bench",
    false,
  );
  await pulumi.runtime.runInPulumiStack(async () => {
    for (let i = 0; i < count; i++) {
      new Bare(`bare-${i}`, i);
    }
    return undefined;
  });
  await pulumi.runtime.disconnect();
  process.stdout.write(`${count}\n`);
}

main(Number(process.argv[2] ?? "0")).catch((e: Error) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
});
