/**
 * Arguments that pass config but are still wrong: the components refuse them with a message
 * that names the argument and the fix.
 */
import * as pulumi from "@pulumi/pulumi";
import { parseWindow } from "../../config";
import { Maintenance } from "../../components/maintenance";

beforeAll(() => {
  pulumi.runtime.setMocks(
    {
      newResource: (args) => ({ id: `${args.name}-id`, state: args.inputs }),
      call: (args) => args.inputs,
    },
    "guincho",
    "dev",
    false,
  );
});

test("Maintenance refuses an empty label filter, which would patch every VM", () => {
  expect(
    () =>
      new Maintenance("m", {
        project: "p",
        window: parseWindow("Sun 04:00-06:00"),
        timeZone: "America/Sao_Paulo",
        targetLabels: {},
      }),
  ).toThrow(
    "Maintenance: targetLabels is empty, which would patch every VM of the project; pass the " +
      'app VM\'s labels, e.g. { app: "guincho-lacerda", stage: "prod" }.',
  );
});
