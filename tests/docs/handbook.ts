/**
 * Reads the handbook for the docs tests: every Markdown page of docs/ and the README, their
 * relative links, their code (fenced blocks and inline spans), and each host tool's flags.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

export const repoRoot = path.resolve(__dirname, "..", "..");

/** Repository-relative paths of every handbook page: docs/**\/*.md and README.md. */
export function handbookPages(): string[] {
  const pages = fs.existsSync(path.join(repoRoot, "README.md")) ? ["README.md"] : [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(repoRoot, dir), { withFileTypes: true })) {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        walk(rel);
      } else if (entry.name.endsWith(".md")) {
        pages.push(rel);
      }
    }
  };
  walk("docs");
  return pages.sort();
}

export function read(page: string): string {
  return fs.readFileSync(path.join(repoRoot, page), "utf8");
}

/** The page without its fenced code blocks (links inside code are not links). */
function prose(text: string): string {
  return text.replace(/^[ \t]*```[\s\S]*?^[ \t]*```/gm, "");
}

/** Relative link targets of a page: `[text](target)` outside code, not http(s) or mailto. */
export function relativeLinks(text: string): string[] {
  const links: string[] = [];
  const outsideCode = prose(text).replace(/`[^`\n]*`/g, "");
  for (const match of outsideCode.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = match[1];
    if (!/^[a-z]+:/i.test(target)) {
      links.push(target);
    }
  }
  return links;
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
export function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, "")
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

/** The anchors a page offers (its headings outside code). */
export function anchors(text: string): Set<string> {
  const found = new Set<string>();
  for (const match of prose(text).matchAll(/^#{1,6} (.+)$/gm)) {
    found.add(anchorOf(match[1]));
  }
  return found;
}

/** The lines of a page's fenced code blocks; a trailing backslash continues the line. */
export function fencedSnippets(text: string): string[] {
  const snippets: string[] = [];
  for (const block of text.matchAll(/^[ \t]*```[^\n]*\n([\s\S]*?)^[ \t]*```/gm)) {
    snippets.push(...block[1].replace(/\s*\\\n\s*/g, " ").split("\n"));
  }
  return snippets.map((s) => s.trim()).filter((s) => s.length > 0);
}

/** The code of a page, one command per entry: fenced lines, then inline code spans. */
export function codeSnippets(text: string): string[] {
  const spans = [...prose(text).matchAll(/`([^`\n]+)`/g)].map((m) => m[1].trim());
  return [...fencedSnippets(text), ...spans.filter((s) => s.length > 0)];
}

/** A host tool named in a snippet, with the flags written after it (up to `|`, `;`, `#`). */
export interface ToolUse {
  tool: string;
  flags: string[];
}

export function toolUses(snippet: string): ToolUse[] {
  const uses: ToolUse[] = [];
  for (const match of snippet.matchAll(/(?:\/opt\/guincho\/)?host\/bin\/([a-z][a-z0-9-]*)/g)) {
    const rest = snippet.slice((match.index ?? 0) + match[0].length).split(/[|;#]|&&/)[0];
    const flags = [...rest.matchAll(/(?:^|\s)(--[a-z][a-z0-9-]*)/g)].map((m) => m[1]);
    uses.push({ tool: match[1], flags });
  }
  return uses;
}

// One Python process prints every tool's --help (a process per tool costs seconds).
const HELP_ALL = `
import contextlib, io, json, os, runpy, sys
out = {}
for path in sys.argv[1:]:
    buffer = io.StringIO()
    sys.argv = [path, "--help"]
    with contextlib.redirect_stdout(buffer):
        try:
            runpy.run_path(path, run_name="__main__")
        except SystemExit:
            pass
    out[os.path.basename(path)] = buffer.getvalue()
print(json.dumps(out))
`;

let helpTexts: Record<string, string> | undefined;

/** The flags a host tool's `--help` lists. */
export function helpFlags(tool: string): Set<string> {
  if (!helpTexts) {
    const bin = path.join(repoRoot, "host", "bin");
    // Files only: running a tool leaves a __pycache__ directory beside them.
    const tools = fs
      .readdirSync(bin, { withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => path.join(bin, entry.name));
    const result = spawnSync("python3", ["-c", HELP_ALL, ...tools], {
      encoding: "utf8",
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
    });
    if (result.status !== 0) {
      throw new Error(`printing the host tools' --help failed: ${result.stderr}`);
    }
    helpTexts = JSON.parse(result.stdout) as Record<string, string>;
  }
  const text = helpTexts[tool];
  if (text === undefined) {
    throw new Error(`host/bin/${tool}: no such tool`);
  }
  return new Set([...text.matchAll(/--[a-z][a-z0-9-]*/g)].map((m) => m[0]));
}

/**
 * The guincho systemd units a `systemctl` or `journalctl` command names, without wildcards
 * or placeholders (`guincho-app@*`, `guincho-<routine>` are left out).
 */
export function unitNames(snippet: string): string[] {
  if (!/\b(systemctl|journalctl)\b/.test(snippet)) {
    return [];
  }
  return [...snippet.matchAll(/(?<![\w.-])guincho-[a-z0-9@.*<>-]*[a-z0-9*>]/g)]
    .map((m) => m[0])
    .filter((name) => !/[*<>]/.test(name));
}

/** Whether a unit name is installed by this repository: a unit file, a template or a timer. */
export function unitExists(name: string, timers: readonly string[]): boolean {
  const base = name.replace(/\.(service|timer)$/, "");
  const dir = path.join(repoRoot, "host", "systemd");
  if (base.includes("@")) {
    return fs.existsSync(path.join(dir, `${base.split("@")[0]}@.service`));
  }
  return fs.existsSync(path.join(dir, `${base}.service`)) || timers.includes(`${base}.timer`);
}
