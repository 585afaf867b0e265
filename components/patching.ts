/**
 * The OS patch plan of a stage, as data: a weekly security run and a monthly full update,
 * both inside the stage's weekly maintenance window, in the stage's time zone.
 *
 * Debian has no "security only" switch in OS Config (only yum and zypper have one), so the
 * two runs differ in how far apt may go:
 * - weekly, `apt-get upgrade` (UPGRADE): newer versions of installed packages only, never a
 *   new or removed package. On Debian stable, what arrives between point releases is almost
 *   all from the security suite, and a new kernel (a new package) waits for the monthly run.
 * - monthly, `apt-get dist-upgrade` (DIST): also new dependencies, such as the next kernel.
 * The window is split in two halves so the two never run at once on the first week: security
 * in the first half, the full update in the second.
 */
import type { Day, MaintenanceWindow } from "../config";

export const WEEKDAYS: Record<Day, string> = {
  Mon: "MONDAY",
  Tue: "TUESDAY",
  Wed: "WEDNESDAY",
  Thu: "THURSDAY",
  Fri: "FRIDAY",
  Sat: "SATURDAY",
  Sun: "SUNDAY",
};

/** One recurring patch run, before it becomes a `gcp.osconfig.PatchDeployment`. */
export interface PatchRunSpec {
  /** Stable key: the deployment id and resource name derive from it. */
  key: "weekly-security" | "monthly-full";
  description: string;
  aptType: "UPGRADE" | "DIST";
  dayOfWeek: string;
  /** `undefined` for weekly runs; 1 for "the first <day> of the month". */
  weekOrdinal?: number;
  hours: number;
  minutes: number;
  timeZone: string;
  /** The job's time-out: the run may not outlast its half of the window. */
  durationSeconds: number;
}

function minutesOf(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

/** The weekly security run and the monthly full update of a window. */
export function patchRuns(window: MaintenanceWindow, timeZone: string): PatchRunSpec[] {
  const start = minutesOf(window.start);
  const half = Math.floor(window.durationMinutes / 2);
  const day = WEEKDAYS[window.day];
  const at = (minutes: number) => ({ hours: Math.floor(minutes / 60), minutes: minutes % 60 });
  return [
    {
      key: "weekly-security",
      description:
        `Weekly security patches (apt-get upgrade), ${window.day} ${window.start} ` +
        `${timeZone}, after a pre-patch backup.`,
      aptType: "UPGRADE",
      dayOfWeek: day,
      ...at(start),
      timeZone,
      durationSeconds: half * 60,
    },
    {
      key: "monthly-full",
      description:
        `Monthly full update (apt-get dist-upgrade), first ${window.day} of the month, ` +
        `second half of the window, ${timeZone}, after a pre-patch backup.`,
      aptType: "DIST",
      dayOfWeek: day,
      weekOrdinal: 1,
      ...at(start + half),
      timeZone,
      durationSeconds: (window.durationMinutes - half) * 60,
    },
  ];
}

/** The offset of `timeZone` from UTC at `instant`, in minutes (e.g. -180 for Sao Paulo). */
export function zoneOffsetMinutes(instant: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  }).formatToParts(instant);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const asUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"));
  return Math.round((asUtc - Math.floor(instant.getTime() / 60000) * 60000) / 60000);
}

/** The instant a wall-clock time in `timeZone` happens (the first one, across a DST change). */
export function zonedInstant(
  year: number,
  month: number,
  day: number,
  hours: number,
  minutes: number,
  timeZone: string,
): Date {
  const guess = Date.UTC(year, month - 1, day, hours, minutes);
  const first = guess - zoneOffsetMinutes(new Date(guess), timeZone) * 60000;
  return new Date(guess - zoneOffsetMinutes(new Date(first), timeZone) * 60000);
}

const JS_DAYS = ["SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY"];

/**
 * The next `count` start instants of a run after `from`, as OS Config computes them from the
 * schedule: for showing operators when patching happens and for checking the window.
 */
export function nextRuns(run: PatchRunSpec, from: Date, count: number): Date[] {
  const runs: Date[] = [];
  const cursor = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate()));
  cursor.setUTCDate(cursor.getUTCDate() - 1);
  while (runs.length < count) {
    const [y, m, d] = [cursor.getUTCFullYear(), cursor.getUTCMonth() + 1, cursor.getUTCDate()];
    const isDay = JS_DAYS[cursor.getUTCDay()] === run.dayOfWeek;
    const inWeek = run.weekOrdinal === undefined || Math.ceil(d / 7) === run.weekOrdinal;
    if (isDay && inWeek) {
      const start = zonedInstant(y, m, d, run.hours, run.minutes, run.timeZone);
      if (start > from) {
        runs.push(start);
      }
    }
    cursor.setUTCDate(cursor.getUTCDate() + 1);
  }
  return runs;
}
