import * as path from "path";
import {
  ConfigError,
  OFFLINE_SECRET_PLACEHOLDER,
  parseWindow,
  rawFromPulumiConfig,
  stageOfStack,
  validateStageConfig,
} from "../../config";
import { readStackConfig } from "../../tools/program";

const root = path.resolve(__dirname, "..", "..");
const stackRaw = (stage: string) =>
  rawFromPulumiConfig(readStackConfig(path.join(root, `Pulumi.${stage}.yaml`)));

/** The dev stack's raw config with one change applied (a deep copy; `undefined` deletes). */
function devWith(change: (raw: Record<string, any>) => void): Record<string, unknown> {
  const raw = structuredClone(stackRaw("dev")) as Record<string, any>;
  change(raw);
  return raw;
}

function problemsOf(stack: string, raw: Record<string, unknown>): string[] {
  try {
    validateStageConfig(stack, raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error("expected the config to be rejected");
}

describe("the committed stacks", () => {
  test.each(["dev", "staging", "prod"])("%s validates", (stage) => {
    expect(() => validateStageConfig(stage, stackRaw(stage))).not.toThrow();
  });

  test("prod is protected and locks backup retention; dev and staging are not", () => {
    const prod = validateStageConfig("prod", stackRaw("prod"));
    const dev = validateStageConfig("dev", stackRaw("dev"));
    const staging = validateStageConfig("staging", stackRaw("staging"));
    expect([prod.protect, prod.lockRetention]).toEqual([true, true]);
    expect([dev.protect, dev.lockRetention, staging.protect]).toEqual([false, false, false]);
  });

  test("derives names, labels and the host name from the stage", () => {
    const prod = validateStageConfig("prod", stackRaw("prod"));
    expect(prod.namePrefix).toBe("guincho-prod");
    expect(prod.fqdn).toBe("app.guincholacerda.com.br");
    expect(prod.backupBucketName).toBe("guincho-lacerda-prod-backups");
    expect(prod.commonLabels).toEqual({
      "cost-center": "operacoes",
      app: "guincho-lacerda",
      stage: "prod",
      "managed-by": "pulumi",
    });
  });

  test("applies defaults for keys a stack leaves out", () => {
    const dev = validateStageConfig("dev", stackRaw("dev"));
    expect(dev.region).toBe("southamerica-east1");
    expect(dev.timeZone).toBe("America/Sao_Paulo");
    expect(dev.maintenanceWindow).toEqual({
      day: "Sun",
      start: "04:00",
      end: "06:00",
      durationMinutes: 120,
    });
  });
});

describe("mistakes a new user makes", () => {
  test("a missing required key names the key", () => {
    expect(
      problemsOf(
        "dev",
        devWith((r) => delete r.gcpProject),
      ),
    ).toEqual(["guincho:gcpProject: required, but missing; set it in Pulumi.<stack>.yaml"]);
  });

  test("a misspelt key is an error with a suggestion, not a silent default", () => {
    const raw = devWith((r) => {
      r.sever = r.server;
    });
    expect(problemsOf("dev", raw)).toEqual([
      'guincho:sever: unknown key (a typo would silently fall back to a default); did you mean "server"? ' +
        "known keys here: gcpProject, region, zone, timeZone, domain, labels, admins, contacts, " +
        "github, network, server, sheets, edge, backup, release, monitoring, maintenance",
    ]);
  });

  test("a misspelt nested key is reported with its full path", () => {
    const raw = devWith((r) => {
      r.server.machinetype = "e2-small";
    });
    expect(problemsOf("dev", raw)).toEqual([
      "guincho:server.machinetype: unknown key (a typo would silently fall back to a default); " +
        'did you mean "machineType"? known keys here: machineType, bootDiskGb, dataDiskGb, ' +
        "dataDiskType, snapshotRetentionDays, snapshotAt",
    ]);
  });

  test("a malformed e-mail names the list entry and the value", () => {
    const raw = devWith((r) => {
      r.contacts[1].email = "rafael.lacerda@";
    });
    expect(problemsOf("dev", raw)).toEqual([
      'guincho:contacts[1].email: received "rafael.lacerda@"; expected an e-mail address like ' +
        "ana@guincholacerda.com.br",
    ]);
  });

  test("a number out of range says the bound", () => {
    const raw = devWith((r) => {
      r.sheets.readRequestsPerMinute = 5000;
    });
    expect(problemsOf("dev", raw)).toEqual([
      "guincho:sheets.readRequestsPerMinute: received 5000; expected at most 300",
    ]);
  });

  test("a wrong type says what type is expected", () => {
    const raw = devWith((r) => {
      r.edge.enabled = "no";
    });
    expect(problemsOf("dev", raw)).toEqual([
      'guincho:edge.enabled: received "no"; expected boolean',
    ]);
  });

  test("every problem is reported at once, schema and cross-field alike", () => {
    const raw = devWith((r) => {
      r.zone = "us-east1-b";
      r.server.dataDiskGb = 5;
      r.network.subnetCidr = "10.10.0.1/24";
      r.timeZone = "Brazil/Nowhere";
    });
    expect(problemsOf("dev", raw)).toEqual([
      'guincho:network.subnetCidr: received "10.10.0.1/24"; expected an IPv4 network in CIDR ' +
        "form with no host bits set, like 10.20.0.0/24",
      "guincho:server.dataDiskGb: received 5; expected at least 10",
      'guincho:zone: received "us-east1-b"; not a zone of region southamerica-east1: expected ' +
        "one of southamerica-east1-a, southamerica-east1-b, southamerica-east1-c",
      'guincho:timeZone: received "Brazil/Nowhere"; expected an IANA time zone such as ' +
        '"America/Sao_Paulo"',
    ]);
  });

  test("a public range for the subnet is refused", () => {
    const raw = devWith((r) => {
      r.network.subnetCidr = "8.8.8.0/24";
    });
    expect(problemsOf("dev", raw)).toEqual([
      'guincho:network.subnetCidr: received "8.8.8.0/24"; expected a private (RFC 1918) range: ' +
        "10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16",
    ]);
  });

  test("a maintenance window that does not parse, or ends before it starts", () => {
    expect(
      problemsOf(
        "dev",
        devWith((r) => (r.maintenance = { window: "sunday 4am" })),
      ),
    ).toEqual([
      'guincho:maintenance.window: received "sunday 4am"; expected a weekly window like ' +
        '"Sun 04:00-06:00" in the stage\'s time zone',
    ]);
    expect(
      problemsOf(
        "dev",
        devWith((r) => (r.maintenance = { window: "Sun 06:00-05:00" })),
      ),
    ).toEqual([
      'guincho:maintenance.window: received "Sun 06:00-05:00"; the window must end at least ' +
        "one hour after it starts, on the same day",
    ]);
  });

  test("contacts that would leave alerts unread are refused", () => {
    const raw = devWith((r) => {
      r.contacts = [{ name: "Rafael", email: "rafael@guincholacerda.com.br", role: "developer" }];
    });
    expect(problemsOf("dev", raw)).toEqual([
      'guincho:contacts: received 1 contact(s) and none has role "on-call" or "owner"; alerts ' +
        "would reach no one",
    ]);
  });

  test("an unknown stack name is refused before anything else", () => {
    expect(() => stageOfStack("qa")).toThrow(ConfigError);
    expect(problemsOf("qa", stackRaw("dev"))[0]).toBe(
      'stack name: received "qa"; expected dev, staging or prod, or a personal stack named ' +
        '"<stage>-<you>" such as "dev-ana"',
    );
  });

  test("a personal stack takes its stage from the prefix", () => {
    expect(stageOfStack("dev-ana")).toBe("dev");
    expect(validateStageConfig("dev-ana", stackRaw("dev")).namePrefix).toBe("guincho-dev");
  });
});

describe("reading Pulumi's raw config", () => {
  test("keeps strings as strings and parses structured values", () => {
    expect(
      rawFromPulumiConfig({
        "guincho:gcpProject": "123456",
        "guincho:server": '{"machineType":"e2-small"}',
        "gcp:project": "ignored",
      }),
    ).toEqual({ gcpProject: "123456", server: { machineType: "e2-small" } });
  });

  test("the offline placeholder is accepted where a secret may stand", () => {
    const raw = devWith((r) => {
      r.monitoring.chatWebhookUrl = OFFLINE_SECRET_PLACEHOLDER;
    });
    expect(validateStageConfig("dev", raw).monitoring.chatWebhookUrl).toBe(
      OFFLINE_SECRET_PLACEHOLDER,
    );
  });

  test("parses a maintenance window into day, start, end and minutes", () => {
    expect(parseWindow("Sat 22:00-23:30")).toEqual({
      day: "Sat",
      start: "22:00",
      end: "23:30",
      durationMinutes: 90,
    });
  });
});
