import { only, runStage } from "../helpers/program";

describe("the program under mocks", () => {
  test.each(["dev", "staging", "prod"] as const)(
    "builds an explicit provider for the %s project with the common labels",
    async (stage) => {
      const run = await runStage(stage);
      expect(run.error).toBeUndefined();
      const provider = only(run, "pulumi:providers:gcp");
      expect(provider.props.project).toBe(`guincho-lacerda-${stage}`);
      expect(provider.props.region).toBe("southamerica-east1");
      expect(JSON.parse(String(provider.props.defaultLabels))).toMatchObject({
        app: "guincho-lacerda",
        stage,
        "managed-by": "pulumi",
      });
    },
  );
});
