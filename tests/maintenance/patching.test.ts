/**
 * The patch plan (pure): when the weekly and monthly runs start, in which time zone, and that
 * every run lands inside the stage's maintenance window.
 */
import { parseWindow } from "../../config";
import { nextRuns, patchRuns, zonedInstant, zoneOffsetMinutes } from "../../components/patching";
import { patchConfigArgs, recurringScheduleArgs } from "../../components/maintenance";

/** The weekday and minutes-of-day of an instant, on the wall clock of `timeZone`. */
function localClock(instant: Date, timeZone: string): { day: string; minutes: number } {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(instant);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  return { day: get("weekday"), minutes: Number(get("hour")) * 60 + Number(get("minute")) };
}

describe("patch runs of a window", () => {
  test("split the window: security in the first half, the full update in the second", () => {
    const [weekly, monthly] = patchRuns(parseWindow("Sun 04:00-06:00"), "America/Sao_Paulo");
    expect(weekly).toMatchObject({
      key: "weekly-security",
      aptType: "UPGRADE",
      dayOfWeek: "SUNDAY",
      hours: 4,
      minutes: 0,
      durationSeconds: 3600,
      timeZone: "America/Sao_Paulo",
    });
    expect(weekly.weekOrdinal).toBeUndefined();
    expect(monthly).toMatchObject({
      key: "monthly-full",
      aptType: "DIST",
      dayOfWeek: "SUNDAY",
      weekOrdinal: 1,
      hours: 5,
      minutes: 0,
      durationSeconds: 3600,
    });
  });

  test("an odd-length window gives the extra minute to the full update", () => {
    const [weekly, monthly] = patchRuns(parseWindow("Wed 22:15-23:30"), "Europe/Berlin");
    expect([weekly.hours, weekly.minutes, weekly.durationSeconds]).toEqual([22, 15, 37 * 60]);
    expect([monthly.hours, monthly.minutes, monthly.durationSeconds]).toEqual([22, 52, 38 * 60]);
  });

  test("become OS Config schedules: weekly by weekday, monthly on the first weekday", () => {
    const [weekly, monthly] = patchRuns(parseWindow("Sat 01:30-03:00"), "America/Sao_Paulo");
    expect(recurringScheduleArgs(weekly)).toEqual({
      timeZone: { id: "America/Sao_Paulo" },
      timeOfDay: { hours: 1, minutes: 30, seconds: 0, nanos: 0 },
      weekly: { dayOfWeek: "SATURDAY" },
    });
    expect(recurringScheduleArgs(monthly)).toEqual({
      timeZone: { id: "America/Sao_Paulo" },
      timeOfDay: { hours: 2, minutes: 15, seconds: 0, nanos: 0 },
      monthly: { weekDayOfMonth: { dayOfWeek: "SATURDAY", weekOrdinal: 1 } },
    });
  });

  test("back up first, check health after, and reboot only when an update needs it", () => {
    const [weekly] = patchRuns(parseWindow("Sun 04:00-06:00"), "America/Sao_Paulo");
    expect(patchConfigArgs(weekly, "/pre", "/post")).toEqual({
      apt: { type: "UPGRADE" },
      rebootConfig: "DEFAULT",
      migInstancesAllowed: false,
      preStep: { linuxExecStepConfig: { localPath: "/pre", interpreter: "SHELL" } },
      postStep: { linuxExecStepConfig: { localPath: "/post", interpreter: "SHELL" } },
    });
  });
});

describe("when the runs happen", () => {
  test("Sao Paulo (UTC-3, no daylight saving): the next Sundays at 07:00 and 08:00 UTC", () => {
    const [weekly, monthly] = patchRuns(parseWindow("Sun 04:00-06:00"), "America/Sao_Paulo");
    const from = new Date("2026-12-03T12:00:00Z");
    expect(nextRuns(weekly, from, 3).map((d) => d.toISOString())).toEqual([
      "2026-12-06T07:00:00.000Z",
      "2026-12-13T07:00:00.000Z",
      "2026-12-20T07:00:00.000Z",
    ]);
    expect(nextRuns(monthly, from, 3).map((d) => d.toISOString())).toEqual([
      "2026-12-06T08:00:00.000Z",
      "2027-01-03T08:00:00.000Z",
      "2027-02-07T08:00:00.000Z",
    ]);
  });

  test("Berlin keeps the wall-clock time across daylight saving changes", () => {
    const [weekly] = patchRuns(parseWindow("Sun 04:00-06:00"), "Europe/Berlin");
    const runs = nextRuns(weekly, new Date("2027-03-20T00:00:00Z"), 2).map((d) => d.toISOString());
    // 2027-03-28 is the switch to summer time: 04:00 local is 02:00 UTC instead of 03:00.
    expect(runs).toEqual(["2027-03-21T03:00:00.000Z", "2027-03-28T02:00:00.000Z"]);
  });

  test.each([
    ["Sun 04:00-06:00", "America/Sao_Paulo"],
    ["Sat 22:00-23:59", "America/Sao_Paulo"],
    ["Wed 01:30-03:00", "Europe/Berlin"],
    ["Mon 00:00-01:00", "America/New_York"],
  ])("every run of a year with window %s (%s) starts and ends inside it", (text, timeZone) => {
    const window = parseWindow(text);
    const start = Number(window.start.slice(0, 2)) * 60 + Number(window.start.slice(3, 5));
    for (const run of patchRuns(window, timeZone)) {
      for (const instant of nextRuns(run, new Date("2027-01-01T00:00:00Z"), 52)) {
        const clock = localClock(instant, timeZone);
        expect(clock.day).toBe(window.day);
        expect(clock.minutes).toBeGreaterThanOrEqual(start);
        expect(clock.minutes + run.durationSeconds / 60).toBeLessThanOrEqual(
          start + window.durationMinutes,
        );
      }
    }
  });

  test("monthly runs fall on the first such weekday of the month (day 1 to 7)", () => {
    const [, monthly] = patchRuns(parseWindow("Tue 03:00-05:00"), "America/Sao_Paulo");
    const days = nextRuns(monthly, new Date("2027-01-01T00:00:00Z"), 12).map((d) =>
      Number(
        new Intl.DateTimeFormat("en-US", { timeZone: "America/Sao_Paulo", day: "numeric" }).format(
          d,
        ),
      ),
    );
    expect(days).toEqual([5, 2, 2, 6, 4, 1, 6, 3, 7, 5, 2, 7]);
  });

  test("time zone arithmetic: offsets and local instants", () => {
    expect(zoneOffsetMinutes(new Date("2027-07-01T12:00:00Z"), "America/Sao_Paulo")).toBe(-180);
    expect(zoneOffsetMinutes(new Date("2027-07-01T12:00:00Z"), "Europe/Berlin")).toBe(120);
    expect(zonedInstant(2027, 1, 3, 5, 0, "America/Sao_Paulo").toISOString()).toBe(
      "2027-01-03T08:00:00.000Z",
    );
  });
});
