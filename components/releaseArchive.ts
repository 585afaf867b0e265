/**
 * Release archives as the host's deploy tool reads them: a gzipped tar with `release.json`
 * at its root (the app contract). A directory is packed reproducibly (sorted, dated 0, owned
 * by root), so the same sources give the same bytes and the same sha256, the name under
 * which the archive is uploaded.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { gunzipSync, gzipSync } from "zlib";

const BLOCK = 512;
export const MANIFEST = "release.json";

/** What the release component needs to know about an archive. */
export interface ReleaseArchive {
  bytes: Buffer;
  sha256: string;
  /** The `release.json` it carries. */
  manifest: { version: string; [field: string]: unknown };
}

/** Raised for an archive or directory that does not honour the app contract. */
export class ReleaseArchiveError extends Error {}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

function header(name: string, size: number, mode: number): Buffer {
  const block = Buffer.alloc(BLOCK, 0);
  let prefix = "";
  let base = name;
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf("/", 154);
    prefix = name.slice(0, cut);
    base = name.slice(cut + 1);
    if (cut < 0 || Buffer.byteLength(base) > 100 || Buffer.byteLength(prefix) > 155) {
      throw new ReleaseArchiveError(`path too long for a release archive: ${name}`);
    }
  }
  block.write(base, 0, 100, "utf8");
  block.write(octal(mode, 8), 100, "ascii");
  block.write(octal(0, 8), 108, "ascii");
  block.write(octal(0, 8), 116, "ascii");
  block.write(octal(size, 12), 124, "ascii");
  block.write(octal(0, 12), 136, "ascii");
  block.write("        ", 148, "ascii");
  block.write("0", 156, "ascii");
  block.write("ustar\0" + "00", 257, "ascii");
  block.write("root", 265, "ascii");
  block.write("root", 297, "ascii");
  block.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const byte of block) {
    sum += byte;
  }
  block.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "ascii");
  return block;
}

function entry(name: string, data: Buffer, mode: number): Buffer[] {
  const padding = (BLOCK - (data.length % BLOCK)) % BLOCK;
  return [header(name, data.length, mode), data, Buffer.alloc(padding, 0)];
}

function listFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (relative: string) => {
    for (const item of fs.readdirSync(path.join(dir, relative), { withFileTypes: true })) {
      const child = relative ? `${relative}/${item.name}` : item.name;
      if (item.name === "__pycache__" || item.name.endsWith(".pyc")) {
        continue;
      }
      if (item.isDirectory()) {
        walk(child);
      } else if (item.isFile()) {
        found.push(child);
      }
    }
  };
  walk("");
  return found.sort();
}

/**
 * Packs an app directory into a release archive. `version`, when given, replaces the
 * version in the directory's `release.json`.
 */
export function packDirectory(dir: string, version?: string): ReleaseArchive {
  const manifestPath = path.join(dir, MANIFEST);
  if (!fs.existsSync(manifestPath)) {
    throw new ReleaseArchiveError(
      `${dir}: no ${MANIFEST} at the top; an app directory needs one (see docs/releases.md)`,
    );
  }
  const manifest = parseManifest(fs.readFileSync(manifestPath, "utf8"), manifestPath);
  if (version !== undefined) {
    manifest.version = version;
  }
  const parts: Buffer[] = entry(
    MANIFEST,
    Buffer.from(JSON.stringify(manifest, null, 2) + "\n"),
    0o644,
  );
  for (const file of listFiles(dir).filter((f) => f !== MANIFEST)) {
    const full = path.join(dir, file);
    const mode = fs.statSync(full).mode & 0o111 ? 0o755 : 0o644;
    parts.push(...entry(file, fs.readFileSync(full), mode));
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  // NOTE: zlib writes a fixed gzip header (no name, mtime 0), so the bytes are reproducible.
  const bytes = gzipSync(Buffer.concat(parts), { level: 9 });
  return { bytes, sha256: sha256Of(bytes), manifest };
}

function parseManifest(text: string, where: string): ReleaseArchive["manifest"] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ReleaseArchiveError(`${where}: not valid JSON: ${(e as Error).message}`);
  }
  const version = (data as { version?: unknown } | null)?.version;
  if (typeof version !== "string" || version.length === 0) {
    throw new ReleaseArchiveError(
      `${where}: "version" must be a non-empty string, received ${JSON.stringify(version)}`,
    );
  }
  return data as ReleaseArchive["manifest"];
}

/** Reads a built `.tar.gz` release and the `release.json` inside it. */
export function readArchive(file: string): ReleaseArchive {
  const bytes = fs.readFileSync(file);
  let tar: Buffer;
  try {
    tar = gunzipSync(bytes);
  } catch {
    throw new ReleaseArchiveError(`${file}: not a gzip file; expected a release .tar.gz`);
  }
  let pendingName: string | undefined;
  for (let offset = 0; offset + BLOCK <= tar.length;) {
    const block = tar.subarray(offset, offset + BLOCK);
    if (block.every((b) => b === 0)) {
      break;
    }
    const size = parseInt(block.toString("ascii", 124, 136).replace(/\0.*$/, "").trim(), 8) || 0;
    const type = block.toString("ascii", 156, 157);
    const prefix = block.toString("utf8", 345, 500).replace(/\0.*$/s, "");
    const base = block.toString("utf8", 0, 100).replace(/\0.*$/s, "");
    const data = tar.subarray(offset + BLOCK, offset + BLOCK + size);
    offset += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    if (type === "x") {
      // A pax header (Python writes them): its "path" record names the next entry.
      pendingName = /\d+ path=([^\n]*)\n/.exec(data.toString("utf8"))?.[1];
      continue;
    }
    const name = (pendingName ?? (prefix ? `${prefix}/${base}` : base)).replace(/^\.\//, "");
    pendingName = undefined;
    if (name === MANIFEST) {
      return { bytes, sha256: sha256Of(bytes), manifest: parseManifest(data.toString(), file) };
    }
  }
  throw new ReleaseArchiveError(`${file}: no ${MANIFEST} at the archive's root (app contract)`);
}

/** A release from config: a `.tar.gz` file as built, or an app directory packed here. */
export function loadRelease(source: string, version?: string): ReleaseArchive {
  if (!fs.existsSync(source)) {
    throw new ReleaseArchiveError(`${source}: no such file or directory`);
  }
  if (fs.statSync(source).isDirectory()) {
    return packDirectory(source, version);
  }
  if (!source.endsWith(".tar.gz") && !source.endsWith(".tgz")) {
    throw new ReleaseArchiveError(`${source}: expected an app directory or a .tar.gz archive`);
  }
  const archive = readArchive(source);
  if (version !== undefined && archive.manifest.version !== version) {
    throw new ReleaseArchiveError(
      `${source}: its release.json says version ${JSON.stringify(archive.manifest.version)}, ` +
        `config says ${JSON.stringify(version)}; rebuild the archive or fix guincho:release.version`,
    );
  }
  return archive;
}

export function sha256Of(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}
