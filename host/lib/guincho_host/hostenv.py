"""The host's env file: one source of the defaults every host tool reads.

The systemd units get ``/etc/guincho/host.env`` (rendered by the bootstrap) as their
environment. A tool run by hand with ``sudo``, or by the release component over SSH, gets a
cleared environment instead; reading the file fills the gaps, so the defaults are the same.
"""

from __future__ import annotations

import os
from pathlib import Path

from guincho_host.services import parse_env_file


def load_host_env() -> None:
    """Fills unset ``GUINCHO_*`` variables from the host's env file.

    Variables already set win. ``GUINCHO_HOST_ENV`` names another file (tests point it
    elsewhere).
    """
    path = Path(os.environ.get("GUINCHO_HOST_ENV") or "/etc/guincho/host.env")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return
    for key, value in parse_env_file(text).items():
        if key.startswith("GUINCHO_") and key not in os.environ:
            os.environ[key] = value
