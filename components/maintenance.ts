/**
 * Preventive maintenance of the VM's operating system: OS Config patch deployments, weekly
 * security patches and a monthly full update, inside the stage's maintenance window (see
 * `patching.ts` for why the two differ and how they share the window).
 *
 * Each run first takes a backup (`preStep`), and afterwards checks the app answers its
 * health check (`postStep`). The reboot policy is DEFAULT: the agent reboots only when the
 * update asks for it (a new kernel or libc), which is safe because every service of the app
 * (nginx, the active app colour, the timers) is enabled at boot and the data disk is mounted
 * from fstab; the reboot happens inside the window, before the post-patch health check.
 */
import * as gcp from "./gcp";
import * as pulumi from "@pulumi/pulumi";
import type { MaintenanceWindow } from "../config";
import { patchRuns, type PatchRunSpec } from "./patching";

/** Where the host bundle installs the patch steps (`host/maintenance/` in this repository). */
export const PRE_PATCH_STEP = "/opt/guincho/host/maintenance/pre-patch";
export const POST_PATCH_STEP = "/opt/guincho/host/maintenance/post-patch";

export interface MaintenanceArgs {
  /** Google Cloud project id of the stage. */
  project: string;
  /** The stage's weekly maintenance window (`cfg.maintenanceWindow`). */
  window: MaintenanceWindow;
  /** IANA time zone the window is in (`cfg.timeZone`). */
  timeZone: string;
  /**
   * Labels that select the VMs to patch (all of them must match), e.g. app and stage.
   * Must not be empty: an empty filter would patch every VM of the project.
   */
  targetLabels: Record<string, string>;
  /**
   * Zones the VMs are in.
   * @default [] (any zone)
   */
  zones?: string[];
  /**
   * Runs before patching; a non-zero exit skips patching that VM.
   * @default PRE_PATCH_STEP
   */
  preStepPath?: string;
  /**
   * Runs after patching (and after the reboot, if there was one).
   * @default POST_PATCH_STEP
   */
  postStepPath?: string;
  /**
   * Resources the children wait for (the enabled OS Config API).
   * @default []
   */
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** The `patchConfig` of a run: apt mode, reboot policy and the two steps. */
export function patchConfigArgs(
  run: PatchRunSpec,
  preStepPath: string,
  postStepPath: string,
): gcp.types.input.osconfig.PatchDeploymentPatchConfig {
  return {
    apt: { type: run.aptType },
    rebootConfig: "DEFAULT",
    migInstancesAllowed: false,
    preStep: { linuxExecStepConfig: { localPath: preStepPath, interpreter: "SHELL" } },
    postStep: { linuxExecStepConfig: { localPath: postStepPath, interpreter: "SHELL" } },
  };
}

/** The `recurringSchedule` of a run: its weekday (or first weekday of the month) and time. */
export function recurringScheduleArgs(
  run: PatchRunSpec,
): gcp.types.input.osconfig.PatchDeploymentRecurringSchedule {
  return {
    timeZone: { id: run.timeZone },
    timeOfDay: { hours: run.hours, minutes: run.minutes, seconds: 0, nanos: 0 },
    ...(run.weekOrdinal === undefined
      ? { weekly: { dayOfWeek: run.dayOfWeek } }
      : {
          monthly: {
            weekDayOfMonth: { dayOfWeek: run.dayOfWeek, weekOrdinal: run.weekOrdinal },
          },
        }),
  };
}

export class Maintenance extends pulumi.ComponentResource {
  /** Ids of the patch deployments. */
  readonly patchDeploymentIds: string[];
  /** When each run starts, as operators read it (e.g. "weekly-security: SUNDAY 04:00 ..."). */
  readonly schedule: string[];

  constructor(name: string, args: MaintenanceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("guincho:maintenance:Maintenance", name, {}, opts);
    if (Object.keys(args.targetLabels).length === 0) {
      throw new pulumi.ResourceError(
        "Maintenance: targetLabels is empty, which would patch every VM of the project; " +
          'pass the app VM\'s labels, e.g. { app: "guincho-lacerda", stage: "prod" }.',
        this,
      );
    }
    const runs = patchRuns(args.window, args.timeZone);
    const pre = args.preStepPath ?? PRE_PATCH_STEP;
    const post = args.postStepPath ?? POST_PATCH_STEP;
    this.patchDeploymentIds = [];
    for (const run of runs) {
      const id = `${name}-${run.key}`;
      new gcp.osconfig.PatchDeployment(
        id,
        {
          project: args.project,
          patchDeploymentId: id,
          description: run.description,
          instanceFilter: {
            groupLabels: [{ labels: args.targetLabels }],
            ...(args.zones && args.zones.length > 0 ? { zones: args.zones } : {}),
          },
          patchConfig: patchConfigArgs(run, pre, post),
          duration: `${run.durationSeconds}s`,
          recurringSchedule: recurringScheduleArgs(run),
          rollout: { mode: "ZONE_BY_ZONE", disruptionBudget: { fixed: 1 } },
        },
        { parent: this, dependsOn: args.dependsOn ?? [] },
      );
      this.patchDeploymentIds.push(id);
    }
    const pad = (n: number) => String(n).padStart(2, "0");
    this.schedule = runs.map(
      (run) =>
        `${run.key}: ${run.weekOrdinal === undefined ? "every" : "first"} ${run.dayOfWeek} ` +
        `${pad(run.hours)}:${pad(run.minutes)} ${run.timeZone}, at most ` +
        `${run.durationSeconds / 60} minutes`,
    );
    this.registerOutputs({ patchDeploymentIds: this.patchDeploymentIds, schedule: this.schedule });
  }
}
