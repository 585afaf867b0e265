"""The sample app's HTTP service: tows list and create, /healthz, a Sheets sync stand-in.

Listens on 127.0.0.1:$PORT (nginx is in front). On SIGTERM it stops accepting, closes idle
keep-alive connections, lets every request in flight finish, then exits 0: deploy stops the
old colour only after nginx has drained it, so nothing is cut.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import socket
import sqlite3
import threading
import time
from contextlib import closing
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from guincho_sample.db import connect, database_path, log, schema_version

REQUIRED_SCHEMA = 1
MAX_BODY_BYTES = 64 * 1024
RELEASE_ID = os.environ.get("GUINCHO_RELEASE_ID", "dev")


class AppServer(ThreadingHTTPServer):
    """Keeps its connections so a shutdown can close the idle ones and wait for the busy ones."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], fail_health: bool) -> None:
        super().__init__(address, Handler)
        self.fail_health = fail_health
        self.draining = False
        self.handlers: set["Handler"] = set()
        self.handlers_lock = threading.Lock()

    def close_idle(self) -> int:
        with self.handlers_lock:
            idle = [handler for handler in self.handlers if handler.idle]
        for handler in idle:
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return len(idle)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; without TCP_NODELAY the second waits ~40 ms for
    # the first one's delayed ACK.
    disable_nagle_algorithm = True
    # Longer than nginx's upstream keepalive_timeout, so nginx always closes first.
    timeout = 120
    server: AppServer

    def setup(self) -> None:
        super().setup()
        self.idle = True
        with self.server.handlers_lock:
            self.server.handlers.add(self)

    def finish(self) -> None:
        with self.server.handlers_lock:
            self.server.handlers.discard(self)
        super().finish()

    def parse_request(self) -> bool:
        self.idle = False
        return super().parse_request()

    def handle_one_request(self) -> None:
        super().handle_one_request()
        self.idle = True
        if self.server.draining:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        # Access logs come from nginx; the app logs events only.
        pass

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self.healthz()
        elif self.path == "/tows":
            with closing(connect()) as db:
                rows = db.execute("SELECT * FROM tows ORDER BY id DESC LIMIT 100").fetchall()
            self.send_json(HTTPStatus.OK, {"tows": [dict(row) for row in rows]})
        elif self.path == "/version":
            self.send_json(HTTPStatus.OK, {"release": RELEASE_ID})
        else:
            self.send_json(HTTPStatus.NOT_FOUND, {"error": f"no route for GET {self.path}"})

    def do_POST(self) -> None:
        if self.path == "/tows":
            self.create_tow()
        elif self.path == "/sync":
            self.sync()
        else:
            self.send_json(HTTPStatus.NOT_FOUND, {"error": f"no route for POST {self.path}"})

    def healthz(self) -> None:
        if self.server.fail_health:
            self.send_json(HTTPStatus.SERVICE_UNAVAILABLE, {"status": "failing on purpose"})
            return
        try:
            with closing(connect()) as db:
                schema = schema_version(db)
        except sqlite3.Error as error:
            self.send_json(HTTPStatus.SERVICE_UNAVAILABLE, {"status": f"database: {error}"})
            return
        status = HTTPStatus.OK if schema >= REQUIRED_SCHEMA else HTTPStatus.SERVICE_UNAVAILABLE
        body = {"status": "ok" if status == HTTPStatus.OK else "schema too old"}
        self.send_json(status, {**body, "release": RELEASE_ID, "schema": schema})

    def create_tow(self) -> None:
        payload = self.read_json()
        if payload is None:
            return
        plate, location = payload.get("plate"), payload.get("location")
        if not isinstance(plate, str) or not isinstance(location, str) or not plate or not location:
            self.send_json(HTTPStatus.BAD_REQUEST, {"error": "plate and location are required"})
            return
        with closing(connect()) as db:
            cursor = db.execute(
                "INSERT INTO tows (plate, location) VALUES (?, ?)", (plate[:20], location[:200])
            )
        self.send_json(HTTPStatus.CREATED, {"id": cursor.lastrowid, "plate": plate})

    def sync(self) -> None:
        # NOTE: a stand-in for the Google Sheets sync: the real app appends these rows to the
        # spreadsheet with the VM's service account; here they go to a CSV beside the database.
        started = time.monotonic()
        target = Path(database_path()).parent / "sheets-export.csv"
        try:
            with closing(connect()) as db:
                rows = db.execute("SELECT id, plate, location, created_at FROM tows").fetchall()
            with open(target, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["id", "plate", "location", "created_at"])
                writer.writerows(tuple(row) for row in rows)
        except (OSError, sqlite3.Error) as error:
            log("sync_failed", "ERROR", error=str(error), destination=str(target))
            self.send_json(HTTPStatus.BAD_GATEWAY, {"error": str(error)})
            return
        seconds = round(time.monotonic() - started, 3)
        log("sync_completed", rows=len(rows), seconds=seconds, destination=str(target))
        self.send_json(HTTPStatus.OK, {"rows": len(rows)})

    def read_json(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.send_json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body too large"})
            return None
        try:
            value = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self.send_json(HTTPStatus.BAD_REQUEST, {"error": "body is not JSON"})
            return None
        if not isinstance(value, dict):
            self.send_json(HTTPStatus.BAD_REQUEST, {"error": "body must be a JSON object"})
            return None
        return value

    def send_json(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.server.draining:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fail-health", action="store_true", help="drill: /healthz answers 503")
    args = parser.parse_args()
    port = int(os.environ.get("PORT", "8000"))
    with closing(connect()) as db:
        schema = schema_version(db)
    server = AppServer((os.environ.get("HOST", "127.0.0.1"), port), args.fail_health)

    def stop(signum: int, _frame: object) -> None:
        log("app_stopping", signal=signal.Signals(signum).name, release=RELEASE_ID)
        server.draining = True
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log("app_started", port=port, release=RELEASE_ID, schema=schema, pid=os.getpid())
    server.serve_forever(poll_interval=0.05)
    closed = server.close_idle()
    server.server_close()
    log("app_stopped", release=RELEASE_ID, idle_connections_closed=closed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
