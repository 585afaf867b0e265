/**
 * Arguments that pass config but are still wrong: the components refuse them with a message
 * that names the argument and the fix.
 */
import * as pulumi from "@pulumi/pulumi";
import { EXAMPLE_THRESHOLDS } from "../../components/alerts";
import { Monitoring } from "../../components/monitoring";

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

test("Monitoring refuses a contact list where nobody would be notified", () => {
  expect(
    () =>
      new Monitoring("m", {
        project: "p",
        stage: "dev",
        fqdn: "dev.example.com",
        edgeEnabled: false,
        contacts: [{ name: "Caio", email: "caio@example.com", role: "developer" }],
        thresholds: EXAMPLE_THRESHOLDS,
        backupBucketName: "b",
        labels: {},
      }),
  ).toThrow(
    'Monitoring: contacts has 1 entries and none with role "on-call" or "owner"; alerts would ' +
      "reach no one. Give someone one of those roles.",
  );
});
