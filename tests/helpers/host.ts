/**
 * Runs the real host tools (Python 3.11 standard library, `host/bin/*`) from jest and
 * parses the JSON-lines events they print. No mocks: the tools touch real files.
 */
import { spawnSync, SpawnSyncOptions } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const repoRoot = path.resolve(__dirname, "..", "..");
export const hostBin = path.join(repoRoot, "host", "bin");

/** One JSON-lines event as printed by a host tool. */
export interface HostEvent {
  severity: string;
  event: string;
  [field: string]: unknown;
}

export interface ToolResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  events: HostEvent[];
}

/** Parses every stdout line that is a JSON object with an `event` field. */
export function parseEvents(stdout: string): HostEvent[] {
  const events: HostEvent[] = [];
  for (const line of stdout.split("\n")) {
    const trimmed = line.trim();
    if (!trimmed.startsWith("{")) {
      continue;
    }
    try {
      const value = JSON.parse(trimmed) as HostEvent;
      if (typeof value.event === "string") {
        events.push(value);
      }
    } catch {
      // Not an event line: tools may print plain text for humans too.
    }
  }
  return events;
}

/** Runs `host/bin/<tool>` with python3 and returns its exit status, output and events. */
export function runTool(tool: string, args: string[], options: SpawnSyncOptions = {}): ToolResult {
  const result = spawnSync("python3", [path.join(hostBin, tool), ...args], {
    encoding: "utf8",
    timeout: 120_000,
    ...options,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1", ...(options.env ?? {}) },
  });
  const stdout = String(result.stdout ?? "");
  return {
    status: result.status,
    signal: result.signal,
    stdout,
    stderr: String(result.stderr ?? ""),
    events: parseEvents(stdout),
  };
}

/** A fresh temporary directory, removed by the returned cleanup function. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `guincho-${prefix}-`));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
