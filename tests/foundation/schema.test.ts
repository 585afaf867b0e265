import * as fs from "fs";
import * as YAML from "yaml";
import { StageConfigSchema } from "../../config";
import {
  PROJECT_FILE,
  projectConfigBlock,
  REFERENCE_FILE,
  renderProjectFile,
  renderReference,
  renderSchemaFile,
  SCHEMA_FILE,
  stackFileSchema,
} from "../../tools/schema";

describe("generated schemas", () => {
  test("Pulumi.yaml and the stack-file JSON Schema are up to date (npm run schema)", () => {
    expect(fs.readFileSync(PROJECT_FILE, "utf8")).toBe(renderProjectFile());
    expect(fs.readFileSync(SCHEMA_FILE, "utf8")).toBe(renderSchemaFile());
    expect(fs.readFileSync(REFERENCE_FILE, "utf8")).toBe(renderReference());
  });

  test("the reference lists every key with its default and bounds", () => {
    const lines = renderReference().split("\n");
    expect(lines).toContain(
      "| `guincho:server.bootDiskGb` | integer | 20 | from 10 to 200 | Boot disk size. |",
    );
    expect(lines).toContain(
      "| `guincho:gcpProject` | string | required | matches `^[a-z][a-z0-9-]{4,28}[a-z0-9]$` | " +
        "Google Cloud project id of this stage (one project per stage). |",
    );
  });

  test("every project key has a type and a description in Pulumi.yaml", () => {
    const block = projectConfigBlock() as Record<string, { type: string; description: string }>;
    expect(Object.keys(block)).toEqual(Object.keys(StageConfigSchema.shape));
    for (const [key, entry] of Object.entries(block)) {
      expect([
        key,
        ["string", "integer", "boolean", "array", "object"].includes(entry.type),
      ]).toEqual([key, true]);
      expect([key, entry.description.length > 10]).toEqual([key, true]);
    }
    expect(block.region).toEqual({
      type: "string",
      description: "Google Cloud region of every regional resource.",
      default: "southamerica-east1",
    });
    expect(block.admins).toMatchObject({ type: "array", items: { type: "string" } });
  });

  test("the stack-file schema requires the required keys and refuses unknown ones", () => {
    const config = (stackFileSchema().properties as any).config;
    expect(config.required).toEqual([
      "guincho:gcpProject",
      "guincho:domain",
      "guincho:admins",
      "guincho:contacts",
      "guincho:github",
      "guincho:server",
      "guincho:sheets",
      "guincho:edge",
      "guincho:backup",
    ]);
    expect(config.additionalProperties).toBe(false);
    expect(config.properties["guincho:monitoring"].properties.chatWebhookUrl.anyOf[1]).toEqual(
      expect.objectContaining({ required: ["secure"] }),
    );
  });

  test("the stack files point editors at the schema", () => {
    for (const stage of ["dev", "staging", "prod"]) {
      const text = fs.readFileSync(`${__dirname}/../../Pulumi.${stage}.yaml`, "utf8");
      expect(text.split("\n")[0]).toBe(
        "# yaml-language-server: $schema=./schema/stack-config.schema.json",
      );
      expect(YAML.parse(text).config).toBeDefined();
    }
  });
});
