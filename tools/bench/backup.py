#!/usr/bin/env python3
"""Benchmark of host/bin/backup and host/bin/restore on a 1 GiB database (`npm run bench:backup`).

In one run, on the same file and the same disk:

1. quiet database: the copy step of ``backup`` (``sqlite_copy.snapshot``: the online backup
   API in one step, no compression) against ``sqlite3 SRC ".backup DST"`` (100 pages a step),
   median of five rounds in alternating order, and the ratio; then the whole ``backup`` tool
   (copy + integrity check + gzip + upload to file://) for the full price;
2. a writer process committing one row every 10 ms: the whole ``backup`` tool, and the
   writer's longest stall while it runs; then ``sqlite3 .backup`` under the same writer,
   stopped at a time limit;
3. ``restore --yes`` of that backup over a live file (download, sha256, gunzip, integrity
   check, schema hash, swap) and ``restore --drill``.

Every copy, backup and restore runs at the backup unit's priority (nice 10, best-effort I/O
class, level 7), the writer at the app's. Peak memory is each child's maximum resident set
(``/usr/bin/time -f %M``). The database is
built once and cached in ``.bench/backup/`` (git-ignored). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HOST_BIN = REPO / "host" / "bin"
HOST_LIB = REPO / "host" / "lib"
WORK = REPO / ".bench" / "backup"
GIB = 1024**3
WRITER_INTERVAL = 0.010
# What host/systemd/guincho-backup@.service gives the backup: below the app, not idle.
UNIT_PRIORITY = ["nice", "-n", "10", "ionice", "-c", "2", "-n", "7"]
WORDS = (
    "tow truck customer invoice plate highway kilometre battery tyre accident insurance "
    "driver dispatch garage payment pending paid cancelled winch flatbed motorway lisbon "
    "porto coimbra braga faro setubal evora viseu leiria aveiro night weekend urgent "
    "contact phone address notes damage photo receipt vat total euro"
).split()


@dataclass
class Run:
    """One child process: wall seconds, peak resident memory, exit status, stdout."""

    seconds: float
    peak_mib: float
    status: int | None
    stdout: str


def timed(command: list[str], limit: float | None = None, env: dict | None = None) -> Run:
    """Runs ``command`` under /usr/bin/time; past ``limit`` seconds it is killed (status None).

    ``timeout`` sits between the two so /usr/bin/time still reports the killed child's memory.
    """
    report = WORK / "time.txt"
    report.unlink(missing_ok=True)
    guard = ["timeout", "--signal=KILL", f"{limit:g}"] if limit is not None else []
    wrapped = ["/usr/bin/time", "-f", "%M", "-o", str(report), *guard, *UNIT_PRIORITY, *command]
    started = time.monotonic()
    result = subprocess.run(wrapped, capture_output=True, text=True, env=env)
    seconds = time.monotonic() - started
    lines = [line for line in report.read_text().splitlines() if line.strip().isdigit()]
    peak = int(lines[-1]) / 1024 if lines else 0.0
    killed = limit is not None and result.returncode in (124, 137)
    return Run(seconds, peak, None if killed else result.returncode, result.stdout)


def events(stdout: str) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for line in stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            found[record["event"]] = record
    return found


def build_database(path: Path, size: int) -> None:
    """About ``size`` bytes of tow records with ~1.8 KB notes, WAL mode, built in one go."""
    marker = path.with_suffix(".built")
    if path.exists() and marker.exists() and marker.read_text() == str(size):
        return
    for stale in (path, marker, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    started = time.monotonic()
    rng = random.Random(7)
    pool = [" ".join(rng.choices(WORDS, k=300))[:1800] for _ in range(4096)]
    rows = size // 1950
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=OFF")
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute(
        "CREATE TABLE tows (id INTEGER PRIMARY KEY, plate TEXT NOT NULL, customer TEXT, "
        "amount_cents INTEGER, note TEXT)"
    )
    connection.execute("CREATE TABLE writes (id INTEGER PRIMARY KEY, at REAL)")
    connection.executemany(
        "INSERT INTO tows (plate, customer, amount_cents, note) VALUES (?, ?, ?, ?)",
        (
            (f"{i % 100:02d}-{rng.choice(WORDS)[:2].upper()}-{i % 97:02d}", f"c{i % 50000}",
             rng.randrange(5000, 90000), pool[rng.randrange(len(pool))])
            for i in range(rows)
        ),
    )
    connection.commit()
    connection.execute("PRAGMA journal_mode=WAL")
    connection.close()
    marker.write_text(str(size))
    print(f"built {path} ({path.stat().st_size / GIB:.2f} GiB) in "
          f"{time.monotonic() - started:.1f} s", file=sys.stderr)


def writer_main(database: str, report: str) -> None:
    """Commits one row every 10 ms until SIGTERM; writes its commit latencies to ``report``."""
    stop = False

    def on_term(_signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    connection = sqlite3.connect(database, timeout=30, isolation_level=None)
    connection.execute("PRAGMA synchronous=NORMAL")
    commits: list[tuple[float, float]] = []
    next_at = time.monotonic()
    while not stop:
        began = time.monotonic()
        connection.execute("INSERT INTO writes (at) VALUES (?)", (time.time(),))
        commits.append((time.time(), time.monotonic() - began))
        next_at += WRITER_INTERVAL
        time.sleep(max(0.0, next_at - time.monotonic()))
    connection.close()
    Path(report).write_text(json.dumps(commits))


class Writer:
    """The writer as a real second process; :meth:`stop` returns its commit log."""

    def __init__(self, database: Path) -> None:
        self.report = WORK / "writer.json"
        self.report.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--writer", str(database), str(self.report)]
        )
        time.sleep(1.0)

    def stop(self) -> list[tuple[float, float]]:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        return [tuple(item) for item in json.loads(self.report.read_text())]


def longest_stall_ms(commits: list[tuple[float, float]], start: float, end: float) -> float:
    """The writer's longest stall in the window: its slowest commit, or its longest wait
    between two commits beyond the 10 ms it meant to wait, whichever is longer."""
    inside = [(at, latency) for at, latency in commits if start <= at <= end]
    if not inside:
        return float("nan")
    slowest = max(latency for _, latency in inside)
    gaps = [b[0] - a[0] - WRITER_INTERVAL for a, b in zip(inside, inside[1:])]
    return round(max([slowest, *gaps]) * 1000, 1)


def fresh(path: Path) -> Path:
    for item in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        item.unlink(missing_ok=True)
    return path


def sqlite_cli_backup(source: Path, target: Path, timeout: float | None = None) -> Run:
    return timed(["sqlite3", str(source), f".backup '{fresh(target)}'"], limit=timeout)


def snapshot_step(source: Path, target: Path) -> Run:
    code = (
        f"import sys; sys.path.insert(0, {str(HOST_LIB)!r}); "
        "import time; from pathlib import Path; from guincho_host.sqlite_copy import snapshot; "
        "began = time.monotonic(); "
        f"snapshot(Path({str(source)!r}), Path({str(fresh(target))!r}), durable=True); "
        "print(time.monotonic() - began)"
    )
    run = timed([sys.executable, "-c", code])
    # The copy itself, as the tool's backup_copied event times it: no interpreter start-up.
    run.seconds = float(run.stdout.strip() or "nan")
    return run


def backup_tool(source: Path, dest: Path, env: dict) -> Run:
    return timed(
        [sys.executable, str(HOST_BIN / "backup"), "--database", str(source), "--destination",
         f"file://{dest}", "--kind", "daily", "--keep-local", "0", "--local-dir",
         str(WORK / "local")],
        env=env,
    )


def require_ok(run: Run, what: str) -> dict[str, dict]:
    found = events(run.stdout)
    if run.status != 0:
        raise SystemExit(f"{what} failed (status {run.status}): {run.stdout[-2000:]}")
    return found


def row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gib", type=float, default=1.0, help="database size (default 1)")
    parser.add_argument("--rounds", type=int, default=5, help="quiet copy rounds (default 5)")
    parser.add_argument("--writer", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.writer:
        writer_main(*args.writer)
        return 0
    if shutil.which("sqlite3") is None:
        raise SystemExit("bench:backup needs the sqlite3 command (apt-get install sqlite3)")
    WORK.mkdir(parents=True, exist_ok=True)
    source = WORK / "bench.sqlite3"
    build_database(source, int(args.size_gib * GIB))
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "GUINCHO_SERVICE_CONTROL": "process",
           "GUINCHO_RUN_DIR": str(WORK / "run"), "GUINCHO_DATA_DIR": str(WORK / "data")}
    copy = WORK / "copy.sqlite3"
    size_gib = source.stat().st_size / GIB
    load = os.getloadavg()[0]
    lines = [
        f"Database: {size_gib:.2f} GiB, {os.cpu_count()} cores (load average {load:.1f} at "
        f"the start), SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}.",
        "",
        row(["case", "what is timed", "seconds", "peak MiB", "result"]),
        row(["---", "---", "---:", "---:", "---"]),
    ]

    cli_times, step_times, cli_peak, step_peak = [], [], 0.0, 0.0
    for round_number in range(args.rounds):
        # Alternate which goes first, so neither always meets the other's disk writeback.
        if round_number % 2 == 0:
            cli = sqlite_cli_backup(source, copy)
            step = snapshot_step(source, copy)
        else:
            step = snapshot_step(source, copy)
            cli = sqlite_cli_backup(source, copy)
        if cli.status != 0 or step.status != 0:
            raise SystemExit("a quiet copy failed")
        cli_times.append(cli.seconds)
        step_times.append(step.seconds)
        cli_peak, step_peak = max(cli_peak, cli.peak_mib), max(step_peak, step.peak_mib)
    fresh(copy)
    cli_median, step_median = statistics.median(cli_times), statistics.median(step_times)
    ratio = step_median / cli_median
    lines += [
        row(["quiet", f"`sqlite3 .backup` (100 pages/step), median of {args.rounds}",
             f"{cli_median:.2f}", f"{cli_peak:.0f}", "baseline"]),
        row(["quiet", "backup copy step (one-step backup API, plus an fsync as sqlite3 does; "
             f"no gzip; timed in-process), median of {args.rounds}",
             f"{step_median:.2f}", f"{step_peak:.0f}",
             f"ratio {ratio:.2f} ({'<=' if ratio <= 1.3 else '>'} 1.3)"]),
    ]

    dest = WORK / "dest"
    shutil.rmtree(dest, ignore_errors=True)
    quiet = backup_tool(source, dest, env)
    found = require_ok(quiet, "quiet backup")
    done = found["backup_completed"]
    lines.append(row([
        "quiet", "whole `backup` tool: copy + integrity_check + gzip -1 + upload (file://)",
        f"{quiet.seconds:.2f}", f"{quiet.peak_mib:.0f}",
        f"copy {found['backup_copied']['seconds']:.1f} s, check "
        f"{found['backup_checked']['seconds']:.1f} s, gzip "
        f"{found['backup_compressed']['seconds']:.1f} s; "
        f"{done['compressed_bytes'] / GIB:.2f} GiB stored",
    ]))

    writer = Writer(source)
    started = time.time()
    busy = backup_tool(source, WORK / "dest-busy", env)
    ended = time.time()
    commits = writer.stop()
    busy_found = require_ok(busy, "backup under the writer")
    stall = longest_stall_ms(commits, started, ended)
    during = sum(1 for at, _ in commits if started <= at <= ended)
    lines.append(row([
        "writer every 10 ms", "whole `backup` tool", f"{busy.seconds:.2f}",
        f"{busy.peak_mib:.0f}",
        f"finished (copy {busy_found['backup_copied']['seconds']:.1f} s); writer committed "
        f"{during} rows meanwhile, longest stall {stall} ms "
        f"({'<=' if stall <= 200 else '>'} 200 ms)",
    ]))

    limit = max(30.0, 10 * cli_median)
    writer = Writer(source)
    started = time.time()
    stepped = sqlite_cli_backup(source, copy, timeout=limit)
    ended = time.time()
    commits = writer.stop()
    fresh(copy)
    outcome = "finished" if stepped.status == 0 else f"did NOT finish within {limit:.0f} s"
    lines.append(row([
        "writer every 10 ms", "`sqlite3 .backup`", f"{stepped.seconds:.2f}",
        f"{stepped.peak_mib:.0f}",
        f"{outcome} (restarts on every commit); writer longest stall "
        f"{longest_stall_ms(commits, started, ended)} ms",
    ]))

    live = WORK / "live" / "guincho.sqlite3"
    live.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(live.parent)
    live.parent.mkdir()
    shutil.copyfile(source, live)
    restored = timed(
        [sys.executable, str(HOST_BIN / "restore"), "--database", str(live), "--source",
         f"file://{dest}", "--yes"],
        env=env,
    )
    restore_found = require_ok(restored, "restore")
    lines.append(row([
        "restore", "`restore --yes`: fetch + sha256 + gunzip + integrity_check + schema + swap",
        f"{restored.seconds:.2f}", f"{restored.peak_mib:.0f}",
        f"{'<=' if restored.seconds <= 60 else '>'} 60 s; verified in "
        f"{restore_found['restore_verified']['seconds']:.1f} s",
    ]))
    shutil.rmtree(live.parent)
    drill = timed(
        [sys.executable, str(HOST_BIN / "restore"), "--database", str(live), "--source",
         f"file://{dest}", "--drill", "--scratch-dir", str(WORK / "drill")],
        env=env,
    )
    drill_found = require_ok(drill, "drill")
    lines.append(row([
        "restore", "`restore --drill` (same checks, plus opening it as the app does)",
        f"{drill.seconds:.2f}", f"{drill.peak_mib:.0f}",
        f"{drill_found['restore_drill_ok']['rows']} rows read back",
    ]))
    for leftover in ("dest", "dest-busy", "local", "drill", "data", "run"):
        shutil.rmtree(WORK / leftover, ignore_errors=True)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
