/**
 * The patch deployments as the program declares them, per stage, and the window mistakes
 * config reports.
 */
import { ConfigError, rawFromPulumiConfig, validateStageConfig } from "../../config";
import type { ProgramRun } from "../../tools/program";
import { named, ofType, runStage, stackConfig } from "../helpers/program";

const PATCH = "gcp:osconfig/patchDeployment:PatchDeployment";
let prod: ProgramRun;
let devElsewhere: ProgramRun;

beforeAll(async () => {
  prod = await runStage("prod");
  // dev with its own window and time zone: the schedule must follow both.
  devElsewhere = await runStage("dev", {
    "guincho:maintenance": { window: "Wed 22:00-23:30" },
    "guincho:timeZone": "Europe/Berlin",
  });
});

describe("patch deployments", () => {
  test("prod patches weekly and monthly, nothing else", () => {
    expect(ofType(prod, PATCH).map((r) => r.name)).toEqual([
      "guincho-prod-weekly-security",
      "guincho-prod-monthly-full",
    ]);
  });

  test("prod's weekly security run: Sunday 04:00 Sao Paulo, the app VM only, backup first", () => {
    expect(named(prod, PATCH, "guincho-prod-weekly-security").props).toEqual({
      project: "guincho-lacerda-prod",
      patchDeploymentId: "guincho-prod-weekly-security",
      description:
        "Weekly security patches (apt-get upgrade), Sun 04:00 America/Sao_Paulo, after a " +
        "pre-patch backup.",
      instanceFilter: {
        groupLabels: [{ labels: { app: "guincho-lacerda", stage: "prod" } }],
        zones: ["southamerica-east1-b"],
      },
      patchConfig: {
        apt: { type: "UPGRADE" },
        rebootConfig: "DEFAULT",
        migInstancesAllowed: false,
        preStep: {
          linuxExecStepConfig: {
            localPath: "/opt/guincho/host/maintenance/pre-patch",
            interpreter: "SHELL",
          },
        },
        postStep: {
          linuxExecStepConfig: {
            localPath: "/opt/guincho/host/maintenance/post-patch",
            interpreter: "SHELL",
          },
        },
      },
      duration: "3600s",
      recurringSchedule: {
        timeZone: { id: "America/Sao_Paulo" },
        timeOfDay: { hours: 4, minutes: 0, seconds: 0, nanos: 0 },
        weekly: { dayOfWeek: "SUNDAY" },
      },
      rollout: { mode: "ZONE_BY_ZONE", disruptionBudget: { fixed: 1 } },
    });
  });

  test("prod's monthly full update: first Sunday, second half of the window, dist-upgrade", () => {
    const props = named(prod, PATCH, "guincho-prod-monthly-full").props;
    expect(props.recurringSchedule).toEqual({
      timeZone: { id: "America/Sao_Paulo" },
      timeOfDay: { hours: 5, minutes: 0, seconds: 0, nanos: 0 },
      monthly: { weekDayOfMonth: { dayOfWeek: "SUNDAY", weekOrdinal: 1 } },
    });
    expect(props.duration).toBe("3600s");
    expect((props.patchConfig as { apt: unknown }).apt).toEqual({ type: "DIST" });
  });

  test("a stage's own window and time zone move both runs", () => {
    const weekly = named(devElsewhere, PATCH, "guincho-dev-weekly-security").props;
    const monthly = named(devElsewhere, PATCH, "guincho-dev-monthly-full").props;
    expect([weekly.recurringSchedule, weekly.duration]).toEqual([
      {
        timeZone: { id: "Europe/Berlin" },
        timeOfDay: { hours: 22, minutes: 0, seconds: 0, nanos: 0 },
        weekly: { dayOfWeek: "WEDNESDAY" },
      },
      "2700s",
    ]);
    expect([monthly.recurringSchedule, monthly.duration]).toEqual([
      {
        timeZone: { id: "Europe/Berlin" },
        timeOfDay: { hours: 22, minutes: 45, seconds: 0, nanos: 0 },
        monthly: { weekDayOfMonth: { dayOfWeek: "WEDNESDAY", weekOrdinal: 1 } },
      },
      "2700s",
    ]);
    expect((weekly.instanceFilter as { groupLabels: unknown }).groupLabels).toEqual([
      { labels: { app: "guincho-lacerda", stage: "dev" } },
    ]);
    expect(devElsewhere.outputs.patchSchedule).toEqual([
      "weekly-security: every WEDNESDAY 22:00 Europe/Berlin, at most 45 minutes",
      "monthly-full: first WEDNESDAY 22:45 Europe/Berlin, at most 45 minutes",
    ]);
  });
});

describe("maintenance window mistakes", () => {
  let dev: Record<string, unknown>;
  beforeAll(() => {
    dev = rawFromPulumiConfig(stackConfig("dev"));
  });

  function problemsOf(changes: Record<string, unknown>): string[] {
    try {
      validateStageConfig("dev", { ...dev, ...changes });
    } catch (e) {
      if (e instanceof ConfigError) {
        return e.problems;
      }
      throw e;
    }
    throw new Error("the config was accepted");
  }

  test.each(["Sunday 04:00-06:00", "Sun 4:00-6:00", "Sun 04:00", "Sun 24:00-25:00"])(
    "fails on a window that does not parse: %s",
    (window) => {
      expect(problemsOf({ maintenance: { window } })).toEqual([
        `guincho:maintenance.window: received ${JSON.stringify(window)}; expected a weekly ` +
          'window like "Sun 04:00-06:00" in the stage\'s time zone',
      ]);
    },
  );

  test.each(["Sun 04:00-04:30", "Sun 06:00-04:00"])(
    "fails on a window shorter than an hour or ending before it starts: %s",
    (window) => {
      expect(problemsOf({ maintenance: { window } })).toEqual([
        `guincho:maintenance.window: received ${JSON.stringify(window)}; the window must end ` +
          "at least one hour after it starts, on the same day",
      ]);
    },
  );

  test("fails on a time zone that is not an IANA name", () => {
    expect(problemsOf({ timeZone: "BRT" })).toEqual([
      'guincho:timeZone: received "BRT"; expected an IANA time zone such as "America/Sao_Paulo"',
    ]);
  });
});
